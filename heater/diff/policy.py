"""The per-repository versioning policy, and the check a new version tag
must pass.

A repository opts in through ``heater.yaml`` (read at the commit being
tagged, since the policy is versioned with the template)::

    versioning:
      enforce: true     # refuse version tags that bump less than the diff needs

With ``enforce`` on, a new version must bump at least as much as the
verdict of the diff from the previous released version (the highest
version below it that is not a pre-release) to the tagged commit:
``major`` changes need a major bump, additions a minor one (below 1.0.0,
one place lower; see :func:`heater.diff.verdict.allows`).
"""

from __future__ import annotations

import pygit2

from heater.diff.compare import compare_commits
from heater.diff.verdict import VersionCheck
from heater.errors import Conflict
from heater.git.objects import peel_commit
from heater.repos.versions import Version, list_versions
from heater.templates.heateryaml import METADATA_FILE, read_metadata


def enforces_versioning(tree: pygit2.Tree) -> bool:
    """True when ``heater.yaml`` at ``tree`` says ``versioning: {enforce: true}``."""
    policy = read_metadata(tree).get("versioning")
    return isinstance(policy, dict) and policy.get("enforce") is True


class VersionBumpTooSmall(Conflict):
    """A new version bumps less than its changes need. ``reasons`` are the
    entries of the diff that need the larger bump."""

    code = "version_bump_too_small"

    def __init__(self, check: VersionCheck, reasons: list[str]) -> None:
        shown = "; ".join(reasons[:5]) + (f"; and {len(reasons) - 5} more"
                                          if len(reasons) > 5 else "")
        super().__init__(
            f"version {check.new} is a {check.bump} bump over {check.old}, but the changes "
            f"since {check.old} need a {check.required} bump "
            f"(this repository enforces it in {METADATA_FILE}): {shown}")
        self.check = check
        self.reasons = reasons


def previous_release(git: pygit2.Repository, version: Version) -> tuple[Version, str] | None:
    """The highest released (not pre-release) version below ``version``,
    yanked or not, with its commit SHA."""
    # Yanked or not, so the yank state is not read ({}).
    for tagged in list_versions(git, {}):  # newest first
        if not tagged.version.is_prerelease and tagged.version < version:
            return tagged.version, tagged.commit
    return None


def check_version_bump(git: pygit2.Repository, new_version: Version | str,
                       target_commit: pygit2.Commit | str) -> VersionCheck | None:
    """Refuse tagging ``target_commit`` as ``new_version`` if the
    repository's policy says so and the bump is too small.

    Call it before the tag exists (POST .../versions, the pre-receive hook
    for a pushed tag). Returns None when the policy is off at
    ``target_commit`` or there is no earlier release to compare with;
    otherwise the :class:`VersionCheck` that passed. Raises
    :class:`VersionBumpTooSmall` (a Conflict, 409) with the reasons, or
    :class:`~heater.repos.versions.InvalidVersion` for a malformed version.
    """
    version = new_version if isinstance(new_version, Version) else Version.parse(new_version)
    commit = target_commit if isinstance(target_commit, pygit2.Commit) else _commit(
        git, target_commit)
    if not enforces_versioning(commit.tree):
        return None
    previous = previous_release(git, version)
    if previous is None:
        return None
    old_version, old_sha = previous
    # The verdict needs the changed files, not their patches.
    comparison = compare_commits(git, _commit(git, old_sha), commit, patches=False)
    check = VersionCheck(old_version, version, comparison.verdict)
    if not check.sufficient:
        raise VersionBumpTooSmall(check, comparison.reasons(comparison.verdict))
    return check


def _commit(git: pygit2.Repository, sha: str) -> pygit2.Commit:
    commit = peel_commit(git, sha)
    if commit is None:
        raise ValueError(f"{sha} does not name a commit")
    return commit
