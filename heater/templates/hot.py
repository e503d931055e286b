"""The parts of a Heat Orchestration Template (HOT) that Heater reads.

This module understands a loaded document (see :mod:`heater.templates.yamlload`): what
kind of file it is, its sections, and the other files it refers to
(``get_file`` targets, nested template ``type:``s, an environment's
``resource_registry``), resolved relative to the file that names them, the
way Heat resolves them against the template's URL.
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

# heat_template_version values Heat accepts (dates and release names).
KNOWN_VERSIONS = frozenset({
    "2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08",
    "2016-10-14", "2017-02-24", "2017-09-01", "2018-03-02", "2018-08-31",
    "2021-04-16",
    "newton", "ocata", "pike", "queens", "rocky", "wallaby",
})

ENVIRONMENT_SECTIONS = frozenset({
    "parameters", "parameter_defaults", "resource_registry", "encrypted_param_names",
    "event_sinks", "parameter_merge_strategies",
})
# Heat treats a resource type ending so as a nested template (a provider).
TEMPLATE_TYPE_SUFFIXES = (".yaml", ".yml", ".template")
YAML_SUFFIXES = (".yaml", ".yml", ".template")


class FileKind(enum.StrEnum):
    TEMPLATE = "template"
    ENVIRONMENT = "environment"
    OTHER = "other"


def classify(data: Any) -> FileKind:
    """A template has ``heat_template_version``; an environment has only
    environment sections; anything else is just YAML."""
    if not isinstance(data, dict):
        return FileKind.OTHER
    if "heat_template_version" in data:
        return FileKind.TEMPLATE
    if data and set(map(str, data)) <= ENVIRONMENT_SECTIONS:
        return FileKind.ENVIRONMENT
    return FileKind.OTHER


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


@dataclass
class Template:
    """A template's sections, tolerant of missing or malformed ones."""

    version: str | None
    description: str
    parameters: dict[str, dict[str, Any]]
    parameter_groups: list[Any]
    resources: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    conditions: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Any) -> Template:
        doc = _mapping(data)
        version = doc.get("heat_template_version")
        description = doc.get("description")
        groups = doc.get("parameter_groups")
        return cls(
            version=str(version) if version is not None else None,
            description=description.strip() if isinstance(description, str) else "",
            parameters={k: _mapping(v) for k, v in _mapping(doc.get("parameters")).items()},
            parameter_groups=groups if isinstance(groups, list) else [],
            resources={k: _mapping(v) for k, v in _mapping(doc.get("resources")).items()},
            outputs={k: _mapping(v) for k, v in _mapping(doc.get("outputs")).items()},
            conditions=_mapping(doc.get("conditions")),
        )

    def resource_types(self) -> list[str]:
        types = {str(r["type"]) for r in self.resources.values() if "type" in r}
        return sorted(types)


@dataclass(frozen=True)
class Reference:
    """A file that a document refers to.

    ``keys`` locate the reference in the referring document; ``target`` is
    the path as written; ``resolved`` the repository path it names, or None
    when it leaves the repository (``../`` past the root, an absolute path).
    ``remote`` references (URLs) are fetched by Heat and not checked here.
    """

    kind: str  # "get_file" | "type" | "resource_registry"
    keys: tuple[str | int, ...]
    target: str
    resolved: str | None
    remote: bool
    # An environment's resource_registry base_url that is no URL, which
    # heatclient joins the target to and then cannot open.
    bad_base_url: str | None = None


def resolve_relative(base_file: str, target: str) -> str | None:
    """The repository path ``target`` names when written in ``base_file``,
    as Heat's urljoin resolves it; None if it leaves the repository."""
    if target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), target))
    if joined == "." or joined.startswith("../") or joined == "..":
        return None
    return joined


def _is_remote(target: str) -> bool:
    return "://" in target


def _reference(kind: str, keys: tuple[str | int, ...], target: str, base: str) -> Reference:
    remote = _is_remote(target)
    return Reference(kind, keys, target, None if remote else resolve_relative(base, target),
                     remote)


def references(data: Any, path: str) -> list[Reference]:
    """Every file the document at ``path`` refers to, in document order.

    In a template, as python-heatclient finds them: every ``get_file``, and
    every ``type:`` key anywhere under ``resources`` whose value names a
    template (``.yaml``/``.template``...) or a URL, so that the nested
    templates of ``OS::Heat::AutoScalingGroup`` (``properties.resource``)
    and ``OS::Heat::ResourceGroup`` (``properties.resource_def``) count too.
    """
    found: list[Reference] = []
    kind = classify(data)
    if kind is FileKind.TEMPLATE:
        resources = ("resources",)
        for ref_kind, keys, target in _walk(data, ()):
            if ref_kind == "type" and keys[:1] != resources:
                continue  # a parameter's or an output's "type" names no file
            found.append(_reference(ref_kind, keys, target, path))
    elif kind is FileKind.ENVIRONMENT:
        registry = _mapping(_mapping(data).get("resource_registry"))
        for keys, target, base in _registry_files(registry, ("resource_registry",), None):
            found.append(_registry_reference(keys, target, base, path))
    return found


def _registry_reference(keys: Keys, target: str, base: str | None, path: str) -> Reference:
    """A file a resource_registry maps, found as heatclient finds it: joined
    to the registry's ``base_url`` when it has one (per resource, else at
    the top), else relative to the environment at ``path``."""
    if base is None:
        return _reference("resource_registry", keys, target, path)
    joined = urljoin(base if base.endswith("/") else base + "/", target)
    if urlsplit(joined).scheme:
        return Reference("resource_registry", keys, joined, None, remote=True)
    return Reference("resource_registry", keys, target, None, remote=False, bad_base_url=base)


Keys = tuple[str | int, ...]


def _names_template(value: str) -> bool:
    return value.endswith(TEMPLATE_TYPE_SUFFIXES) or _is_remote(value)


def _walk(node: Any, keys: Keys) -> Iterator[tuple[str, Keys, str]]:
    """``("get_file" | "type", keys, target)`` for every file reference under
    ``node``, in document order."""
    # Iterative, so that nesting depth never matters here.
    stack: list[tuple[Any, Keys]] = [(node, keys)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            target = value.get("get_file")
            if len(value) == 1 and isinstance(target, str):
                yield "get_file", (*where, "get_file"), target
                continue
            rtype = value.get("type")
            if isinstance(rtype, str) and _names_template(rtype):
                yield "type", (*where, "type"), rtype
            stack.extend((v, (*where, str(k))) for k, v in reversed(list(value.items()))
                         if not (k == "type" and isinstance(v, str)))
        elif isinstance(value, list):
            stack.extend((v, (*where, i)) for i, v in reversed(list(enumerate(value))))


def _registry_files(registry: dict[str, Any], keys: Keys,
                    base: str | None) -> Iterator[tuple[Keys, str, str | None]]:
    """``(keys, target, base_url)`` of every file the registry maps; a
    resource's own ``base_url`` goes before the registry's, as in heatclient."""
    own = registry.get("base_url")
    base = own if isinstance(own, str) else base
    for name, value in registry.items():
        if name in ("base_url", "hooks", "restricted_actions"):
            continue
        if isinstance(value, str) and value.endswith(TEMPLATE_TYPE_SUFFIXES):
            yield (*keys, name), value, base
        elif isinstance(value, dict) and name == "resources":
            for resource, mapping in _mapping(value).items():
                yield from _registry_files(_mapping(mapping), (*keys, name, resource), base)
