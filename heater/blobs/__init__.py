"""The blob store: where image binaries live, behind one narrow interface.

Every backend implements :class:`BlobStore`, and every backend runs the one
contract suite in ``tests/test_blobs.py``. A blob is named by an id the
caller chooses (a build's UUID); its bytes never change once written.

Contract of each method:

``put(blob_id, chunks)``
    Store the bytes ``chunks`` yields under ``blob_id`` and return their
    count. Write-once: :class:`BlobExists` if ``blob_id`` is already
    stored, in which case the stored bytes are untouched. If iterating
    ``chunks`` raises, the exception propagates and nothing is stored under
    ``blob_id`` and no partial bytes remain anywhere in the store. A blob
    is visible to ``open``/``stat`` only once complete.
``open(blob_id, start=0, end=None)``
    A reader of bytes ``[start, end)`` (``end=None``: to the end). The
    caller must ``close()`` it. :class:`BlobNotFound` if absent;
    ``ValueError`` if the range is not inside the blob.
``stat(blob_id)``
    :class:`BlobStat` (the size), or :class:`BlobNotFound`.
``delete(blob_id)``
    Remove the bytes for real; ``True`` if something was removed, ``False``
    if there was nothing. Readers already open may finish.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from heater.errors import Conflict, NotFound

# Bytes moved per read or write: large enough that per-call overhead is
# noise next to hashing and I/O, small enough to bound memory per request.
CHUNK = 1024 * 1024


class BlobNotFound(NotFound):
    code = "blob_not_found"

    def __init__(self, blob_id: str) -> None:
        super().__init__(f"no stored bytes for {blob_id}")
        self.blob_id = blob_id


class BlobExists(Conflict):
    code = "blob_exists"

    def __init__(self, blob_id: str) -> None:
        super().__init__(f"bytes for {blob_id} are already stored; blobs are write-once")
        self.blob_id = blob_id


@dataclass(frozen=True)
class BlobStat:
    size: int


class BlobReader(Protocol):
    """A readable range of a blob. ``fileno()`` may exist (filesystem backend)
    so that servers can use sendfile; callers must not rely on it."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int: ...

    def open(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader: ...

    def stat(self, blob_id: str) -> BlobStat: ...

    def delete(self, blob_id: str) -> bool: ...


def check_range(size: int, start: int, end: int | None) -> int:
    """The end of ``[start, end)`` inside a blob of ``size`` bytes, or ValueError."""
    stop = size if end is None else end
    if start < 0 or stop < start or stop > size:
        raise ValueError(f"range [{start}, {end}) is not inside {size} bytes")
    return stop
