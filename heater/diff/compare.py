"""Comparing two commits of a template repository: text, semantics, verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygit2

from heater.diff.metadata import entrypoint
from heater.diff.semantic import Entry, FileSummary, summarize
from heater.diff.structural import MISSING
from heater.diff.text import FileDiff, TextDiff, text_diff
from heater.diff.verdict import Impact, VersionCheck
from heater.hot import YAML_SUFFIXES
from heater.hotyaml import YamlError, load_yaml
from heater.refs import Resolved, resolve


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


def compare_commits(git: pygit2.Repository, old: pygit2.Commit,
                    new: pygit2.Commit) -> Comparison:
    text = text_diff(git, old, new)
    entry_points = (entrypoint(old.tree), entrypoint(new.tree))
    files = []
    for changed in text.files:
        summary = _summary(git, changed, entry_points)
        if summary is not None:
            files.append(summary)
    moved = _moved_entry_point(git, old, new, text, entry_points)
    if moved is not None:
        files = [f for f in files if f.path != moved.path] + [moved]
    return Comparison(text, files)


def _moved_entry_point(git: pygit2.Repository, old: pygit2.Commit, new: pygit2.Commit,
                       text: TextDiff, entry_points: tuple[str, str]) -> FileSummary | None:
    """When heater.yaml names another entry point, what callers deploy is
    the old entry point before and the new one after: compare those two."""
    old_entry, new_entry = entry_points
    if old_entry == new_entry or any(f.status == "renamed" and f.old_path == old_entry
                                     and f.path == new_entry for f in text.files):
        return None
    pair = FileDiff("modified", new_entry, old_entry, _blob_id(old.tree, old_entry),
                    _blob_id(new.tree, new_entry))
    return _summary(git, pair, entry_points, force_entry=True)


def _blob_id(tree: pygit2.Tree, path: str) -> str | None:
    try:
        entry = tree[path]
    except KeyError:
        return None
    return str(entry.id) if isinstance(entry, pygit2.Blob) else None


def _summary(git: pygit2.Repository, changed: FileDiff, entry_points: tuple[str, str],
             force_entry: bool = False) -> FileSummary | None:
    old_path = changed.old_path or changed.path
    if changed.binary or not (old_path.endswith(YAML_SUFFIXES)
                              or changed.path.endswith(YAML_SUFFIXES)):
        return None
    # The entry point of `to`; or, when it was removed, the one of `from`.
    is_entry = force_entry or changed.path == entry_points[1] or (
        changed.status == "removed" and old_path == entry_points[0] == entry_points[1])
    try:
        old = _load(git, changed.old_id, old_path)
    except YamlError:
        old = MISSING  # a broken file that gets fixed reads as a new one
    try:
        new = _load(git, changed.new_id, changed.path)
    except YamlError as exc:
        return FileSummary(changed.path, changed.old_path, "template", _role(is_entry, "template"),
                           [Entry("file", None, "changed", (), Impact.MAJOR,
                                  f"cannot be read any more: {exc.message}")])
    kind, entries = summarize(old, new, entrypoint=is_entry)
    if kind == "other":
        return None
    return FileSummary(changed.path, changed.old_path, kind, _role(is_entry, kind), entries)


def _role(is_entry: bool, kind: str) -> str:
    if kind == "environment":
        return "environment"
    return "entrypoint" if is_entry else "nested"


def _load(git: pygit2.Repository, blob_id: str | None, path: str) -> Any:
    if blob_id is None:
        return MISSING
    blob = git.get(blob_id)
    if not isinstance(blob, pygit2.Blob):
        return MISSING
    return load_yaml(blob.data, path).data


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
        text = self.comparison.text
        check = self.version_check
        return {
            "from": _ref_json(self.old),
            "to": _ref_json(self.new),
            "verdict": str(self.comparison.verdict),
            "version_check": check.as_json() if check else None,
            "truncated": text.truncated,
            "stats": {"files": len(text.files), "additions": text.additions,
                      "deletions": text.deletions},
            "files": [f.as_json() for f in text.files],
            "semantic": [f.as_json() for f in self.comparison.files],
        }


def _ref_json(resolved: Resolved) -> dict[str, Any]:
    return {"ref": resolved.ref, "kind": resolved.kind, "commit": resolved.sha,
            "version": str(resolved.version.version) if resolved.version else None}


def compare_refs(git: pygit2.Repository, old_ref: str, new_ref: str) -> RefComparison:
    """Resolve both refs (:class:`~heater.refs.UnknownRef` names the one
    that does not resolve) and compare their commits."""
    old, new = resolve(git, old_ref), resolve(git, new_ref)
    return RefComparison(old, new, compare_commits(git, old.commit, new.commit))
