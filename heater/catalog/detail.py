"""One template repository described in full, at a ref (read from git, not
from the index, so that any ref can be shown)."""

from __future__ import annotations

from typing import Any

import pygit2

from heater.auth.policy import RepositoryGone
from heater.catalog.indexer import shown_commit, to_utc, updated_at
from heater.catalog.templates import read_metadata
from heater.git.objects import head_commit
from heater.names import RepoId
from heater.repos.browse import default_branch
from heater.repos.lifecycle import LifecycleState, Visible, hide_replacement
from heater.repos.resolve import Resolved
from heater.repos.versions import latest
from heater.repos.view import RepoView


def check_not_deleted(repo: RepoId, state: LifecycleState) -> None:
    """Raise :class:`~heater.auth.policy.RepositoryGone` (410, with the
    tombstone) if ``repo`` was deleted."""
    if state.deleted is not None:
        raise RepositoryGone(repo, state.deleted)


def yank_of(resolved: Resolved, state: LifecycleState) -> dict[str, Any] | None:
    """How the version ``resolved`` names was yanked (version, reason, by,
    at), or None when it is not a yanked version."""
    if resolved.kind != "version" or resolved.version is None:
        return None
    version = str(resolved.version.version)
    record = state.yanked.get(version)
    return {"version": version, **record} if record is not None else None


def template_detail(view: RepoView, ref: str | None, visible: Visible) -> dict[str, Any]:
    """The catalog metadata of a template at ``ref`` (default: ``latest``,
    else the default branch), with what describes the repository as a whole,
    as shown to a caller who can read the repositories ``visible`` says."""
    git, info, state = view.git, view.info, view.state
    check_not_deleted(info.repo, state)
    versions = view.versions
    yanked: dict[str, Any] | None = None
    if ref is not None:
        resolved = view.resolve(ref)
        commit: pygit2.Commit | None = resolved.commit
        shown: dict[str, str | None] = {"requested": ref, "kind": resolved.kind,
                                        "commit": resolved.sha}
        yanked = yank_of(resolved, state)
    else:
        commit = shown_commit(git, versions)
        best = latest(versions)
        kind = "latest" if best is not None and commit is not None else "branch"
        shown = {"requested": None, "kind": kind,
                 "commit": str(commit.id) if commit is not None else None}
    head = head_commit(git)
    best = latest(versions)
    created = to_utc(info.created_at) if info.created_at else ""
    metadata = read_metadata(commit.tree if commit is not None else None)
    return {
        "namespace": info.repo.namespace,
        "name": info.repo.name,
        "kind": info.kind.value,
        "visibility": info.visibility.value,
        "deprecated": hide_replacement(state.deprecated, visible),
        "yanked": yanked,
        "ref": shown,
        **metadata.as_json(),
        "latest_version": str(best.version) if best else None,
        "versions_count": len(versions),
        "head_commit": str(head.id) if head is not None else None,
        "default_branch": default_branch(git),
        "created_at": created,
        "updated_at": updated_at(git, versions, created),
    }
