"""The JSON API under /api/v1: one blueprint per resource, each handler
parsing, calling one service method and serialising.
"""
