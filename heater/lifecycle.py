"""A repository's lifecycle state: yanked versions, deprecation, deletion.

The state is versioned in git like everything else, on the hidden ref
:data:`LIFECYCLE_REF` (hidden from clones and refused to pushes by the git
config in :mod:`heater.gitcmd`): a history of commits whose tree holds one
``state.json``. Each change is a new commit whose author is who made it and
whose message says why, so ``git log`` of that ref is the audit trail.

``state.json``::

    {"yanked":     {"1.2.0": {"reason": "...", "by": "...", "at": "..."}},
     "deprecated": {"message": "...", "replacement": "ns/name" | null,
                    "by": "...", "at": "..."} | null,
     "deleted":    {"reason": "...", "by": "...", "at": "..."} | null}

Keys of ``yanked`` are versions in canonical form (``str(Version)``, no ``v``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pygit2

LIFECYCLE_REF = "refs/heater/lifecycle"
STATE_FILE = "state.json"


@dataclass
class LifecycleState:
    yanked: dict[str, dict[str, Any]] = field(default_factory=dict)
    deprecated: dict[str, Any] | None = None
    deleted: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"yanked": self.yanked, "deprecated": self.deprecated, "deleted": self.deleted}

    @classmethod
    def from_json(cls, data: Any) -> LifecycleState:
        if not isinstance(data, dict):
            return cls()
        yanked = data.get("yanked")
        deprecated = data.get("deprecated")
        deleted = data.get("deleted")
        return cls(
            yanked={str(k): v for k, v in yanked.items() if isinstance(v, dict)}
            if isinstance(yanked, dict) else {},
            deprecated=deprecated if isinstance(deprecated, dict) else None,
            deleted=deleted if isinstance(deleted, dict) else None,
        )


def read_state(git: pygit2.Repository) -> LifecycleState:
    """The current state; the empty state if nothing was ever recorded."""
    reference = git.references.get(LIFECYCLE_REF)
    if reference is None:
        return LifecycleState()
    commit = git.get(reference.target)
    if not isinstance(commit, pygit2.Commit):
        return LifecycleState()
    try:
        blob = commit.tree[STATE_FILE]
    except KeyError:
        return LifecycleState()
    if not isinstance(blob, pygit2.Blob):
        return LifecycleState()
    try:
        return LifecycleState.from_json(json.loads(blob.data))
    except ValueError:
        return LifecycleState()
