"""An in-memory blob store. FOR TESTS ONLY: it holds every blob in RAM and
loses them all when the process ends.

It exists so that the contract suite runs against two implementations and
cannot come to describe one backend's accidents.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable

from heater.blobs import BlobExists, BlobNotFound, BlobStat, check_range
from heater.names import check_blob_id


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        check_blob_id(blob_id)
        if blob_id in self._blobs:
            raise BlobExists(blob_id)
        data = b"".join(chunks)  # nothing is visible until the stream ends
        with self._lock:
            if blob_id in self._blobs:
                raise BlobExists(blob_id)
            self._blobs[blob_id] = data
        return len(data)

    def open(self, blob_id: str, start: int = 0, end: int | None = None) -> io.BytesIO:
        data = self._get(blob_id)
        stop = check_range(len(data), start, end)
        return io.BytesIO(data[start:stop])

    def stat(self, blob_id: str) -> BlobStat:
        return BlobStat(len(self._get(blob_id)))

    def delete(self, blob_id: str) -> bool:
        with self._lock:
            return self._blobs.pop(blob_id, None) is not None

    def _get(self, blob_id: str) -> bytes:
        try:
            return self._blobs[check_blob_id(blob_id)]
        except KeyError:
            raise BlobNotFound(blob_id) from None
