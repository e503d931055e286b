"""The body python-heatclient sends to Heat's ``POST /stacks``, built from one
commit of a template repository.

``openstack stack create -t <url> [-e <url>...]`` reads the template and
every file it reaches over HTTP, then posts ``template``, ``files``,
``environment`` and ``environment_files``. This module builds the same body
straight from the git tree, as heatclient's ``template_utils`` would from
the repository's raw URLs at the commit's full SHA, so the bundle names
one content forever:

- ``template`` is the parsed entry point, each ``get_file`` and each
  ``type:`` ending in ``.yaml`` or ``.template`` (at any depth) replaced by
  the absolute URL it resolves to;
- ``files`` maps each such URL to the file's text (base64 lines when it is
  not UTF-8), or, when the file is itself a template, to the JSON of that
  template after the same treatment, recursively;
- with environments, each is parsed, the files its ``resource_registry``
  maps (keys other than ``base_url``, ``hooks`` and ``restricted_actions``,
  values without ``::``, at the top level and per resource) are collected
  the same way, the environment's JSON goes into ``files`` under its own
  URL, ``environment_files`` lists those URLs in order, and
  ``environment`` is their deep merge (heatclient always sends one).

Heatclient can fetch any URL; a bundle holds only the repository's own
files at the commit, so a reference that leaves it is refused, as is a
template that nests itself (heatclient would recurse forever). The files
read are bounded in number and size before each is read.
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlparse, urlsplit

import pygit2

from heater.errors import InvalidInput, TooLarge
from heater.git.trees import FileNotInTree
from heater.names import RepoId, check_repo_path
from heater.templates.yamlload import YamlError, load_yaml

# Heat refuses request bodies over 1 MiB (``max_json_body_size``) unless its
# operator raises the limit; four times that leaves room for such clouds
# while keeping one request's memory small.
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
# Far more than real templates use (the largest corpus template reaches a
# handful of files); the bound is what keeps a hostile tree cheap.
MAX_BUNDLE_FILES = 500

# What heatclient's template_format.parse looks for to call a file a template.
_VERSION_KEYS = ("HeatTemplateFormatVersion", "heat_template_version",
                 "AWSTemplateFormatVersion")
_ENVIRONMENT_SECTIONS = frozenset({
    "parameter_defaults", "parameters", "resource_registry", "encrypted_param_names",
    "event_sinks", "parameter_merge_strategies"})
_NESTED_SUFFIXES = (".yaml", ".template")

# Which (key, value) pairs of a mapping name a file to fetch.
Wanted = Callable[[Any, Any], bool]


class BundleTooLarge(TooLarge):
    code = "bundle_too_large"

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"the bundle would hold more than {limit} {what}; "
                         "a template this large cannot be sent to Heat in one request")
        self.limit = limit


class Unbundlable(InvalidInput):
    """The template at this commit cannot be bundled; ``where`` is the file
    (or the URL) the reason is about."""

    code = "unbundlable_template"

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    files: int = MAX_BUNDLE_FILES
    bytes: int = MAX_BUNDLE_BYTES


def raw_prefix(base_url: str, repo: RepoId, sha: str) -> str:
    """The raw URL of the repository's root at commit ``sha``, ending in ``/``."""
    return f"{base_url}/{repo.namespace}/{repo.name}/raw/{sha}/"


def build_bundle(git: pygit2.Repository, tree: pygit2.Tree, prefix: str, entrypoint: str,
                 environments: Sequence[str] = (), limits: Limits = Limits()) -> dict[str, Any]:
    """The ``POST /stacks`` body heatclient makes of ``entrypoint`` and
    ``environments`` (repository paths) read from ``prefix`` (see
    :func:`raw_prefix`), which serves ``tree``."""
    for path in environments:
        check_repo_path(path)  # 400 before anything is read
    collector = _Collector(git, tree, prefix, limits)
    template = collector.template(collector.url_of(entrypoint))
    environment: dict[str, Any] = {}
    environment_files: list[str] = []
    for path in environments:
        url = collector.url_of(path)
        parsed = collector.environment(url)
        collector.files[url] = dumps(parsed)
        environment = deep_update(environment, parsed)
        environment_files.append(url)
    body: dict[str, Any] = {"template": template, "files": collector.files,
                            "environment": environment}
    if environment_files:
        body["environment_files"] = environment_files
    return body


def dumps(value: Any) -> str:
    """JSON as heatclient writes it (oslo's ``jsonutils.dumps``): default
    separators, ASCII, bytes as their UTF-8 text and sets as lists."""
    return json.dumps(value, default=_primitive)


def _primitive(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def deep_update(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` merged into ``old`` as heatclient merges environments: mappings
    merge, anything else replaces, except that a null does not erase a mapping."""
    if old is None:
        old = {}
    for key, value in new.items():
        if isinstance(value, dict):
            old[key] = deep_update(old.get(key, {}), value)
        elif value is None and isinstance(old.get(key), dict):
            pass
        else:
            old[key] = value
    return old


def parse_template(text: str) -> Any:
    """What heatclient's ``template_format.parse`` returns for ``text``, or
    None where it raises (not JSON or YAML, or no template version key)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
    else:
        try:
            data = load_yaml(text.encode("utf-8"), "template").data
        except YamlError:
            # Heat refuses the templates our limits refuse (larger than its
            # max_template_size, or YAML bombs): fetched as plain files.
            return None
        if data is None:
            data = {}
    try:
        # ``in`` as heatclient applies it: a key of a mapping, but also a
        # substring of a document that is a single string.
        is_template = any(key in data for key in _VERSION_KEYS)
    except TypeError:
        return None
    return data if is_template else None


def _template_reference(key: Any, value: Any) -> bool:
    return isinstance(value, str) and (
        key == "get_file" or (key == "type" and value.endswith(_NESTED_SUFFIXES)))


def _registry_reference(key: Any, value: Any) -> bool:
    if key in ("base_url", "hooks", "restricted_actions") or isinstance(value, dict):
        return False
    if not isinstance(value, str):
        raise Unbundlable(f"resource_registry/{key}", "maps to neither a file nor a type")
    return "::" not in value


class _Collector:
    """Reads files of ``tree`` by their URLs under ``prefix``, within ``limits``."""

    def __init__(self, git: pygit2.Repository, tree: pygit2.Tree, prefix: str,
                 limits: Limits) -> None:
        self.git, self.tree, self.prefix, self.limits = git, tree, prefix, limits
        self.files: dict[str, str] = {}
        # Templates whose references are being followed, to refuse a cycle.
        self.open: list[str] = []
        self.read_count = 0
        self.read_bytes = 0

    def url_of(self, path: str) -> str:
        return self.prefix + quote(path)

    def _path_of(self, url: str) -> str:
        if not url.startswith(self.prefix):
            raise Unbundlable(url, "is outside the repository at this commit; "
                                   "a bundle holds only the repository's own files")
        return unquote(urlsplit(url).path[len(urlsplit(self.prefix).path):])

    def read(self, url: str) -> bytes:
        """The content of the file ``url`` names, counted against the limits."""
        path = self._path_of(url)
        try:
            entry = self.tree[check_repo_path(path)]
        except (KeyError, InvalidInput):
            entry = None
        if not isinstance(entry, pygit2.Blob):
            raise FileNotInTree(path, f"the bundle's commit ({url})")
        self.read_count += 1
        if self.read_count > self.limits.files:
            raise BundleTooLarge("files", self.limits.files)
        # The size from the object's header: an oversize blob is not inflated.
        self.read_bytes += self.git.odb.read_header(entry.id)[1]
        if self.read_bytes > self.limits.bytes:
            raise BundleTooLarge("bytes of files", self.limits.bytes)
        return entry.data

    def template(self, url: str, content: bytes | None = None) -> Any:
        """heatclient's ``get_template_contents(template_url=url)``: the parsed
        template, its references made absolute and their files collected."""
        if url in self.open:
            cycle = " -> ".join([*self.open[self.open.index(url):], url])
            raise Unbundlable(url, f"nests itself ({cycle}); Heat refuses recursive templates")
        data = parse_template(_text(self.read(url) if content is None else content))
        if data is None:
            raise Unbundlable(url, "is not a Heat template (no heat_template_version)")
        self.open.append(url)
        self._collect(data, _directory(url), _template_reference, recurse=True)
        self.open.pop()
        return data

    def environment(self, url: str) -> dict[str, Any]:
        """heatclient's ``process_environment_and_files`` for one environment."""
        content = self.read(url)
        try:
            data = load_yaml(content, url).data
        except YamlError as exc:
            raise Unbundlable(url, exc.reason) from None
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise Unbundlable(url, "an environment is a mapping")
        for section in data:
            if section not in _ENVIRONMENT_SECTIONS:
                raise Unbundlable(url, f"environment has wrong section {section!r}")
        registry = data.get("resource_registry")
        if registry is None:
            return data
        if not isinstance(registry, dict):
            raise Unbundlable(url, "resource_registry is a mapping")
        base = registry.get("base_url", _directory(url))
        if not isinstance(base, str):
            raise Unbundlable(url, "resource_registry/base_url is a URL")
        self._collect(registry, base, _registry_reference, recurse=False)
        for name, entry in (registry.get("resources") or {}).items():
            if not isinstance(entry, dict):
                raise Unbundlable(url, f"resource_registry/resources/{name} is a mapping")
            entry_base = entry.get("base_url", base)
            if not isinstance(entry_base, str):
                raise Unbundlable(url, f"resource_registry/resources/{name}/base_url is a URL")
            self._collect(entry, entry_base, _registry_reference, recurse=False)
        return data

    def _collect(self, data: Any, base: str, wanted: Wanted, *, recurse: bool) -> None:
        """heatclient's ``get_file_contents``: every wanted reference in
        ``data`` (at any depth when ``recurse``) replaced by its absolute URL,
        its file added to ``files``."""
        if recurse and isinstance(data, (dict, list)):
            for value in data.values() if isinstance(data, dict) else data:
                self._collect(value, base, wanted, recurse=True)
        if not isinstance(data, dict):
            return
        if base and not base.endswith("/"):
            base += "/"
        for key, value in data.items():
            if not wanted(key, value):
                continue
            url = urljoin(base, value)
            if url not in self.files:
                content = self.read(url)
                text = _text(content)
                if parse_template(text) is not None:
                    text = dumps(self.template(url, content))
                self.files[url] = text
            data[key] = url


def _text(content: bytes) -> str:
    """A file as heatclient's ``read_url_content`` hands it on: its text, or
    base64 lines when it is not UTF-8."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return base64.encodebytes(content).decode("ascii")


def _directory(url: str) -> str:
    """heatclient's ``base_url_for_url``: the URL of the file's directory."""
    return urljoin(url, posixpath.dirname(urlparse(url).path))


__all__ = ["MAX_BUNDLE_BYTES", "MAX_BUNDLE_FILES", "BundleTooLarge", "Limits", "Unbundlable",
           "build_bundle", "deep_update", "dumps", "parse_template", "raw_prefix"]
