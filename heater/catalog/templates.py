"""Catalog metadata of a template repository at one commit.

Read from the entry point (``template.yaml``, or the ``entrypoint`` named in
``heater.yaml``) and merged with ``heater.yaml``, whose description wins.
Extraction never fails on a bad repository: what cannot be read is left
empty and named in ``problems``, so that one broken push neither breaks
the index nor hides the repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pygit2

from heater.errors import HeaterError
from heater.git.trees import find_blob
from heater.templates.heateryaml import (
    DEFAULT_ENTRYPOINT,
    METADATA_FILE,
    is_safe_icon,
    parse_entrypoint,
)
from heater.templates.hot import Template, references
from heater.templates.validation import GitTreeSource, deployment_findings
from heater.templates.yamlload import YamlDocument, jsonable, load_yaml

MANIFEST = METADATA_FILE
# Bounds on what heater.yaml may put into the index, so that one repository
# cannot bloat every listing page.
MAX_KEYWORDS = 32
MAX_KEYWORD_LENGTH = 64
MAX_METADATA_ITEMS = 64
MAX_METADATA_VALUE = 1024
MAX_MAINTAINERS = 32
MAX_TEXT = 4096


@dataclass
class TemplateMetadata:
    entrypoint: str = DEFAULT_ENTRYPOINT
    heat_template_version: str | None = None
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    icon: str | None = None
    maintainers: list[dict[str, str]] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    parameter_groups: list[Any] = field(default_factory=list)
    resource_types: list[str] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Resource types of the nested templates the entry point uses: searched,
    # not shown (the detail describes the template callers deploy).
    nested_resource_types: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "entrypoint": self.entrypoint,
            "heat_template_version": self.heat_template_version,
            "description": self.description,
            "keywords": self.keywords,
            "metadata": self.metadata,
            "icon": self.icon,
            "maintainers": self.maintainers,
            "parameters": self.parameters,
            "parameter_groups": self.parameter_groups,
            "resource_types": self.resource_types,
            "outputs": self.outputs,
            "problems": self.problems,
        }

    def search_text(self) -> list[str]:
        """What full-text search matches beyond name, description and keywords."""
        return [*self.metadata.values(),
                *(str(p["name"]) for p in self.parameters),
                *self.resource_types, *self.nested_resource_types]


def read_metadata(tree: pygit2.Tree | None, *, checks: bool = True) -> TemplateMetadata:
    """The catalog metadata of the tree of one commit (None: an empty
    repository). Without ``checks`` the deployment findings (missing nested
    templates and get_file targets, Heat's refusals and warnings) are not
    looked for, and ``problems`` names only what could not be read: the
    index stores no problems, and the checks cost a reindex a fifth of its
    time."""
    meta = TemplateMetadata()
    if tree is None:
        return meta
    manifest = _load(tree, MANIFEST, meta, required=False)
    manifest = manifest if isinstance(manifest, dict) else {}
    entrypoint = manifest.get("entrypoint")
    if entrypoint is not None:
        try:
            meta.entrypoint = parse_entrypoint(entrypoint)
        except HeaterError as exc:
            meta.problems.append(f"{MANIFEST}: entrypoint: {exc.message}")
    entry = _load_document(tree, meta.entrypoint, meta, required=True)
    if entry is not None:
        _read_template(meta, entry.data)
        if checks:
            # What the push showed (its warnings, or errors of content pushed
            # before a check existed): a missing nested template or get_file
            # target, what Heat would refuse or warn about, in the entry point
            # and the nested templates it uses.
            meta.problems += [str(p) for p in deployment_findings(
                GitTreeSource(tree), entry, MAX_NESTED_TEMPLATES)]
        meta.nested_resource_types = _nested_resource_types(tree, meta.entrypoint, entry.data)
    _merge_manifest(meta, manifest)
    return meta


# Bounds on the nested templates read for one entry: a repository of
# templates nested in templates must not make indexing slow.
MAX_NESTED_TEMPLATES = 50


def _nested_resource_types(tree: pygit2.Tree, entry: str, data: Any) -> list[str]:
    """The resource types of every template nested (at any depth) under the
    entry point, each type once; unreadable ones are skipped (the entry's
    problems already name missing files)."""
    seen: set[str] = {entry}
    found: dict[str, None] = {}  # ordered, each once
    queue = [(entry, data)]
    while queue:
        path, document = queue.pop(0)
        nested = [r for r in references(document, path) if r.kind == "type"]
        if path != entry:  # the types it names, but not the files it nests
            files = {r.target for r in nested}
            found.update(dict.fromkeys(
                t for t in Template.from_data(document).resource_types() if t not in files))
        for reference in nested:
            target = reference.resolved
            if (reference.remote or target is None or target in seen
                    or len(seen) > MAX_NESTED_TEMPLATES):
                continue
            seen.add(target)
            try:
                blob = find_blob(tree, target)
                loaded = load_yaml(blob.data, target).data if blob is not None else None
            except HeaterError:
                continue
            if isinstance(loaded, dict):
                queue.append((target, loaded))
    return list(found)


def _load(tree: pygit2.Tree, path: str, meta: TemplateMetadata, *, required: bool) -> Any:
    doc = _load_document(tree, path, meta, required=required)
    return doc.data if doc is not None else None


def _load_document(tree: pygit2.Tree, path: str, meta: TemplateMetadata, *,
                   required: bool) -> YamlDocument | None:
    blob = find_blob(tree, path)
    if blob is None:
        if required:
            meta.problems.append(f"{path}: no such file")
        return None
    try:
        return load_yaml(blob.data, path)
    except HeaterError as exc:
        meta.problems.append(exc.message)
        return None


def _read_template(meta: TemplateMetadata, data: Any) -> None:
    template = Template.from_data(data)
    meta.heat_template_version = template.version
    meta.description = template.description[:MAX_TEXT]
    meta.parameters = [_parameter(name, spec) for name, spec in template.parameters.items()]
    meta.parameter_groups = [jsonable(g) for g in template.parameter_groups]
    meta.resource_types = template.resource_types()
    meta.outputs = [{"name": name, "description": _text(spec.get("description"))}
                    for name, spec in template.outputs.items()]


def _parameter(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    constraints = spec.get("constraints")
    return {
        "name": name,
        "type": _text(spec.get("type")) or None,
        "description": _text(spec.get("description")),
        "label": _text(spec.get("label")) or None,
        "default": jsonable(spec.get("default")),
        "hidden": spec.get("hidden") is True,
        "constraints": jsonable(constraints) if isinstance(constraints, list) else [],
    }


def _merge_manifest(meta: TemplateMetadata, manifest: dict[Any, Any]) -> None:
    description = manifest.get("description")
    if isinstance(description, str) and description.strip():
        meta.description = description.strip()[:MAX_TEXT]
    keywords = manifest.get("keywords")
    if isinstance(keywords, list):
        meta.keywords = normalise_keywords(k for k in keywords if isinstance(k, str))
    elif keywords is not None:
        meta.problems.append(f"{MANIFEST}: keywords must be a list of strings")
    metadata = manifest.get("metadata")
    if isinstance(metadata, dict):
        meta.metadata = {
            str(k)[:MAX_KEYWORD_LENGTH]: _scalar_text(v)[:MAX_METADATA_VALUE]
            for k, v in list(metadata.items())[:MAX_METADATA_ITEMS]
        }
    elif metadata is not None:
        meta.problems.append(f"{MANIFEST}: metadata must be a mapping")
    icon = manifest.get("icon")
    if isinstance(icon, str) and icon:
        # One pushed before icons were checked is not shown.
        if is_safe_icon(icon) and len(icon) <= MAX_METADATA_VALUE:
            meta.icon = icon
        else:
            meta.problems.append(f"{MANIFEST}: icon must be an http: or https: URL, "
                                 "or a path inside the repository")
    maintainers = manifest.get("maintainers")
    if isinstance(maintainers, list):
        meta.maintainers = [m for m in map(_maintainer, maintainers[:MAX_MAINTAINERS]) if m]


def normalise_keywords(keywords: Any) -> list[str]:
    """Keywords as the index stores and matches them: stripped, lower case,
    each once, in the order first given."""
    seen: dict[str, None] = {}
    for keyword in keywords:
        text = str(keyword).strip().lower()[:MAX_KEYWORD_LENGTH]
        if text:
            seen.setdefault(text)
    return list(seen)[:MAX_KEYWORDS]


def _maintainer(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"name": value[:MAX_METADATA_VALUE]}
    if isinstance(value, dict):
        return {str(k): _scalar_text(v)[:MAX_METADATA_VALUE] for k, v in value.items()
                if str(k) in ("name", "email", "url")}
    return {}


def _text(value: Any) -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return value if isinstance(value, str) else json_text(value)


def json_text(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True)


