"""Reading files out of git trees (pygit2), for every reader of content."""

from __future__ import annotations

from collections.abc import Iterator

import pygit2

from heater.errors import NotFound
from heater.names import check_repo_path


class FileNotInTree(NotFound):
    code = "file_not_found"

    def __init__(self, path: str, where: str, directory: bool = False) -> None:
        super().__init__(f"{path!r} is a directory at {where}, not a file" if directory
                         else f"no file {path!r} at {where}")
        self.path = path


def is_directory(tree: pygit2.Tree, path: str) -> bool:
    """Whether ``path`` (already validated) names a directory in ``tree``."""
    try:
        return isinstance(tree[path], pygit2.Tree)
    except KeyError:
        return False


def find_blob(tree: pygit2.Tree, path: str) -> pygit2.Blob | None:
    """The blob at ``path`` (validated first), or None if there is none."""
    check_repo_path(path)
    try:
        entry = tree[path]
    except KeyError:
        return None
    return entry if isinstance(entry, pygit2.Blob) else None


def walk_files(tree: pygit2.Tree) -> Iterator[tuple[str, pygit2.Blob]]:
    """Every blob below ``tree`` with its path, depth first, in tree order.
    Submodule entries (commits) are skipped: they have no content here."""
    stack: list[tuple[pygit2.Tree, str]] = [(tree, "")]
    while stack:
        current, base = stack.pop()
        subtrees = []
        for entry in current:
            path = f"{base}{entry.name}"
            if isinstance(entry, pygit2.Tree):
                subtrees.append((entry, path + "/"))
            elif isinstance(entry, pygit2.Blob):
                yield path, entry
        stack.extend(reversed(subtrees))
