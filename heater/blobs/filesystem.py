"""The filesystem blob store (the default): one file per blob in the data
directory, placed by :class:`heater.paths.Layout`.

A blob is written to a temporary file in the data directory's scratch space
(same filesystem), fsynced, then linked into place on commit: ``link(2)``
fails if the name exists, which gives write-once without a lock, and a
reader never sees a partial file. The temporary name is removed on commit
and on cancel, and ``heater cleanup`` removes one whose process died.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from heater.blobs import (
    LIST_PAGE,
    BlobExists,
    BlobNotFound,
    BlobStat,
    BlobStore,
    BlobWriter,
    StoredBlob,
    check_range,
    is_blob_id,
)
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


class FileWriter(BlobWriter):
    """A blob on its way in: a scratch file in the data directory's ``tmp/``,
    linked into place on commit."""

    def __init__(self, layout: Layout, final: Path, blob_id: str) -> None:
        layout.tmp.mkdir(parents=True, exist_ok=True)
        self._scratch = layout.scratch("blob", ".part")
        fd = os.open(self._scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._final = final
        self._blob_id = blob_id
        self.size = 0

    def write(self, data: bytes | bytearray) -> None:
        self._file.write(data)
        self.size += len(data)

    def commit(self) -> int:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(self._scratch, self._final)
            except FileExistsError:
                raise BlobExists(self._blob_id) from None
            _fsync_dir(self._final.parent)
        finally:
            self.cancel()
        return self.size

    def cancel(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._scratch)


class FilesystemBlobStore(BlobStore):
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _path(self, blob_id: str) -> Path:
        return self.layout.blob(check_blob_id(blob_id))

    def writer(self, blob_id: str) -> FileWriter:
        final = self._path(blob_id)
        if final.exists():
            raise BlobExists(blob_id)
        return FileWriter(self.layout, final, blob_id)

    def url_for(self, blob_id: str, expires_in: int) -> None:
        """None: the files are reachable only through Heater, which can
        sendfile() them."""
        return None

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

    def stored(self, page: int = LIST_PAGE) -> Iterator[StoredBlob]:
        """The files of ``blobs/``, a directory at a time (``page`` is for
        object stores: a directory is read as it is scanned)."""
        if not self.layout.blobs.is_dir():
            return
        for fan in os.scandir(self.layout.blobs):
            if not fan.is_dir(follow_symlinks=False):
                continue
            with os.scandir(fan.path) as entries:
                for entry in entries:
                    if not is_blob_id(entry.name) or not entry.is_file(follow_symlinks=False):
                        continue
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:  # deleted meanwhile
                        continue
                    yield StoredBlob(entry.name, info.st_size, info.st_mtime)

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
