"""An in-memory blob store for the tests: it holds every blob in RAM and
loses them all when the process ends, so it is no backend a server may use
(and lives here, not in the package).

It exists so that the contract suite runs against two implementations and
cannot come to describe one backend's accidents.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

from heater.blobs import (
    LIST_PAGE,
    BlobExists,
    BlobNotFound,
    BlobStat,
    BlobStore,
    BlobWriter,
    StoredBlob,
    check_range,
)
from heater.names import check_blob_id


class MemoryWriter(BlobWriter):
    def __init__(self, store: MemoryBlobStore, blob_id: str) -> None:
        self._store = store
        self._blob_id = blob_id
        self._parts: list[bytes] | None = []
        self.size = 0

    def write(self, data: bytes | bytearray) -> None:
        assert self._parts is not None, "write after commit or cancel"
        self._parts.append(bytes(data))
        self.size += len(data)

    def commit(self) -> int:
        assert self._parts is not None, "commit after commit or cancel"
        data, self._parts = b"".join(self._parts), None
        self._store._add(self._blob_id, data)
        return len(data)

    def cancel(self) -> None:
        self._parts = None


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def writer(self, blob_id: str) -> MemoryWriter:
        if check_blob_id(blob_id) in self._blobs:
            raise BlobExists(blob_id)
        return MemoryWriter(self, blob_id)

    def _add(self, blob_id: str, data: bytes) -> None:
        with self._lock:
            if blob_id in self._blobs:
                raise BlobExists(blob_id)
            self._blobs[blob_id] = data
            self._written[blob_id] = time.time()

    def open(self, blob_id: str, start: int = 0, end: int | None = None) -> io.BytesIO:
        data = self._get(blob_id)
        stop = check_range(len(data), start, end)
        return io.BytesIO(data[start:stop])

    def stat(self, blob_id: str) -> BlobStat:
        return BlobStat(len(self._get(blob_id)))

    def url_for(self, blob_id: str, expires_in: int) -> str:
        """A URL no client can fetch, so that the suite covers backends
        that hand out URLs."""
        return f"memory://blobs/{check_blob_id(blob_id)}?expires_in={expires_in}"

    def stored(self, page: int = LIST_PAGE) -> Iterator[StoredBlob]:
        with self._lock:
            listing = [StoredBlob(blob_id, len(data), self._written[blob_id])
                       for blob_id, data in self._blobs.items()]
        yield from listing

    def delete(self, blob_id: str) -> bool:
        with self._lock:
            self._written.pop(check_blob_id(blob_id), None)
            return self._blobs.pop(blob_id, None) is not None

    def _get(self, blob_id: str) -> bytes:
        try:
            return self._blobs[check_blob_id(blob_id)]
        except KeyError:
            raise BlobNotFound(blob_id) from None
