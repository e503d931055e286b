"""Who the caller is and what it may do: API tokens, roles and the
access policy every interface applies.
"""
