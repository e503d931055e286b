"""Resolving what a user calls a ref (``latest``, ``v1.2.0``, ``main``, a SHA)
to a commit.

Resolution order: ``latest``; a semantic version (with or without ``v``);
a full commit SHA; a branch; any other tag; an abbreviated commit SHA. A
full SHA always means that object, whatever refs are named (no branch or
tag may be named like one, but one pushed before that rule must not take
over); an abbreviated SHA that is also a branch or tag name is ambiguous.
A SHA reaches only objects reachable from the refs a reader may see
(:mod:`heater.repos.reachability`): an unreachable one is unknown.

``latest`` is the newest release by semver that is neither a pre-release
nor yanked; a repository without one resolves ``latest`` to the head of its
default branch (as a branch: it moves), so that every reader (the detail,
``?ref=latest``, raw URLs, diffs, images) gets the same commit for it.

A result knows whether it can change: versions and full SHAs are
immutable, branches and ``latest`` move.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pygit2

from heater.errors import InvalidInput, NotFound
from heater.git.objects import head_commit, peel_commit
from heater.names import check_short_ref, is_full_sha
from heater.repos.reachability import Reachability
from heater.repos.versions import (
    TaggedVersion,
    Version,
    Yanked,
    find_version,
    latest,
    list_versions,
    lookup_version,
)

LATEST = "latest"
_HEX_RE = re.compile(r"^[0-9a-f]{4,64}$")
_REF_KINDS = (("refs/heads/", "branch"), ("refs/tags/", "tag"))
# How each way of resolving shows as a ref's kind.
_SHOWN_KIND = {"latest": "tag", "version": "tag", "sha": "commit"}


class UnknownRef(NotFound):
    code = "unknown_ref"

    def __init__(self, ref: str, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"unknown ref {ref!r}{detail}")
        self.ref = ref


class AmbiguousRef(InvalidInput):
    code = "ambiguous_ref"

    def __init__(self, ref: str, ref_name: str | None = None, sha: str | None = None) -> None:
        if ref_name is not None and sha is not None:
            message = (f"{ref!r} is both {ref_name} and the abbreviated SHA of commit {sha}; "
                       f"use the full SHA {sha} for the commit")
        else:
            message = f"abbreviated SHA {ref!r} matches more than one object; use more digits"
        super().__init__(message)
        self.ref = ref
        self.ref_name = ref_name
        self.sha = sha


@dataclass(frozen=True)
class Resolved:
    ref: str            # what the user asked for
    kind: str           # "latest" | "version" | "branch" | "tag" | "sha"
    commit: pygit2.Commit
    version: TaggedVersion | None = None

    @property
    def sha(self) -> str:
        return str(self.commit.id)

    @property
    def full_sha(self) -> bool:
        """True when the ref was the commit's (or its tag's) full SHA."""
        return self.kind == "sha" and len(self.ref) == len(self.sha)

    def as_json(self) -> dict[str, str | None]:
        """The resolved ref as the API shows it (``Ref``): what was asked
        for, the kind of ref it named (``branch``, ``tag`` or ``commit``:
        ``latest`` and a version are tags), the branch or tag name, the
        commit, and the version of that tag."""
        kind = _SHOWN_KIND.get(self.kind, self.kind)
        if self.version is not None:
            name: str | None = self.version.tag
        else:
            name = self.ref if kind in ("branch", "tag") else None
        return {"requested": self.ref, "kind": kind, "name": name, "commit": self.sha,
                "version": str(self.version.version) if self.version else None}

    @property
    def immutable(self) -> bool:
        """True when the same URL can never show other content: a version,
        or a full SHA. An abbreviated SHA is not: a later object may share
        its prefix and make it ambiguous."""
        return self.kind == "version" or self.full_sha


def resolve(git: pygit2.Repository, ref: str,
            versions: Sequence[TaggedVersion] | None = None,
            yanked: Yanked | None = None) -> Resolved:
    """Resolve ``ref`` in ``git`` or raise :class:`UnknownRef`.

    ``versions``: the repository's versions with their yank state, for a
    caller that has listed them already (otherwise read as needed);
    ``yanked``: the yanks of its lifecycle state, for one that has read it.
    """
    check_short_ref(ref)
    if ref == LATEST:
        best = latest(versions if versions is not None else list_versions(git, yanked))
        if best is None:
            return default_branch(git, ref)
        return Resolved(ref, "latest", _commit(git, best.commit, ref), best)
    version = Version.try_parse(ref)
    if version is not None:
        tagged = (find_version(versions, version) if versions is not None
                  else lookup_version(git, version, yanked))
        if tagged is None:
            raise UnknownRef(ref, "no such version")
        return Resolved(ref, "version", _commit(git, tagged.commit, ref), tagged)
    if is_full_sha(ref):
        found = _by_sha(git, ref)
        if found is None:
            raise UnknownRef(ref)
        return found
    named = _named(git, ref)
    short = _by_sha(git, ref) if _HEX_RE.match(ref) else None
    if named is not None and short is not None:
        raise AmbiguousRef(ref, named[0], short.sha)
    if named is not None:
        return named[1]
    if short is not None:
        return short
    raise UnknownRef(ref)


def default_branch(git: pygit2.Repository, ref: str = "HEAD") -> Resolved:
    """The head of the default branch, as a branch asked for as ``ref``;
    :class:`UnknownRef` for a repository without a commit."""
    head = head_commit(git)
    if head is None:
        raise UnknownRef(ref, "the repository has no commit")
    return Resolved(ref, "branch", head)


def _named(git: pygit2.Repository, ref: str) -> tuple[str, Resolved] | None:
    """The branch, else the tag, called ``ref`` (its full name and target)."""
    for prefix, kind in _REF_KINDS:
        reference = git.references.get(prefix + ref)
        if reference is not None:
            return prefix + ref, Resolved(ref, kind, _peel(git, reference.target, ref))
    return None


def _by_sha(git: pygit2.Repository, ref: str) -> Resolved | None:
    """The commit a full or abbreviated SHA names, if a reader may reach it."""
    # By object id alone: rev-parse would try refs of that name first.
    try:
        obj = git.get(ref)
    except ValueError:
        raise AmbiguousRef(ref) from None
    except (KeyError, pygit2.GitError):
        obj = None
    # A tree or blob is not what a ref can mean; saying so of an
    # unreachable one would tell that it exists.
    if (not isinstance(obj, pygit2.Commit | pygit2.Tag)
            or not Reachability(git).reachable(obj.id)):
        return None
    return Resolved(ref, "sha", _peel(git, obj.id, ref))


def _commit(git: pygit2.Repository, sha: str, ref: str) -> pygit2.Commit:
    return _peel(git, pygit2.Oid(hex=sha), ref)


def _peel(git: pygit2.Repository, oid: pygit2.Oid | str, ref: str) -> pygit2.Commit:
    obj = git.get(oid)
    if obj is None:
        raise UnknownRef(ref)
    commit = peel_commit(git, obj)
    if commit is None:
        raise UnknownRef(ref, "does not name a commit")
    return commit
