"""Yank, deprecate and delete a repository's things, and undo each.

Each action checks its rule against the current state and records one
commit on the lifecycle ref (:func:`heater.repos.lifecycle.write_state`) whose
author is the caller and whose message says what and why; ``git log
refs/heater/lifecycle`` is the audit trail. Who may do what is checked by
the caller (:class:`heater.registry.Registry`); here are the rules about
what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pygit2

from heater.clock import now
from heater.errors import AlreadyDone, InvalidValue, MissingField
from heater.names import RepoId, check_free_text
from heater.repos.lifecycle import REPLACED_BY, LifecycleState, write_state
from heater.repos.resolve import UnknownRef
from heater.repos.store import RepoInfo
from heater.repos.versions import Version, find_version, list_versions

# Reasons and messages are shown in listings and tombstones: a sentence or
# a paragraph, not a document.
MAX_TEXT = 2000


class VersionNotFound(UnknownRef):
    def __init__(self, version: str) -> None:
        super().__init__(version, "no such version in this repository")
        self.version = version


class LifecycleConflict(AlreadyDone):
    """The action is already in the state it asks for (or its undo is not)."""


def check_text(value: object, field: str, required: bool = True) -> str:
    """A free-text field (reason, message): a string of at most MAX_TEXT."""
    if value is None and not required:
        return ""
    if value is None:
        raise MissingField(field, f"{field!r} is required: a non-empty string")
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidValue(field, f"{field!r} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise InvalidValue(field, f"{field!r} is longer than {MAX_TEXT} characters")
    return check_free_text(value, field).strip()


def _existing_version(git: pygit2.Repository, text: str) -> Version:
    version = Version.parse(text)
    if find_version(list_versions(git), version) is None:
        raise VersionNotFound(str(version))
    return version


def yank(git: pygit2.Repository, version_text: str, reason: object, who: str) -> dict[str, Any]:
    """Mark a version yanked: still readable by its exact version, never
    ``latest``. Returns the yank record."""
    version = str(_existing_version(git, version_text))
    text = check_text(reason, "reason")
    record = {"reason": text, "by": who, "at": now()}

    def change(state: LifecycleState) -> str:
        if version in state.yanked:
            raise LifecycleConflict(f"version {version} is already yanked")
        state.yanked[version] = record
        return f"Yank {version}\n\n{text}\n"

    write_state(git, change, who)
    return record


def unyank(git: pygit2.Repository, version_text: str, who: str) -> None:
    version = str(_existing_version(git, version_text))

    def change(state: LifecycleState) -> str:
        if state.yanked.pop(version, None) is None:
            raise LifecycleConflict(f"version {version} is not yanked")
        return f"Unyank {version}\n"

    write_state(git, change, who)


class BadReplacement(InvalidValue):
    """A deprecation's replacement that readers could not follow."""

    def __init__(self, replacement: str, reason: str) -> None:
        super().__init__("replacement", f"replacement {replacement}: {reason}")
        self.replacement = replacement


# What a caller can read, by ``<namespace>/<name>``: its info, or None when
# it does not exist, is deleted or is hidden from the caller.
Lookup = Callable[[str], RepoInfo | None]


def check_replacement(repo: RepoInfo, replacement: object, lookup: Lookup) -> str | None:
    """The replacement named in a deprecation, in canonical form, if every
    reader of ``repo`` can follow it: an existing repository of the same kind
    that the writer can read (``lookup``), not ``repo`` itself, and public
    when ``repo`` is public (its anonymous readers would otherwise learn the
    name of a private repository)."""
    if replacement is None:
        return None
    successor = str(RepoId.from_json(replacement, "replacement"))
    if successor == str(repo.repo):
        raise BadReplacement(successor, "a repository cannot replace itself")
    info = lookup(successor)
    if info is None:
        raise BadReplacement(successor, "no such repository (or you cannot read it)")
    if info.kind is not repo.kind:
        raise BadReplacement(successor, f"is not a {repo.kind.value} repository")
    if info.private and not repo.private:
        raise BadReplacement(successor, f"is private, and readers of the public {repo.repo} "
                             "could not follow it; name a public repository")
    return successor


def deprecate(git: pygit2.Repository, repo: RepoInfo, reason: object, replacement: object,
              who: str, lookup: Lookup) -> dict[str, Any]:
    """Flag the whole repository deprecated, optionally naming the
    repository that replaces it (checked by :func:`check_replacement`).
    Deprecating it again is refused (undo it first to change the message)."""
    text = check_text(reason, "reason")
    successor = check_replacement(repo, replacement, lookup)
    record = {"reason": text, "replacement": successor, "by": who, "at": now()}

    def change(state: LifecycleState) -> str:
        if state.deprecated is not None:
            raise LifecycleConflict("the repository is already deprecated; undo the "
                                    "deprecation first to change it")
        state.deprecated = record
        return f"Deprecate\n\n{text}\n" + (f"\n{REPLACED_BY}{successor}\n"
                                           if successor else "")

    write_state(git, change, who)
    return record


def undeprecate(git: pygit2.Repository, who: str) -> None:
    _clear(git, "deprecated", "Undeprecate", who)


def delete(git: pygit2.Repository, reason: object, who: str) -> dict[str, Any]:
    """Leave a tombstone: the repository answers 410 with it from now on.
    Nothing in git is erased, so the name keeps its history."""
    text = check_text(reason, "reason")
    record = {"reason": text, "by": who, "at": now()}

    def change(state: LifecycleState) -> str:
        if state.deleted is not None:
            raise LifecycleConflict("the repository is already deleted")
        state.deleted = record
        return f"Delete\n\n{text}\n"

    write_state(git, change, who)
    return record


def undelete(git: pygit2.Repository, who: str) -> None:
    _clear(git, "deleted", "Undelete", who)


def _clear(git: pygit2.Repository, field: Literal["deprecated", "deleted"], verb: str,
           who: str) -> None:
    def change(state: LifecycleState) -> str:
        if getattr(state, field) is None:
            raise LifecycleConflict(f"the repository is not {field}")
        setattr(state, field, None)
        return f"{verb}\n"

    write_state(git, change, who)
