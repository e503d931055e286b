"""What the web pages read of a template repository, each page through one
open of it and the access policy (:meth:`heater.registry.Registry.view`):
the overview (catalog detail, resources, README, versions, lifecycle),
a directory or file at a ref, the resource graph, and both graphs of a
comparison."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from heater.auth.tokens import Caller
from heater.catalog.detail import template_detail
from heater.git.trees import FileNotInTree, find_blob
from heater.names import RepoId
from heater.registry import Registry
from heater.repos.browse import DirectoryNotFound, TreeEntry, tree_at
from heater.repos.lifecycle import deprecation
from heater.repos.resolve import LATEST, Resolved, UnknownRef
from heater.repos.store import Kind, RepoInfo
from heater.repos.versions import TaggedVersion, latest
from heater.repos.view import RepoView
from heater.templates.graph import Graph, mark_changes, template_graph
from heater.templates.heateryaml import entrypoint
from heater.templates.hot import Template
from heater.templates.parsed import mapping_at

README_NAMES = ("README.md", "readme.md", "README.markdown", "README")
# A README larger than this is linked, not rendered into the page.
MAX_README_BYTES = 512 * 1024


@dataclass
class Overview:
    """A template page: the catalog detail at a ref and what it adds."""

    info: RepoInfo
    detail: dict[str, Any]
    commit: str | None
    resources: list[dict[str, Any]]
    readme: tuple[str, str] | None  # (path, Markdown text)
    versions: list[TaggedVersion]
    branches: list[str]
    lifecycle: dict[str, Any]


@dataclass
class AtPath:
    """A directory (``entries``) or a file (``data``) at a resolved ref."""

    info: RepoInfo
    ref: str
    commit: str
    path: str
    entries: list[TreeEntry] | None = None
    data: bytes | None = None
    blob_id: str = ""
    size: int = 0
    branches: list[str] = field(default_factory=list)
    versions: list[TaggedVersion] = field(default_factory=list)


def default_ref(view: RepoView) -> str | None:
    """``latest`` when there is a release, else the default branch (None
    for a repository without commits)."""
    if latest(view.versions) is not None:
        return LATEST
    return None if view.git.head_is_unborn else str(view.git.head.shorthand)


def repo_path(view: RepoView) -> Path:
    """The repository's directory, where large documents are kept parsed."""
    return Path(view.git.path)


def branches(git: pygit2.Repository) -> list[str]:
    return sorted(git.branches.local)


def _resources(tree: pygit2.Tree, path: str, repo_path: Path) -> list[dict[str, Any]]:
    # Parsed once per blob and process, and a large one once per repository
    # (where the push that brought it left it): a page is viewed again and
    # again, by every worker.
    data = mapping_at(tree, path, repo_path)
    if data is None:  # the detail's problems already say why
        return []
    template = Template.from_data(data)
    rows = []
    for name, spec in template.resources.items():
        depends = spec.get("depends_on")
        rows.append({"name": name, "type": str(spec.get("type", "")),
                     "depends_on": [depends] if isinstance(depends, str)
                     else [str(d) for d in depends or []] if isinstance(depends, list) else [],
                     "condition": spec.get("condition")})
    return rows


def _readme(tree: pygit2.Tree) -> tuple[str, str] | None:
    for name in README_NAMES:
        blob = find_blob(tree, name)
        if blob is not None:
            if blob.size > MAX_README_BYTES:
                return name, f"The README is too large to show here ({blob.size} bytes)."
            return name, blob.data.decode("utf-8", errors="replace")
    return None


class TemplatePages:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _visible(self, caller: Caller) -> Any:
        return lambda name: self.registry.sees(caller, name) is not None

    def overview(self, caller: Caller, repo: RepoId, ref: str | None) -> Overview:
        """The template at ``ref`` (default: ``latest``, else the default branch)."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            visible = self._visible(caller)
            detail = template_detail(view, ref, visible)
            commit = detail["ref"]["commit"]
            resources: list[dict[str, Any]] = []
            readme = None
            if commit is not None:
                tree = view.git[commit].tree
                resources = _resources(tree, detail["entrypoint"], repo_path(view))
                readme = _readme(tree)
            state = view.state
            lifecycle = {**state.as_json(),
                         "deprecated": deprecation(state.deprecated, visible)}
            return Overview(view.info, detail, commit, resources, readme, view.versions,
                            branches(view.git), lifecycle)

    def at_path(self, caller: Caller, repo: RepoId, ref: str, path: str) -> AtPath:
        """The directory or file at ``path`` ("" for the root) at ``ref``;
        the ref is resolved first, as raw URLs do."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            resolved = view.resolve(ref)
            found = AtPath(view.info, ref, resolved.sha, path,
                           branches=branches(view.git), versions=view.versions)
            try:
                found.entries = tree_at(view, resolved, path).entries
            except DirectoryNotFound:
                blob = find_blob(resolved.commit.tree, path)
                if blob is None:
                    raise FileNotInTree(path, f"{ref} ({resolved.sha[:12]})") from None
                found.data, found.size, found.blob_id = blob.data, blob.size, str(blob.id)
            return found

    def graph(self, caller: Caller, repo: RepoId, ref: str | None) -> tuple[Resolved, Graph]:
        """The resource graph at ``ref`` (default as :meth:`overview`)."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            resolved = self._resolve(view, ref)
            tree = resolved.commit.tree
            return resolved, template_graph(tree, entrypoint(tree), repo_path(view))

    def compared_graphs(self, caller: Caller, repo: RepoId, old: str,
                        new: str) -> tuple[Graph, Graph]:
        """Both sides' graphs, each resource marked added, removed or changed."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            graphs = []
            for ref in (old, new):
                tree = view.resolve(ref).commit.tree
                graphs.append(template_graph(tree, entrypoint(tree), repo_path(view)))
            mark_changes(graphs[0], graphs[1])
            return graphs[0], graphs[1]

    def refs(self, caller: Caller, repo: RepoId) -> tuple[RepoInfo, list[TaggedVersion],
                                                          list[str], str | None]:
        """What a ref picker offers: versions, branches, and the default ref."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            return view.info, view.versions, branches(view.git), default_ref(view)

    @staticmethod
    def _resolve(view: RepoView, ref: str | None) -> Resolved:
        ref = ref or default_ref(view)
        if ref is None:
            raise UnknownRef("HEAD", "the repository has no commit")
        return view.resolve(ref)


def parent_of(path: str) -> str:
    return posixpath.dirname(path)
