"""The referrers of an image build: the template versions that name it by
its id, in a parameter's default or a resource's property (where a Heat
template names the Glance image it boots, which is the build's own id
once published).

Found on request, by ``git grep`` of the id in the YAML files of every
release of every template the caller may read (one git process per
template that has releases), then confirmed by reading where it stands in
the document. The cost grows with the number of templates, not builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pygit2

from heater.auth.tokens import Caller
from heater.errors import Gone, HeaterError, NotFound
from heater.git.command import GitFailed, run_git
from heater.names import RepoId
from heater.registry import Registry
from heater.repos.store import Kind
from heater.templates.yamlload import load_yaml


@dataclass(frozen=True)
class Referrer:
    template: RepoId
    version: str
    commit: str
    path: str
    where: str  # e.g. "parameters.image.default", "resources.server.properties.image"

    def as_json(self) -> dict[str, object]:
        return {"repository": self.template.as_json(),
                "version": self.version, "commit": self.commit, "path": self.path,
                "where": self.where}


def places(data: Any, build_id: str) -> list[str]:
    """Where a HOT document names ``build_id``: parameter defaults and
    resource properties (at any depth), as dotted paths."""
    if not isinstance(data, dict):
        return []
    found = []
    parameters = data.get("parameters")
    for name, definition in (parameters.items() if isinstance(parameters, dict) else ()):
        if isinstance(definition, dict) and definition.get("default") == build_id:
            found.append(f"parameters.{name}.default")
    resources = data.get("resources")
    for name, resource in (resources.items() if isinstance(resources, dict) else ()):
        if isinstance(resource, dict):
            found.extend(_walk(resource.get("properties"), f"resources.{name}.properties",
                               build_id))
    return found


def _walk(value: Any, where: str, build_id: str) -> Iterator[str]:
    if value == build_id:
        yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}", build_id)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}.{index}", build_id)


def find(registry: Registry, caller: Caller, build_id: str) -> list[Referrer]:
    """Every release of a template ``caller`` may read that names
    ``build_id``, by template name, then newest version first."""
    found: list[Referrer] = []
    for repo in registry.repos:
        try:
            view = registry.view(caller, repo, Kind.TEMPLATE)
        except (NotFound, Gone):  # not a template, not readable, or deleted
            continue
        with view:
            versions = {v.commit: str(v.version) for v in view.versions}
            if versions:
                found.extend(_in_releases(registry, repo, view.git, versions, build_id))
    return found


def _in_releases(registry: Registry, repo: RepoId, git: pygit2.Repository,
                 versions: dict[str, str], build_id: str) -> Iterator[Referrer]:
    try:
        listed = run_git(registry.repos.path(repo),
                         ["grep", "-l", "-F", "-e", build_id, *versions, "--",
                          "*.yaml", "*.yml"])
    except GitFailed as exc:
        if exc.returncode == 1:  # nothing matched
            return
        raise
    for line in listed.decode("utf-8", "replace").splitlines():
        commit, _, path = line.partition(":")
        blob = git.revparse_single(f"{commit}:{path}")
        if not isinstance(blob, pygit2.Blob):
            continue
        try:
            document = load_yaml(blob.data, path)
        except HeaterError:  # broken YAML names nothing
            continue
        for where in places(document.data, build_id):
            yield Referrer(repo, versions[commit], commit, path, where)
