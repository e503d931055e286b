"""Refusing pushed files larger than a template ever is, unread.

Templates, environments and the scripts they include are text of a few
kilobytes; a pushed blob of gigabytes would only be inflated later by every
reader (raw files, diffs, validation). The pre-receive hook looks at every
object the push brought (git keeps them apart, in the quarantine directory,
until the hook agrees) and reads each blob's size from its object header,
never its content. Only when one is too large are the new commits' trees
walked, to name the file.
"""

from __future__ import annotations

from collections.abc import Mapping

import pygit2
from pygit2.enums import ObjectType

# The default of the max_blob_bytes setting (heater.config): room for any
# template and its files.
MAX_BLOB_ENV = "HEATER_MAX_BLOB_BYTES"


def oversized_files(git: pygit2.Repository, quarantine: str, limit: int) -> list[str]:
    """One refusal line per file of the push (the objects in ``quarantine``)
    larger than ``limit`` bytes; ``git`` must see the quarantine too."""
    new = pygit2.Odb(quarantine)
    large: dict[str, int] = {}
    commits = []
    for oid in new:
        kind, size = new.read_header(oid)
        if kind == ObjectType.BLOB and size > limit:
            large[str(oid)] = size
        elif kind == ObjectType.COMMIT:
            commits.append(oid)
    if not large:
        return []
    named: dict[str, str] = {}
    seen: set[str] = set()
    for oid in commits:
        commit = git.get(oid)
        if isinstance(commit, pygit2.Commit):
            _name_blobs(commit.tree, "", large, named, seen)
    return [f"{named.get(blob, f'blob {blob}')}: {size} bytes, larger than the "
            f"{limit}-byte limit for one file (setting max_blob_bytes, {MAX_BLOB_ENV}); "
            "templates are text"
            for blob, size in sorted(large.items(), key=lambda item: named.get(item[0], ""))]


def _name_blobs(tree: pygit2.Tree, prefix: str, wanted: Mapping[str, int],
                named: dict[str, str], seen: set[str]) -> None:
    """Record in ``named`` a path in ``tree`` of each ``wanted`` blob,
    skipping trees already ``seen`` (commits share most of theirs)."""
    if str(tree.id) in seen:
        return
    seen.add(str(tree.id))
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if isinstance(entry, pygit2.Tree):
            _name_blobs(entry, f"{path}/", wanted, named, seen)
        elif str(entry.id) in wanted:
            named.setdefault(str(entry.id), path)
