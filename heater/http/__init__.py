"""The HTTP layer: the Flask application, the JSON API, raw files for Heat
and the smart-HTTP git endpoint; no business rules live here.
"""
