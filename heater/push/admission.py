"""Whether a set of ref updates may land: the one decision for pushes and API writes.

:mod:`heater.push.refrules` judges the updates themselves, then
:mod:`heater.templates.validation` judges the tree of every branch and tag that
moves, compared with what was already accepted (the ref's old commit, else
the default branch) so that a one-file push checks one file.

Last, a new version tag must bump as much as its changes need when the
repository enforces it (:func:`heater.diff.policy.check_version_bump`).

The pre-receive hook calls :func:`problems_for` on a push; the REST API
calls :func:`admit` before it moves a ref (a new version tag is
``RefUpdate(ZERO_OID, <commit>, "refs/tags/v1.2.0")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pygit2

from heater.diff.policy import VersionBumpTooSmall, check_version_bump
from heater.git.objects import head_commit, peel_commit
from heater.push.connectivity import borrowed_objects, refusal
from heater.push.refrules import (
    BRANCH_PREFIX,
    TAG_PREFIX,
    RefRefused,
    RefUpdate,
    check_updates,
)
from heater.repos.versions import Version
from heater.templates.parsed import NewDocuments
from heater.templates.validation import (
    GitTreeSource,
    Problem,
    ValidationFailed,
    changes_between,
    findings,
)


@dataclass(frozen=True)
class Verdict:
    """What a push is told: every reason to refuse it (empty: it lands), and
    the warnings about what it brings, one line each."""

    problems: list[str]
    warnings: list[str]
    # Which kind of rule refused it (a metrics label): ref_rule,
    # connectivity, validation.
    reason: str = "validation"


def review(git: pygit2.Repository, updates: list[RefUpdate], admin: bool, *,
           pushed: bool = False, quarantine: Path | None = None) -> Verdict:
    """The verdict on these updates; ``pushed`` for a push, whose objects
    (if it sent any) are in git's ``quarantine`` directory."""
    problems = check_updates(git, updates, admin)
    if problems:
        return Verdict(problems, [], "ref_rule")
    if pushed:
        borrowed = borrowed_objects(git, quarantine, [u.new for u in updates if not u.deleted])
        if borrowed:
            return Verdict([refusal(borrowed)], [], "connectivity")
    documents = NewDocuments()
    found = _content_findings(git, updates, documents)
    problems = [str(p) for p in found if not p.warning]
    warnings = [str(p) for p in found if p.warning]
    problems = problems or [f"{ref}: {exc.message}" for ref, exc in _small_bumps(git, updates)]
    if not problems:
        documents.keep(Path(git.path))
    return Verdict(problems, warnings)


def problems_for(git: pygit2.Repository, updates: list[RefUpdate], admin: bool) -> list[str]:
    """Every reason to refuse these updates, one line each; empty to accept them."""
    return review(git, updates, admin).problems


def _content_findings(git: pygit2.Repository, updates: list[RefUpdate],
                      documents: NewDocuments) -> list[Problem]:
    """What validation finds in the trees the updates bring; the documents
    it parsed go to ``documents``."""
    problems: list[Problem] = []
    default = head_commit(git)
    seen: set[tuple[str | None, str]] = set()
    for update in updates:
        if update.deleted or not update.ref.startswith((BRANCH_PREFIX, TAG_PREFIX)):
            continue
        new = peel_commit(git, update.new)
        if new is None:
            continue  # refrules already refused it
        # Compare with what was already accepted: the old tip, else the
        # default branch; only the difference needs checking.
        base = peel_commit(git, update.old) if not update.created else default
        key = (str(base.id) if base is not None else None, str(new.id))
        if key in seen or (base is not None and base.id == new.id):
            continue
        seen.add(key)
        changes = changes_between(git, base.tree if base is not None else None, new.tree)
        problems.extend(findings(GitTreeSource(new.tree, documents), changes))
    return problems



def admit(git: pygit2.Repository, updates: list[RefUpdate], admin: bool) -> None:
    """Raise :class:`RefRefused` (409), :class:`ValidationFailed` (400) or
    :class:`~heater.diff.policy.VersionBumpTooSmall` (409) unless every
    update may land."""
    problems = check_updates(git, updates, admin)
    if problems:
        raise RefRefused(problems)
    documents = NewDocuments()
    failures = [p for p in _content_findings(git, updates, documents) if not p.warning]
    if failures:
        raise ValidationFailed(failures)
    too_small = _small_bumps(git, updates)
    if too_small:
        raise too_small[0][1]
    documents.keep(Path(git.path))


def _small_bumps(git: pygit2.Repository,
                 updates: list[RefUpdate]) -> list[tuple[str, VersionBumpTooSmall]]:
    """New version tags that bump less than the repository's versioning
    policy asks (``versioning: {enforce: true}`` in heater.yaml)."""
    found = []
    for update in updates:
        if not update.created or not update.ref.startswith(TAG_PREFIX):
            continue
        version = Version.try_parse(update.ref[len(TAG_PREFIX):])
        commit = peel_commit(git, update.new)
        if version is None or commit is None:
            continue
        try:
            check_version_bump(git, version, commit)
        except VersionBumpTooSmall as exc:
            found.append((update.ref, exc))
    return found
