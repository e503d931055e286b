"""Bare repositories on disk: the store, ref resolution, versions, commit
history and lifecycle state (yank, deprecate, delete).
"""
