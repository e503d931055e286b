"""One template repository described in full, at a ref (read from git, not
from the index, so that any ref can be shown)."""

from __future__ import annotations

from typing import Any

from heater.auth.policy import RepositoryGone
from heater.catalog.indexer import updated_at
from heater.catalog.templates import read_metadata
from heater.clock import to_utc
from heater.names import RepoId
from heater.repos.browse import default_branch
from heater.repos.lifecycle import LifecycleState, Visible, deprecation, event
from heater.repos.resolve import LATEST, Resolved
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
    as shown to a caller who can read the repositories ``visible`` says.
    ``clone_url`` and ``raw_url`` are left for the web layer to fill in."""
    git, info, state = view.git, view.info, view.state
    check_not_deleted(info.repo, state)
    versions = view.versions
    best = latest(versions)
    resolved: Resolved | None = None
    if ref is not None:
        resolved = view.resolve(ref)
        shown: dict[str, Any] | None = resolved.as_json()
    elif best is not None:
        resolved = view.resolve(LATEST)
        shown = resolved.as_json()
    elif not git.head_is_unborn:  # no release: the default branch's head
        resolved = view.resolve(git.head.shorthand)
        shown = {**resolved.as_json(), "requested": LATEST}
    else:  # no commit at all
        shown = None
    commit = resolved.commit if resolved is not None else None
    created = to_utc(info.created_at) if info.created_at else ""
    metadata = read_metadata(commit.tree if commit is not None else None)
    yank = yank_of(resolved, state) if resolved is not None else None
    return {
        "namespace": info.repo.namespace,
        "name": info.repo.name,
        "repository_kind": info.kind.value,
        "visibility": info.visibility.value,
        "description": metadata.description,
        "keywords": metadata.keywords,
        "latest_version": str(best.version) if best else None,
        "deprecated": deprecation(state.deprecated, visible),
        "deleted": None,  # a deleted template answers 410 instead
        "yanked": event(yank),
        "created_at": created,
        "updated_at": updated_at(git, versions, created),
        "clone_url": None,
        "default_branch": default_branch(git),
        "ref": shown,
        "versions_count": len(versions),
        "entrypoint": metadata.entrypoint,
        "heat_template_version": metadata.heat_template_version,
        "metadata": metadata.metadata,
        "icon": metadata.icon,
        "maintainers": metadata.maintainers,
        "parameters": metadata.parameters,
        "parameter_groups": metadata.parameter_groups,
        "resource_types": metadata.resource_types,
        "outputs": metadata.outputs,
        "problems": metadata.problems,
        "raw_url": None,
    }
