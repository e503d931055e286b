"""Parsed YAML of git blobs, kept for the next diff in the same process.

A blob's content never changes under its id, so the document PyYAML builds
from it (two thirds of a diff's time: 0.18 s of CPU for each side of a
458 KB template) can be kept under that id. Diffs of one repository keep meeting
the same blobs: the page and the JSON of one comparison, and each release
against the previous one, whose new side is the next comparison's old side.

The documents are kept pickled: every diff gets a fresh copy it may change
(the diff replaces ``get_file`` calls in place), which ``pickle.loads``
makes in a few milliseconds, and the size kept is known, so that the cache
stays within :data:`MAX_CACHED_BYTES` (least recently used out first).
Files that do not parse are not kept: they are rare, and their error names
the path they were read at.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from typing import Any

from heater.templates.yamlload import load_yaml

# Per process: a few dozen of the largest templates, or thousands of small ones.
MAX_CACHED_BYTES = 32 * 1024 * 1024


class ParseCache:
    """Documents by blob id, at most ``max_bytes`` of them pickled; safe to
    share between threads."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def load(self, blob_id: str, content: bytes, path: str) -> Any:
        """The document of the blob ``blob_id`` (whose bytes are ``content``),
        as :func:`~heater.templates.yamlload.load_yaml` reads it at ``path``
        (raising its :class:`~heater.templates.yamlload.YamlError` alike);
        a copy of its own for every call."""
        with self._lock:
            kept = self._kept.get(blob_id)
            if kept is not None:
                self._kept.move_to_end(blob_id)
        if kept is not None:
            return pickle.loads(kept)  # noqa: S301 (only what this process pickled)
        data = load_yaml(content, path).data
        self._keep(blob_id, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        return data

    def _keep(self, blob_id: str, pickled: bytes) -> None:
        if len(pickled) > self.max_bytes:
            return
        with self._lock:
            if blob_id in self._kept:
                return  # another thread parsed it meanwhile
            self._kept[blob_id] = pickled
            self._size += len(pickled)
            while self._size > self.max_bytes:
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._size = 0


PARSED = ParseCache()
