"""Validation of a template repository's content before any ref moves.

One set of rules for every way content arrives: the git pre-receive hook
checks the pushed trees in git's quarantine, the REST API checks files
before it commits them, and tagging a version checks the tagged commit.

Rules, for the files that changed (every file when there is nothing to
compare with):

- every YAML file (``.yaml``, ``.yml``, ``.template``) loads within the
  limits of :mod:`heater.templates.yamlload` (size, depth, alias expansion);
- ``heater.yaml`` holds only known settings, each of the right type
  (:func:`heater.templates.heateryaml.check_settings`);
- the entry point (``template.yaml``, or the ``entrypoint`` of
  ``heater.yaml``) exists and is a template;
- a template has a known ``heat_template_version`` and a ``resources`` or
  ``outputs`` section whose entries are mappings;
- a YAML mapping whose every key is an environment section or a typo of
  one is an environment with a wrong section, which Heat refuses (rule
  ``unknown-section``);
- every template passes the checks Heat makes without a cloud
  (:mod:`heater.templates.heatcheck`): its errors refuse, its warnings are
  reported beside an accepted push; ``heater.yaml`` may lower a rule to a
  warning (``validation: {warn: [...]}``);
- every relative ``get_file`` target, nested template ``type:`` (anywhere
  under ``resources``, as in a group's ``resource_def``) and
  environment ``resource_registry`` file exists in the same tree (a
  registry's ``base_url`` is followed as heatclient follows it: the files
  it maps become URLs, judged as URLs written out are). When
  files were deleted, every file's references are checked again, since an
  unchanged template may point at what is gone.

Problems read ``<file>:<line>: <reason>``, the form compilers use, so that
editors and terminals link them to the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pygit2

from heater.errors import InvalidInput
from heater.git.trees import walk_files
from heater.names import InvalidName, nearest
from heater.templates.heatcheck import Context, Finding, Rule, Severity, check_template
from heater.templates.heateryaml import (
    DEFAULT_ENTRYPOINT,
    METADATA_FILE,
    check_settings,
    lowered_rules,
    parse_entrypoint,
)
from heater.templates.hot import (
    ENVIRONMENT_SECTIONS,
    KNOWN_VERSIONS,
    YAML_SUFFIXES,
    FileKind,
    Reference,
    classify,
    references,
    resolve_relative,
)
from heater.templates.parsed import NewDocuments
from heater.templates.yamlload import YamlDocument, YamlError, load_yaml

# Enough for a user to fix several things in one go, few enough to read.
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    reason: str
    # A warning is reported but does not refuse the content.
    warning: bool = False

    def __str__(self) -> str:
        reason = f"warning: {self.reason}" if self.warning else self.reason
        return f"{self.path}:{self.line}: {reason}" if self.line else \
            f"{self.path}: {reason}"


class ValidationFailed(InvalidInput):
    """Content that breaks the rules above; ``problems`` lists every finding."""

    code = "validation_failed"

    def __init__(self, problems: list[Problem]) -> None:
        shown = [str(p) for p in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
        super().__init__("\n".join(shown))
        self.problems = problems


class FileSource(Protocol):
    """The files of one tree, read by path."""

    def read(self, path: str) -> bytes | None:
        """The file's content, or None if there is no file at ``path``."""

    def paths(self) -> Iterable[str]:
        """Every file path in the tree."""

    def parsed(self, path: str, data: Any) -> None:
        """Told of every file the validation parsed, with its document."""


class GitTreeSource:
    """A pygit2 tree (objects may live in git's quarantine). The documents
    parsed from it go to ``documents``, for the diffs to come."""

    def __init__(self, tree: pygit2.Tree, documents: NewDocuments | None = None) -> None:
        self.tree = tree
        self.documents = documents

    def read(self, path: str) -> bytes | None:
        try:
            entry = self.tree[path]
        except (KeyError, ValueError):
            return None
        if not isinstance(entry, pygit2.Blob):
            return None
        data: bytes = entry.data
        return data

    def paths(self) -> Iterator[str]:
        return (path for path, _blob in walk_files(self.tree))

    def parsed(self, path: str, data: Any) -> None:
        if self.documents is None:
            return
        entry = self.tree[path]
        if isinstance(entry, pygit2.Blob):
            self.documents.add(str(entry.id), entry.size, data)


class MappingSource:
    """Files given as a mapping of path to content (API writes)."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def paths(self) -> Iterable[str]:
        return self.files.keys()

    def parsed(self, path: str, data: Any) -> None:
        pass  # files with no blob id yet


@dataclass(frozen=True)
class Changes:
    """What changed between a validated tree and the new one; ``None`` for
    ``changed`` means everything is new."""

    changed: frozenset[str] | None
    deleted: bool = False


EVERYTHING = Changes(None)


def changes_between(git: pygit2.Repository, old: pygit2.Tree | None,
                    new: pygit2.Tree) -> Changes:
    """The paths added or modified from ``old`` to ``new``, and whether any
    path went away (renames count as both)."""
    if old is None:
        return EVERYTHING
    diff = old.diff_to_tree(new)
    changed: set[str] = set()
    deleted = False
    for delta in diff.deltas:
        if delta.status == pygit2.enums.DeltaStatus.DELETED:
            deleted = True
        else:
            changed.add(delta.new_file.path)
            if delta.old_file.path != delta.new_file.path:
                deleted = True
    return Changes(frozenset(changed), deleted)


def validate(source: FileSource, changes: Changes = EVERYTHING) -> list[Problem]:
    """Every problem with the tree ``source`` given what ``changes``; empty
    when it may be accepted. Warnings are left out: see :func:`findings`."""
    return [p for p in findings(source, changes) if not p.warning]


def findings(source: FileSource, changes: Changes = EVERYTHING) -> list[Problem]:
    """Every problem and warning with the tree ``source``, in file order."""
    return _Validator(source, changes).run()


def check(source: FileSource, changes: Changes = EVERYTHING) -> None:
    """Raise :class:`ValidationFailed` unless ``source`` is acceptable."""
    problems = validate(source, changes)
    if problems:
        raise ValidationFailed(problems)


def is_yaml(path: str) -> bool:
    return path.endswith(YAML_SUFFIXES)


class _Validator:
    def __init__(self, source: FileSource, changes: Changes) -> None:
        self.source = source
        self.changes = changes
        self.problems: list[Problem] = []
        self.loaded: dict[str, YamlDocument | None] = {}
        self.lowered: frozenset[str] = frozenset()
        self._registry: dict[str, str] | None = None
        # A document's references, walked once for both their uses.
        self._references: dict[str, list[Reference]] = {}

    def _changed(self, path: str) -> bool:
        return self.changes.changed is None or path in self.changes.changed

    def _problem(self, path: str, line: int | None, reason: str) -> None:
        self.problems.append(Problem(path, line, reason))

    def _load(self, path: str) -> YamlDocument | None:
        """The parsed file (None when missing or broken, with the problem
        recorded once)."""
        if path not in self.loaded:
            content = self.source.read(path)
            doc = None
            if content is not None:
                try:
                    doc = load_yaml(content, path)
                except YamlError as exc:
                    self._problem(path, exc.line, exc.reason)
                else:
                    self.source.parsed(path, doc.data)
            self.loaded[path] = doc
        return self.loaded[path]

    def _references_of(self, doc: YamlDocument) -> list[Reference]:
        if doc.path not in self._references:
            self._references[doc.path] = references(doc.data, doc.path)
        return self._references[doc.path]

    def run(self) -> list[Problem]:
        entry = self._entrypoint()
        if entry is not None:
            self._check_entrypoint(entry)
        everything = self.changes.changed is None or self.changes.deleted
        paths = self.source.paths() if everything else (self.changes.changed or ())
        for path in sorted(paths):
            if not is_yaml(path):
                continue
            doc = self._load(path)
            if doc is None:
                continue
            if self._changed(path):
                self._check_document(doc)
            self._check_references(doc)
        # In file and line order, as a compiler reports them.
        return sorted(self.problems, key=lambda p: (p.path, p.line or 0))

    def _entrypoint(self) -> str | None:
        meta = self._load(METADATA_FILE) if self.source.read(METADATA_FILE) is not None \
            else None
        if meta is not None and self._changed(METADATA_FILE):
            for setting in check_settings(meta.data):
                self._problem(METADATA_FILE, meta.line_of(*setting.keys), setting.reason)
        entry = DEFAULT_ENTRYPOINT
        if meta is not None and isinstance(meta.data, dict):
            self.lowered = lowered_rules({str(k): v for k, v in meta.data.items()})
        if meta is not None and isinstance(meta.data, dict) and "entrypoint" in meta.data:
            try:
                entry = parse_entrypoint(meta.data["entrypoint"])
            except InvalidInput as exc:
                reason = (f"entrypoint {exc.value!r} {exc.reason}" if isinstance(exc, InvalidName)
                          else exc.message)
                self._problem(METADATA_FILE, meta.line_of("entrypoint"), reason)
                return None
        return entry

    def _check_entrypoint(self, entry: str) -> None:
        if self.source.read(entry) is None:
            self._problem(entry, None, "the entry point is missing: a template repository "
                          f"needs {DEFAULT_ENTRYPOINT} (or the entrypoint named in "
                          f"{METADATA_FILE})")
            return
        doc = self._load(entry)
        if doc is not None and classify(doc.data) is not FileKind.TEMPLATE:
            self._problem(entry, doc.line_of(),
                          "the entry point is not a Heat template: heat_template_version "
                          "is missing")

    def _check_document(self, doc: YamlDocument) -> None:
        kind = classify(doc.data)
        if kind is FileKind.OTHER:
            self._check_misspelled_environment(doc)
        if kind is not FileKind.TEMPLATE:
            return  # environments and other YAML only need to parse
        data: dict[Any, Any] = doc.data
        version = data.get("heat_template_version")
        if str(version) not in KNOWN_VERSIONS:
            self._problem(doc.path, doc.line_of("heat_template_version"),
                          f"unknown heat_template_version {version!r}; known: "
                          + ", ".join(sorted(KNOWN_VERSIONS)))
        present = [s for s in ("resources", "outputs") if data.get(s) is not None]
        if not present:
            self._problem(doc.path, doc.line_of(),
                          "a template needs a resources or an outputs section")
        for section in present:
            self._check_section(doc, section, data[section])
        self._check_as_heat(doc)

    def _check_misspelled_environment(self, doc: YamlDocument) -> None:
        """An environment with a typo in a section (``paramters:``) is no
        environment to :func:`classify`, so its mappings would be silently
        ignored, and Heat refuses it ("environment has wrong section"). A
        mapping whose keys are all sections or near one is taken for one;
        other YAML (a key near no section) is left alone."""
        if not isinstance(doc.data, dict) or "heat_template_version" in doc.data:
            return
        wrong = {str(k): nearest(str(k), ENVIRONMENT_SECTIONS) for k in doc.data
                 if str(k) not in ENVIRONMENT_SECTIONS}
        if not wrong or not all(wrong.values()) or self._read_by_get_file(doc.path):
            return
        severity = Severity.WARNING if Rule.UNKNOWN_SECTION in self.lowered else Severity.ERROR
        for section, near in wrong.items():
            self.problems.append(_as_problem(doc, Finding(
                (section,), Rule.UNKNOWN_SECTION,
                f"unknown section {section!r} for an environment (did you mean {near!r}?)",
                severity)))

    def _read_by_get_file(self, path: str) -> bool:
        """Whether a template of the tree includes ``path`` with get_file: its
        content is then data for a resource, not an environment. Rarely
        asked (only for a file that reads as a misspelled environment), so
        the templates are read only then."""
        for other in sorted(self.source.paths()):
            doc = self._load(other) if is_yaml(other) and other != path else None
            if doc is not None and classify(doc.data) is FileKind.TEMPLATE and any(
                    ref.kind == "get_file" and ref.resolved == path
                    for ref in self._references_of(doc)):
                return True
        return False

    def _check_as_heat(self, doc: YamlDocument) -> None:
        def nested(target: str) -> str | None:
            return resolve_relative(doc.path, target)

        context = Context(nested_parameters=self._nested_parameters(doc),
                          lowered=self.lowered)
        found = check_template(doc.data, nested, context)
        # Only now read the environments: most templates need none, and
        # without any mapping the second pass would find the same again.
        if any(f.rule in _MAPPABLE for f in found) and self._environment_registry():
            context = Context(self._environment_registry(), context.nested_parameters,
                              self.lowered)
            found = check_template(doc.data, nested, context)
        for finding in found:
            self.problems.append(_as_problem(doc, finding))

    def _nested_parameters(self, doc: YamlDocument) -> dict[str, dict[str, Any]]:
        parameters: dict[str, dict[str, Any]] = {}
        for ref in self._references_of(doc):
            if ref.kind != "type" or ref.resolved is None or ref.resolved in parameters:
                continue
            nested = self._load(ref.resolved) if self.source.read(ref.resolved) else None
            if nested is not None and classify(nested.data) is FileKind.TEMPLATE:
                found = nested.data.get("parameters")
                parameters[ref.resolved] = found if isinstance(found, dict) else {}
        return parameters

    def _environment_registry(self) -> dict[str, str]:
        """Every type an environment of the tree maps, to what it maps it to."""
        if self._registry is None:
            self._registry = {}
            for path in sorted(self.source.paths()):
                doc = self._load(path) if is_yaml(path) else None
                if doc is None or classify(doc.data) is not FileKind.ENVIRONMENT:
                    continue
                registry = doc.data.get("resource_registry")
                for name, target in (registry.items() if isinstance(registry, dict) else ()):
                    if isinstance(target, str):
                        self._registry[str(name)] = target
                    elif name == "resources" and isinstance(target, dict):
                        for resource, mapping in target.items():
                            for rtype, to in (mapping.items() if isinstance(mapping, dict)
                                              else ()):
                                self._registry[f"resources.{resource}.{rtype}"] = str(to)
        return self._registry

    def _check_section(self, doc: YamlDocument, section: str, value: Any) -> None:
        if not isinstance(value, dict):
            self._problem(doc.path, doc.line_of(section),
                          f"{section} must be a mapping of names to definitions")
            return
        for name, definition in value.items():
            if not isinstance(definition, dict):
                self._problem(doc.path, doc.line_of(section, str(name)),
                              f"{section}.{name} must be a mapping")
            elif section == "resources" and not isinstance(definition.get("type"), str):
                self._problem(doc.path, doc.line_of(section, str(name)),
                              f"resource {name} needs a type")

    def _check_references(self, doc: YamlDocument) -> None:
        self.problems.extend(reference_problems(doc, self.source, self._references_of(doc)))


# Findings that an environment's resource_registry may answer.
_MAPPABLE = frozenset({Rule.UNKNOWN_RESOURCE_TYPE, Rule.UNKNOWN_PLUGIN_TYPE})


def _as_problem(doc: YamlDocument, finding: Finding) -> Problem:
    # The rule's name, so that a repository can lower it in heater.yaml.
    return Problem(doc.path, doc.line_of(*finding.keys), f"{finding.message} [{finding.rule}]",
                   warning=finding.severity == "warning")


def deployment_findings(source: FileSource, entry: YamlDocument,
                        max_nested: int) -> list[Problem]:
    """What a push reports about the templates a deployment of ``entry``
    uses: the entry point and the nested templates it reaches (at most
    ``max_nested``), their references and Heat's checks, read as a push
    reads them (with the tree's environments, nested templates and
    heater.yaml's lowered rules), so that the catalog keeps the warnings
    the pusher saw. heater.yaml's own problems are left to the caller."""
    validator = _Validator(source, EVERYTHING)
    validator.loaded[entry.path] = entry
    meta = validator._load(METADATA_FILE) if source.read(METADATA_FILE) is not None \
        else None
    if meta is not None and isinstance(meta.data, dict):
        validator.lowered = lowered_rules({str(k): v for k, v in meta.data.items()})
    validator.problems = []
    seen, queue = {entry.path}, [entry]
    while queue:
        doc = queue.pop(0)
        if classify(doc.data) is FileKind.TEMPLATE:
            validator._check_as_heat(doc)
        validator._check_references(doc)
        for ref in validator._references_of(doc):
            if (ref.kind != "type" or ref.resolved is None or ref.resolved in seen
                    or len(seen) > max_nested or source.read(ref.resolved) is None):
                continue
            seen.add(ref.resolved)
            if (nested := validator._load(ref.resolved)) is not None:
                queue.append(nested)
    return validator.problems


# What urljoin takes for an absolute URL (file:/etc/passwd has no "//").
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def reference_problems(doc: YamlDocument, source: FileSource,
                       refs: list[Reference] | None = None) -> list[Problem]:
    """Every local file ``doc`` refers to (``refs``, when the caller has
    them already) that is not in ``source`` or lies outside the repository
    (remote references are Heat's to fetch)."""
    found: list[Problem] = []
    for ref in references(doc.data, doc.path) if refs is None else refs:
        line = doc.line_of(*ref.keys)
        if ref.kind == "get_file" and (ref.remote or _URL_SCHEME.match(ref.target)):
            # python-heatclient reads a get_file URL on the deploying
            # machine: file:///etc/passwd, a cloud's metadata service.
            found.append(Problem(doc.path, line, f"get_file target {ref.target!r} is a URL; "
                                 "get_file may only name a file of this repository, by a "
                                 "relative path"))
            continue
        if ref.remote and not ref.target.lower().startswith(("http://", "https://")):
            # heatclient opens any URL it is given, on the deploying machine:
            # a file: (or ftp:, data:) nested template reads what it names there.
            label = "nested template" if ref.kind == "type" else "resource_registry file"
            found.append(Problem(doc.path, line, f"{label} {ref.target!r} is a URL that is not "
                                 "http(s); name a file of this repository by a relative path, "
                                 "or an http(s) URL"))
            continue
        if ref.remote:
            continue  # a nested template URL, fetched by Heat at deploy time
        if ref.bad_base_url is not None:
            # heatclient joins the file to base_url as it stands and opens
            # the result as a URL: a relative one opens nothing.
            found.append(Problem(doc.path, line, f"resource_registry file {ref.target!r} is "
                                 f"joined to base_url {ref.bad_base_url!r}, which is not a "
                                 "URL, and heatclient cannot open the result; remove "
                                 "base_url to name files relative to this environment, or "
                                 "make it an http(s) URL"))
            continue
        label = "get_file target" if ref.kind == "get_file" else (
            "nested template" if ref.kind == "type" else "resource_registry file")
        if ref.resolved is None:
            found.append(Problem(doc.path, line,
                                 f"{label} {ref.target!r} is outside the repository"))
        elif source.read(ref.resolved) is None:
            found.append(Problem(doc.path, line, f"{label} {ref.target!r} does not exist "
                                 f"(no file {ref.resolved} in this tree)"))
    return found
