"""Comparing two commits of a template repository: text, semantics, verdict."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from heater.diff.getfile import include_files, includes_any
from heater.diff.semantic import Entry, FileSummary, summarize
from heater.diff.similarity import looks_binary
from heater.diff.structural import MISSING
from heater.diff.text import FileDiff, TextDiff, text_diff
from heater.diff.verdict import Impact, VersionCheck
from heater.git.trees import walk_files
from heater.repos.resolve import Resolved, resolve
from heater.templates.heateryaml import entrypoint
from heater.templates.hot import YAML_SUFFIXES, FileKind, classify
from heater.templates.parsed import PARSED
from heater.templates.yamlload import YamlError


@dataclass
class Comparison:
    """Everything that differs between two commits.

    ``verdict`` is the highest impact of any semantic entry, at least
    ``patch`` when any file changed, ``none`` when nothing did.
    """

    text: TextDiff
    files: list[FileSummary]

    @property
    def verdict(self) -> Impact:
        if not self.text.files:
            return Impact.NONE
        return max([Impact.PATCH, *(f.impact for f in self.files)])

    def reasons(self, impact: Impact) -> list[str]:
        """Short descriptions of the entries at ``impact``, for messages."""
        return [f"{f.path}: {'/'.join(map(str, e.path)) or 'file'} {e.change}: {e.reason}"
                for f in self.files for e in f.entries if e.impact is impact]


def compare_commits(git: pygit2.Repository, old: pygit2.Commit, new: pygit2.Commit,
                    *, patches: bool = True, binary_patches: bool = False) -> Comparison:
    """The text diff (see :func:`~heater.diff.text.text_diff` for the
    options) and the semantic summary of every changed HOT file, and of
    every unchanged one that includes a changed file with ``get_file``."""
    text = text_diff(git, old, new, patches=patches, binary_patches=binary_patches)
    sides = _Sides(old.tree, new.tree, (entrypoint(old.tree), entrypoint(new.tree)),
                   Path(git.path))
    files = []
    for changed in [*text.files, *_includers(sides, text)]:
        summary = _summary(git, changed, sides)
        if summary is not None:
            files.append(summary)
    moved = _moved_entry_point(git, old, new, text, sides)
    if moved is not None:
        files = [f for f in files if f.path != moved.path] + [moved]
    return Comparison(text, files)


@dataclass(frozen=True)
class _Sides:
    """The two trees compared, and their entry points."""

    old: pygit2.Tree
    new: pygit2.Tree
    entry_points: tuple[str, str]
    # Where large documents parsed before are kept (heater.templates.parsed).
    repo_path: Path

    def with_files(self, doc: Any, path: str, *, new: bool) -> Any:
        """``doc`` (at ``path`` on one side) with its ``get_file`` calls
        standing for the content they read on that side."""
        if doc is MISSING or isinstance(doc, YamlError):
            return doc
        tree = self.new if new else self.old
        return include_files(doc, path, lambda target: _blob_id(tree, target))


def _includers(sides: _Sides, text: TextDiff) -> list[FileDiff]:
    """Unchanged YAML files of ``tree`` that ``get_file`` a changed file:
    what Heat sees of them changed with it."""
    changed = {p for f in text.files for p in (f.path, f.old_path) if p is not None}
    listed = {f.path for f in text.files}
    found: list[FileDiff] = []
    if not changed:
        return found
    for path, blob in _yaml_blobs(sides.new):
        if path in listed or b"get_file" not in blob.data:
            continue
        doc = _parse(blob.data, path, str(blob.id), sides.repo_path)
        if not isinstance(doc, YamlError) and includes_any(doc, path, changed):
            found.append(FileDiff("modified", path, path, str(blob.id), str(blob.id)))
    return found


def _yaml_blobs(tree: pygit2.Tree) -> Iterator[tuple[str, pygit2.Blob]]:
    return ((path, blob) for path, blob in walk_files(tree) if path.endswith(YAML_SUFFIXES))


def _moved_entry_point(git: pygit2.Repository, old: pygit2.Commit, new: pygit2.Commit,
                       text: TextDiff, sides: _Sides) -> FileSummary | None:
    """When heater.yaml names another entry point, what callers deploy is
    the old entry point before and the new one after: compare those two."""
    old_entry, new_entry = sides.entry_points
    if old_entry == new_entry or any(f.status == "renamed" and f.old_path == old_entry
                                     and f.path == new_entry for f in text.files):
        return None
    pair = FileDiff("modified", new_entry, old_entry, _blob_id(old.tree, old_entry),
                    _blob_id(new.tree, new_entry))
    return _summary(git, pair, sides, force_entry=True)


def _blob_id(tree: pygit2.Tree, path: str) -> str | None:
    try:
        entry = tree[path]
    except KeyError:
        return None
    return str(entry.id) if isinstance(entry, pygit2.Blob) else None


def _summary(git: pygit2.Repository, changed: FileDiff, sides: _Sides,
             force_entry: bool = False) -> FileSummary | None:
    old_path = changed.old_path or changed.path
    if changed.binary or not (old_path.endswith(YAML_SUFFIXES)
                              or changed.path.endswith(YAML_SUFFIXES)):
        return None
    entry_points = sides.entry_points
    # The entry point of `to`; or, when it was removed, the one of `from`.
    is_entry = force_entry or changed.path == entry_points[1] or (
        changed.status == "removed" and old_path == entry_points[0] == entry_points[1])
    old_bytes, new_bytes = _data(git, changed.old_id), _data(git, changed.new_id)
    if any(data is not None and looks_binary(data) for data in (old_bytes, new_bytes)):
        return None
    old = _parse(old_bytes, old_path, changed.old_id, sides.repo_path)
    new = _parse(new_bytes, changed.path, changed.new_id, sides.repo_path)
    # Walking a large document for get_file calls it cannot hold costs more
    # than taking it from the cache.
    if _may_include(old_bytes):
        old = sides.with_files(old, old_path, new=False)
    if _may_include(new_bytes):
        new = sides.with_files(new, changed.path, new=True)
    if isinstance(new, YamlError):
        was = classify(old) if not isinstance(old, YamlError) and old is not MISSING \
            else FileKind.OTHER
        if was is FileKind.OTHER and not is_entry:
            return None  # some other YAML file, broken: not the template's business
        kind = was.value if was is not FileKind.OTHER else FileKind.TEMPLATE.value
        return FileSummary(changed.path, changed.old_path, kind, _role(is_entry, kind),
                           [Entry("file", None, "changed", (), Impact.MAJOR,
                                  f"cannot be read any more: {new.message}")])
    if isinstance(old, YamlError):
        old = MISSING  # a broken file that gets fixed reads as a new one
    kind, entries = summarize(old, new, entrypoint=is_entry)
    if kind == FileKind.OTHER.value:
        return None
    return FileSummary(changed.path, changed.old_path, kind, _role(is_entry, kind), entries)


def _role(is_entry: bool, kind: str) -> str:
    if kind == FileKind.ENVIRONMENT.value:
        return "environment"
    return "entrypoint" if is_entry else "nested"


def _data(git: pygit2.Repository, blob_id: str | None) -> bytes | None:
    blob = git.get(blob_id) if blob_id is not None else None
    return blob.data if isinstance(blob, pygit2.Blob) else None


def _parse(data: bytes | None, path: str, blob_id: str | None, repo_path: Path) -> Any:
    """The document (a copy of its own, parsed at most once per blob id, see
    :mod:`~heater.templates.parsed`), :data:`MISSING` when there is no file,
    or the YamlError."""
    if data is None or blob_id is None:
        return MISSING
    try:
        return PARSED.load(blob_id, data, path, repo_path)
    except YamlError as exc:
        return exc


def _may_include(data: bytes | None) -> bool:
    """Whether YAML read from ``data`` may have a ``get_file`` key: spelt
    out, or with escapes in a double-quoted key (the only other way)."""
    return data is not None and (b"get_file" in data or b"\\" in data)


@dataclass
class RefComparison:
    """A comparison of two refs as a user named them."""

    old: Resolved
    new: Resolved
    comparison: Comparison

    @property
    def version_check(self) -> VersionCheck | None:
        """Set when both refs are versions: is the bump large enough?"""
        if self.old.version is None or self.new.version is None:
            return None
        return VersionCheck(self.old.version.version, self.new.version.version,
                            self.comparison.verdict)

    def as_json(self) -> dict[str, Any]:
        """The comparison for the API. Once the patch budget is spent, the
        files after it are counted (``files_omitted``), not listed: a diff of
        100,000 files is not 100,000 entries without a patch."""
        text = self.comparison.text
        check = self.version_check
        listed = next((i for i, f in enumerate(text.files) if f.cut == "diff_too_large"),
                      len(text.files))
        return {
            "from": self.old.as_json(),
            "to": self.new.as_json(),
            "verdict": str(self.comparison.verdict),
            "version_check": check.as_json() if check else None,
            "truncated": text.truncated,
            "renames_limited": text.renames_limited,
            "stats": {"files": len(text.files), "additions": text.additions,
                      "deletions": text.deletions},
            "files": [f.as_json() for f in text.files[:listed]],
            "files_omitted": len(text.files) - listed,
            "semantic": [f.as_json() for f in self.comparison.files],
        }


def compare_refs(git: pygit2.Repository, old_ref: str, new_ref: str, *,
                 binary_patches: bool = False) -> RefComparison:
    """Resolve both refs (:class:`~heater.repos.resolve.UnknownRef` names the one
    that does not resolve) and compare their commits."""
    old, new = resolve(git, old_ref), resolve(git, new_ref)
    return RefComparison(old, new, compare_commits(git, old.commit, new.commit,
                                                   binary_patches=binary_patches))
