"""Pushes: the pre-receive hook, its relay to the server process, the
rules a ref update must follow, and the admission decision.
"""
