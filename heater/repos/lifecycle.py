"""A repository's lifecycle state: yanked versions, deprecation, deletion.

The state is versioned in git like everything else, on the hidden ref
:data:`LIFECYCLE_REF` (hidden from clones and refused to pushes by the git
config in :mod:`heater.git.command`): a history of commits whose tree holds one
``state.json``. Each change is a new commit whose author is who made it and
whose message says why, so ``git log`` of that ref is the audit trail.

``state.json``::

    {"yanked":     {"1.2.0": {"reason": "...", "by": "...", "at": "..."}},
     "deprecated": {"reason": "...", "replacement": "ns/name" | null,
                    "by": "...", "at": "..."} | null,
     "deleted":    {"reason": "...", "by": "...", "at": "..."} | null}

Keys of ``yanked`` are versions in canonical form (``str(Version)``, no ``v``);
``by`` is a token's name. A deprecation recorded before 1.0 says
``message`` for ``reason``. The API shows records as :func:`event` makes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from heater.clock import to_utc, utc_iso
from heater.errors import Conflict
from heater.git.command import GitFailed, run_git
from heater.git.identity import actor, signature
from heater.git.objects import ZERO_OID
from heater.names import RepoId

LIFECYCLE_REF = "refs/heater/lifecycle"
STATE_FILE = "state.json"
# Concurrent writers retry on a lost compare-and-swap; a handful of rounds
# is plenty for people clicking buttons.
MAX_ATTEMPTS = 8


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


# Whether the caller may read the repository named ``<namespace>/<name>``.
Visible = Callable[[str], bool]
REPLACED_BY = "Replaced by "


def event(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored yank or deletion as the API shows a lifecycle state
    (``Lifecycle``): ``{"reason", "at", "by": Actor}``, or None."""
    if record is None:
        return None
    reason = record.get("reason", record.get("message"))
    at = record.get("at")
    return {"reason": reason if isinstance(reason, str) else None,
            "at": to_utc(at) if isinstance(at, str) else None,
            "by": actor(str(record.get("by")))}


def deprecation(record: dict[str, Any] | None, visible: Visible) -> dict[str, Any] | None:
    """A stored deprecation as shown to a caller (``Deprecation``): a
    replacement the caller cannot read (since made private, deleted, or
    never readable) is null."""
    shown = event(record)
    if shown is None or record is None:
        return None
    replacement = record.get("replacement")
    shown["replacement"] = (RepoId.parse(replacement).as_json()
                            if isinstance(replacement, str) and visible(replacement) else None)
    return shown


def state_json(state: LifecycleState, visible: Visible) -> dict[str, Any]:
    """A repository's lifecycle state as a caller sees it (``LifecycleState``)."""
    return {"deprecated": deprecation(state.deprecated, visible),
            "deleted": event(state.deleted),
            "yanked_versions": {version: event(record)
                                for version, record in state.yanked.items()}}


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


class LifecycleBusy(Conflict):
    """Others kept changing the state while we tried to record a change."""

    code = "lifecycle_busy"


# Given the current state, change it in place and return the commit message,
# or raise (a domain error) to record nothing.
Change = Callable[[LifecycleState], str]


def write_state(git: pygit2.Repository, change: Change, who: str) -> LifecycleState:
    """Apply ``change`` to the current state and record the result as a new
    commit on :data:`LIFECYCLE_REF` authored by ``who``; returns the new state.

    The ref moves by compare-and-swap (``git update-ref <new> <old>``, under
    git's ref lock), so two writers never lose each other's update: the one
    that loses re-reads the state and applies its change again.
    """
    for _ in range(MAX_ATTEMPTS):
        reference = git.references.get(LIFECYCLE_REF)
        parent = reference.target if reference is not None else None
        state = read_state(git)
        message = change(state)
        blob = git.create_blob(json.dumps(state.as_json(), indent=2, sort_keys=True) + "\n")
        builder = git.TreeBuilder()
        builder.insert(STATE_FILE, blob, pygit2.enums.FileMode.BLOB)
        author = signature(who)
        commit = git.create_commit(None, author, author, message, builder.write(),
                                   [parent] if parent is not None else [])
        try:
            run_git(Path(git.path), ["update-ref", "-m", message.splitlines()[0],
                                     LIFECYCLE_REF, str(commit),
                                     str(parent) if parent is not None else ZERO_OID])
        except GitFailed:
            continue  # someone else moved it first: start again from theirs
        return state
    raise LifecycleBusy("the lifecycle state changed too often while recording; try again")


def history(git: pygit2.Repository, visible: Visible,
            limit: int = 100) -> list[dict[str, Any]]:
    """The recorded changes, newest first: who, when and what (the audit
    trail), naming only replacements the caller can read (``visible``)."""
    reference = git.references.get(LIFECYCLE_REF)
    if reference is None:
        return []
    found: list[dict[str, Any]] = []
    for commit in git.walk(reference.target, pygit2.enums.SortMode.TOPOLOGICAL):
        if len(found) >= limit:
            break
        when = utc_iso(commit.author.time)
        lines = [line for line in commit.message.strip().splitlines()
                 if not (line.startswith(REPLACED_BY) and not visible(line[len(REPLACED_BY):]))]
        found.append({"commit": str(commit.id), "at": when, "by": actor(commit.author.name),
                      "message": "\n".join(lines).strip()})
    return found
