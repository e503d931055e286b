"""Which ref updates a repository accepts: history is append-only.

- only branches (``refs/heads/``) and tags (``refs/tags/``) may be written;
  every name passes :func:`heater.names.check_ref_name` (no component
  starting with ``-``, no control characters), and a new or moved one
  :func:`heater.names.check_new_ref_name` too (not ``HEAD``, no component
  spelled like a full SHA; deleting a ref created before that rule stays
  possible);
- a branch moves only forward (the new commit descends from the old one),
  and only an admin may delete one;
- a version tag is created once: it never moves and is never deleted, and
  one version has one tag (``1.2.0`` may not appear beside ``v1.2.0``);
  it names a commit;
- other tags never move either; only an admin may delete one; every tag
  names a commit (directly or through an annotated tag).

The same rules serve the pre-receive hook (every update of a push at once,
so that two new tags of one version in a single push are caught too) and
the REST API (a tag made by ``POST .../versions``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pygit2

from heater.errors import Conflict
from heater.git.objects import peel_commit
from heater.names import InvalidName, check_new_ref_name, check_ref_name
from heater.repos.versions import Version

BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"


def is_zero(oid: str) -> bool:
    """True for git's all-zero id, which stands for "no ref"."""
    return not oid.strip("0")


@dataclass(frozen=True)
class RefUpdate:
    """One line of what a push asks for: ``old`` and ``new`` are hex ids,
    all zeros for a ref that does not exist (before) or is deleted (after)."""

    old: str
    new: str
    ref: str

    @property
    def created(self) -> bool:
        return is_zero(self.old)

    @property
    def deleted(self) -> bool:
        return is_zero(self.new)


class RefRefused(Conflict):
    """Updates that break the rules; ``problems`` is one line per refusal."""

    code = "ref_refused"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def check_updates(git: pygit2.Repository, updates: Iterable[RefUpdate],
                  admin: bool) -> list[str]:
    """Every refusal for ``updates`` applied together to ``git`` (whose object
    database must hold the new objects); empty when all may proceed."""
    problems: list[str] = []
    updates = list(updates)
    versions = _existing_versions(git, {u.ref for u in updates})
    for update in updates:
        reason = _check_one(git, update, admin, versions)
        if reason:
            problems.append(f"{update.ref}: {reason}")
    return problems


def check_current(git: pygit2.Repository, updates: Iterable[RefUpdate]) -> list[str]:
    """A refusal for each update whose ``old`` is no longer the ref's value
    (another push moved it first); meaningful under the push lock."""
    problems = []
    for update in updates:
        try:
            check_ref_name(update.ref)
        except InvalidName:
            continue  # not a name to look up; check_updates refuses it with the reason
        reference = git.references.get(update.ref)
        current = str(reference.target) if reference is not None else None
        if current != (None if update.created else update.old):
            problems.append(f"{update.ref}: another push changed it first; fetch, "
                            "merge or rebase, and push again")
    return problems


def _check_one(git: pygit2.Repository, update: RefUpdate, admin: bool,
               versions: dict[Version, str]) -> str | None:
    try:
        if update.deleted:
            check_ref_name(update.ref)
        else:
            check_new_ref_name(update.ref)
    except InvalidName as exc:
        return f"refused ref name: {exc.reason}"
    if update.ref.startswith(BRANCH_PREFIX):
        return _check_branch(git, update, admin)
    if update.ref.startswith(TAG_PREFIX):
        return _check_tag(git, update, admin, versions)
    return "only branches (refs/heads/) and tags (refs/tags/) can be pushed"


def _check_branch(git: pygit2.Repository, update: RefUpdate, admin: bool) -> str | None:
    if update.deleted:
        return None if admin else "only an admin may delete a branch"
    if update.created:
        return None if peel_commit(git, update.new) else "a branch must point at a commit"
    new = peel_commit(git, update.new)
    if new is None:
        return "a branch must point at a commit"
    if str(new.id) != update.old and not git.descendant_of(new.id, pygit2.Oid(hex=update.old)):
        return ("non-fast-forward update refused: history is append-only here; "
                "merge or rebase onto the current branch instead of forcing")
    return None


def _check_tag(git: pygit2.Repository, update: RefUpdate, admin: bool,
               versions: dict[Version, str]) -> str | None:
    name = update.ref[len(TAG_PREFIX):]
    version = Version.try_parse(name)
    if version is not None:
        if update.deleted:
            return f"version {version} is published; a version tag is never deleted " \
                   "(yank it instead)"
        if not update.created:
            return f"version {version} is published; a version tag never moves " \
                   "(tag a new version instead)"
        other = versions.get(version)
        if other is not None and other != name:
            return f"version {version} already exists as tag {other}"
        versions[version] = name  # a second tag of it later in this push is refused
        if peel_commit(git, update.new) is None:
            return "a version tag must point at a commit"
        return None
    if update.deleted:
        return None if admin else "only an admin may delete a tag"
    if not update.created:
        return "tags never move; create a new tag instead"
    if peel_commit(git, update.new) is None:
        # A tag of a blob or a tree would make a repository with no template.
        return "a tag must point at a commit (or be an annotated tag of one)"
    return None


def _existing_versions(git: pygit2.Repository, pushed: set[str]) -> dict[Version, str]:
    """Version -> tag name for the version tags already there, except
    those this push updates."""
    found: dict[Version, str] = {}
    for ref in git.references:
        if ref.startswith(TAG_PREFIX) and ref not in pushed:
            version = Version.try_parse(ref[len(TAG_PREFIX):])
            if version is not None:
                found.setdefault(version, ref[len(TAG_PREFIX):])
    return found
