"""Parsed YAML of git blobs, kept for the next reader.

A blob's content never changes under its id, so the document PyYAML builds
from it (0.18 s of CPU for a 458 KB template, most of a diff's time) can be
kept under that id, at two levels:

- in each process, least recently used out first within
  :data:`MAX_CACHED_BYTES`: the page and the JSON of one comparison, each
  release against the previous one;
- for blobs of :data:`MIN_SHARED_BYTES` and more, in the repository's own
  directory (:func:`heater.paths.parsed_dir`), where every worker process,
  and every node sharing the repositories, finds it. A push that lands
  leaves there the documents its validation parsed anyway
  (:class:`NewDocuments`), so the first comparison of a new release of a
  large template parses nothing. Small blobs parse about as fast as a file
  is read back, and are kept in memory only.

Documents are kept marshalled: :mod:`marshal` writes exactly the types the
safe loader builds (mappings, lists, sets, text, bytes, numbers, booleans,
None; timestamps are read as text), keeps an alias one shared object, and
makes every caller a fresh copy in a few milliseconds (the diff changes
documents in place). Only Heater writes these files, beside git's own; a
file that does not read back whole (a crash, another Python) is parsed again
and replaced. Files that do not parse are not kept: they are rare, and their
error names the path they were read at.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pygit2

from heater.errors import HeaterError
from heater.git.trees import find_blob
from heater.paths import parsed_dir, replacement
from heater.templates.yamlload import load_yaml

# Per process: a few dozen of the largest templates, or thousands of small ones.
MAX_CACHED_BYTES = 32 * 1024 * 1024
# Below this a parse costs about as much as reading a file back (40 ms at 64 KiB).
MIN_SHARED_BYTES = 64 * 1024
# marshal's format may change between Python versions: a file names both.
_MARSHAL_VERSION = 4
_HEADER = f"heater-parsed 1 py{sys.version_info[0]}.{sys.version_info[1]} " \
          f"m{_MARSHAL_VERSION}\n".encode()


class ParseCache:
    """Documents by blob id, at most ``max_bytes`` of them in memory; safe
    to share between threads."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def load(self, blob_id: str, content: bytes, path: str,
             repo_path: Path | None = None) -> Any:
        """The document of the blob ``blob_id`` (whose bytes are ``content``),
        as :func:`~heater.templates.yamlload.load_yaml` reads it at ``path``
        (raising its :class:`~heater.templates.yamlload.YamlError` alike);
        a copy of its own for every call. A large blob is looked for, and
        kept, in the directory of the repository at ``repo_path``."""
        with self._lock:
            kept = self._kept.get(blob_id)
            if kept is not None:
                self._kept.move_to_end(blob_id)
        if kept is not None:
            return marshal.loads(kept)  # noqa: S302 (made by this process)
        shared = _shared_file(repo_path, blob_id, len(content))
        if shared is not None:
            found = _read(shared)
            if found is not None:
                self._remember(blob_id, found[0])
                return found[1]
        data = load_yaml(content, path).data
        dumped = marshal.dumps(data, _MARSHAL_VERSION)
        self._remember(blob_id, dumped)
        if shared is not None:
            _write(shared, dumped)
        return data

    def _remember(self, blob_id: str, dumped: bytes) -> None:
        if len(dumped) > self.max_bytes:
            return
        with self._lock:
            if blob_id in self._kept:
                return  # another thread parsed it meanwhile
            self._kept[blob_id] = dumped
            self._size += len(dumped)
            while self._size > self.max_bytes:
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        """Forget what this process keeps (the files stay)."""
        with self._lock:
            self._kept.clear()
            self._size = 0


class NewDocuments:
    """Documents a push's validation parsed, to be kept in the repository's
    directory once the push lands (a refused push leaves nothing)."""

    def __init__(self) -> None:
        self._dumped: dict[str, bytes] = {}

    def add(self, blob_id: str, size: int, data: Any) -> None:
        """The document of blob ``blob_id`` (``size`` bytes), as parsed:
        marshalled now, before any check could change it."""
        if size >= MIN_SHARED_BYTES and blob_id not in self._dumped:
            self._dumped[blob_id] = marshal.dumps(data, _MARSHAL_VERSION)

    def keep(self, repo_path: Path) -> None:
        """Write them for every process that reads the repository at ``repo_path``."""
        for blob_id, dumped in self._dumped.items():
            shared = _shared_file(repo_path, blob_id, MIN_SHARED_BYTES)
            if shared is not None and not shared.exists():
                _write(shared, dumped)


def _shared_file(repo_path: Path | None, blob_id: str, size: int) -> Path | None:
    if repo_path is None or size < MIN_SHARED_BYTES:
        return None
    if len(blob_id) not in (40, 64) or not all(c in "0123456789abcdef" for c in blob_id):
        return None  # only git's own ids name files
    return parsed_dir(repo_path) / blob_id


def _read(path: Path) -> tuple[bytes, Any] | None:
    """The marshalled document in ``path`` and the document, or None if
    there is none that reads back whole."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if raw.startswith(_HEADER):
        dumped = raw[len(_HEADER):]
        try:
            # Written by Heater alone, beside git's files, which are trusted
            # as much; marshal builds data, it runs nothing.
            return dumped, marshal.loads(dumped)  # noqa: S302
        except (EOFError, ValueError, TypeError):
            pass
    with contextlib.suppress(OSError):  # written by another version, or broken
        path.unlink()
    return None


def _write(path: Path, dumped: bytes) -> None:
    """Write ``dumped`` to ``path`` whole or not at all; a cache that cannot
    be written (a read-only or full disk) only costs a parse later."""
    scratch = replacement(path)
    try:
        path.parent.mkdir(exist_ok=True)
        with scratch.open("wb") as out:
            out.write(_HEADER)
            out.write(dumped)
        os.replace(scratch, path)
    except OSError:
        with contextlib.suppress(OSError):
            scratch.unlink()


PARSED = ParseCache()


def mapping_at(tree: pygit2.Tree, path: str, repo_path: Path | None) -> dict[Any, Any] | None:
    """The document of the YAML file ``path`` in ``tree`` through :data:`PARSED`
    (a large one looked for, and kept, in the repository at ``repo_path``, as
    a push leaves it); None when the file is missing, does not load, or is
    no mapping (what is wrong with it is the template's listed problems)."""
    blob = find_blob(tree, path)
    if blob is None:
        return None
    try:
        data = PARSED.load(str(blob.id), blob.data, path, repo_path)
    except HeaterError:
        return None
    return data if isinstance(data, dict) else None
