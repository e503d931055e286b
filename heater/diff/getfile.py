"""``get_file`` targets as part of the value that includes them.

Heat never sees ``{get_file: scripts/db_init.sh}``: the client sends the
file along and Heat puts its content in place of the call. So a changed
file is a changed property value of every resource that includes it, even
though no template's text changed. For the diff, each local ``get_file``
call is replaced by a :class:`FileRef`: a value that is equal to another
exactly when both name the same content (the same blob, or both nothing),
so that the structural diff reports a change where Heat would see one, and
none when a file only moved (its reference updated along with it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from heater.diff.structural import Change
from heater.templates.hot import references

# The blob ID of a repository path on one side of the diff, None if no file is there.
BlobLookup = Callable[[str], str | None]


@dataclass(frozen=True, eq=False)
class FileRef:
    """A ``get_file`` call as the value Heat would see: ``target`` as
    written, ``path`` the repository path it names, ``blob`` that file's
    content (None when the file does not exist)."""

    target: str
    path: str
    blob: str | None

    def _content(self) -> tuple[str, str]:
        return ("blob", self.blob) if self.blob is not None else ("missing", self.path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileRef) and self._content() == other._content()

    def __hash__(self) -> int:
        return hash(self._content())

    def as_json(self) -> dict[str, Any]:
        return {"get_file": self.target, "path": self.path, "blob": self.blob}


def include_files(data: Any, path: str, lookup: BlobLookup) -> Any:
    """``data`` (the document at ``path``, changed in place) with each
    ``get_file`` call that names a repository path replaced by its
    :class:`FileRef`. Remote targets and ones outside the repository stay
    as they are."""
    for ref in references(data, path):
        if ref.kind != "get_file" or ref.remote or ref.resolved is None:
            continue
        *parents, key, _ = ref.keys  # the last key is "get_file" itself
        node = data
        try:
            for part in parents:
                node = node[part]
            if isinstance(node[key], dict):
                node[key] = FileRef(ref.target, ref.resolved, lookup(ref.resolved))
        except (KeyError, IndexError, TypeError):
            continue  # a key PyYAML gave as a non-string: leave the call as it is
    return data


def includes_any(data: Any, path: str, paths: Iterable[str]) -> bool:
    """True when the document at ``path`` calls ``get_file`` on one of ``paths``."""
    wanted = set(paths)
    return any(ref.kind == "get_file" and ref.resolved in wanted
               for ref in references(data, path))


def included_file(change: Change) -> FileRef | None:
    """The file (as it is after) through which ``change`` comes, when it is
    one ``get_file`` call on both sides whose content differs."""
    if isinstance(change.before, FileRef) and isinstance(change.after, FileRef):
        return change.after
    return None
