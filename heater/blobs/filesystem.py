"""The filesystem blob store (the default): one file per blob in the data
directory, placed by :class:`heater.paths.Layout`.

A blob is written to a temporary file in the data directory's scratch space
(same filesystem), fsynced, then linked into place: ``link(2)`` fails if the
name exists, which gives write-once without a lock, and a reader never sees
a partial file. The temporary name is removed whatever happens.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from heater.blobs import BlobExists, BlobNotFound, BlobStat, check_range
from heater.names import check_blob_id
from heater.paths import Layout


class FileRange:
    """Bytes ``[start, start + length)`` of an open file.

    ``fileno()`` exposes the file, positioned at ``start``, so that a WSGI
    server can ``sendfile`` exactly ``length`` bytes (it must be told the
    length, as a Content-Length); ``read`` never goes past the range.
    """

    def __init__(self, file: BinaryIO, start: int, length: int) -> None:
        self._file = file
        self._file.seek(start)
        self.remaining = length

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > self.remaining:
            size = self.remaining
        data = self._file.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()


class FilesystemBlobStore:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _path(self, blob_id: str) -> Path:
        return self.layout.blob(check_blob_id(blob_id))

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        final = self._path(blob_id)
        if final.exists():
            raise BlobExists(blob_id)
        self.layout.tmp.mkdir(parents=True, exist_ok=True)
        scratch = self.layout.scratch("blob", ".part")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(scratch, final)
            except FileExistsError:
                raise BlobExists(blob_id) from None
            _fsync_dir(final.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)
        return size

    def open(self, blob_id: str, start: int = 0, end: int | None = None) -> FileRange:
        try:
            file = self._path(blob_id).open("rb", buffering=0)
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None
        try:
            stop = check_range(os.fstat(file.fileno()).st_size, start, end)
            return FileRange(file, start, stop - start)
        except BaseException:
            file.close()
            raise

    def stat(self, blob_id: str) -> BlobStat:
        try:
            return BlobStat(self._path(blob_id).stat().st_size)
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None

    def delete(self, blob_id: str) -> bool:
        path = self._path(blob_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True


def _fsync_dir(path: Path) -> None:
    """Make a link or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
