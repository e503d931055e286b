"""Bare repositories on disk: the store, ref resolution, versions, commit
history, lifecycle state (yank, deprecate, delete), one request's view.
"""
