"""Writing a blob to an object store in parts (Swift segments, S3 multipart).

An object store takes a part in one request of known length, so the bytes
are gathered in memory up to ``part_bytes``; a full part is sent by a
helper thread while the next one fills, so receiving and sending overlap.
With ``parts_in_flight`` above 1 (``blob_parts_in_flight``), that many
parts are sent at once, each by a thread of its own, which an object store
that serves several requests at once takes faster; the memory held is one
buffer more than the parts in flight. The buffers are memory maps made
once per upload, each of a memory file (``memfd_create``) where the
system has them: :meth:`PartedWriter.fill` receives the request body into
them, the hashes read them in place, and a part goes out of its file with
``sendfile`` where the backend can (:attr:`PartReader.memory_file`;
otherwise the client library reads it in place). They are given back to
the system when the upload ends (freed heap memory of that size would stay
in the process). A blob that ends inside its first part is sent in one
request, as a plain object. Nothing is visible under the blob's name until
the final request (the manifest, the completion) that
:meth:`PartedWriter.commit` makes, which waits for every part.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import io
import mmap
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from heater.blobs import CHUNK, BlobStoreUnavailable, BlobWriter, ReadsInto, read_full
from heater.config import DEFAULT_BLOB_PART_BYTES as DEFAULT_PART_BYTES
from heater.config import DEFAULT_BLOB_PARTS_IN_FLIGHT as DEFAULT_PARTS_IN_FLIGHT
from heater.config import MIN_BLOB_PART_BYTES as MIN_PART_BYTES
from heater.errors import HeaterError

__all__ = ["DEFAULT_PARTS_IN_FLIGHT", "DEFAULT_PART_BYTES", "MIN_PART_BYTES", "BodyReader",
           "EmptyReader", "PartReader", "PartedWriter", "translated"]

P = ParamSpec("P")
R = TypeVar("R")


def translated(store: str, *failures: type[Exception]
               ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator: a client library's ``failures`` (and OSError: the
    network) become :class:`BlobStoreUnavailable` naming ``store``, which
    the API answers 503; Heater's own errors pass unchanged."""
    caught: tuple[type[Exception], ...] = (OSError, *failures)

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except HeaterError:
                raise
            except caught as exc:
                raise BlobStoreUnavailable(store, str(exc).strip() or type(exc).__name__) \
                    from exc
        return wrapper
    return decorate


class PartedWriter(BlobWriter):
    """The buffering and overlap; subclasses say how each request is made."""

    def __init__(self, part_bytes: int, parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT) -> None:
        self.part_bytes = part_bytes
        self.parts_in_flight = max(1, parts_in_flight)
        self.size = 0
        self.parts = 0  # parts handed to the senders so far
        # Made on first use: more than one only for a large blob.
        self._maps: list[mmap.mmap] = []
        self._files: list[int | None] = []  # the maps' memory files, where there are
        self._readers: list[PartReader] = []  # views of the maps, released at the end
        self._active = 0  # the buffer being filled
        self._filled = 0
        self._sender: ThreadPoolExecutor | None = None
        self._sending: deque[Future[None]] = deque()  # oldest first
        self._finished = False

    # -- what a backend provides -------------------------------------------

    @abc.abstractmethod
    def _put_whole(self, data: PartReader) -> None:
        """Store ``data`` as the blob in one request; BlobExists if taken."""

    @abc.abstractmethod
    def _put_part(self, number: int, data: PartReader) -> None:
        """Send part ``number`` (from 1); runs in a helper thread, beside
        others sending other parts when ``parts_in_flight`` > 1."""

    @abc.abstractmethod
    def _complete(self) -> None:
        """Make the parts sent the blob; BlobExists if taken."""

    @abc.abstractmethod
    def _discard_parts(self) -> None:
        """Remove every part sent (best effort: a sweep finds the rest)."""

    # -- BlobWriter ----------------------------------------------------------

    def write(self, data: bytes | bytearray) -> None:
        if self._finished:
            raise RuntimeError("write after commit or cancel")
        view = memoryview(data)
        while view:
            if self._filled == self.part_bytes:  # full, and more is coming
                self._next_free()
                self._send_buffer()
            taken = min(self.part_bytes - self._filled, len(view))
            self._buffer()[self._filled:self._filled + taken] = view[:taken]
            self._filled += taken
            self.size += taken
            view = view[taken:]

    def fill(self, source: ReadsInto, size: int = CHUNK) -> memoryview:
        if self._finished:
            raise RuntimeError("write after commit or cancel")
        if self._filled < self.part_bytes:
            room = self._buffer()[self._filled:self._filled + size]
            got = read_full(source, room)
        else:
            # Full: the next bytes go to the next buffer, whose part was sent
            # longest ago; this one is sent once they exist, so that a blob
            # that ends with its first part is still sent whole.
            room = self._buffer(self._next_free())[:size]
            got = read_full(source, room)
            if got:
                self._send_buffer()
        self._filled += got
        self.size += got
        return room[:got].toreadonly()

    def commit(self) -> int:
        if self._finished:
            raise RuntimeError("commit after commit or cancel")
        try:
            if self.parts == 0:
                self._put_whole(self._reader())
            else:
                if self._filled:
                    self._send_buffer()
                self._wait(0)
                self._complete()
        except BaseException:
            self.cancel()
            raise
        self._close()
        return self.size

    def cancel(self) -> None:
        if self._finished:
            return
        with contextlib.suppress(Exception):  # its failure is why we cancel, often
            self._wait(0)
        try:
            if self.parts:
                self._discard_parts()
        finally:
            self._close()

    # -- helpers -------------------------------------------------------------

    def _buffer(self, index: int | None = None) -> memoryview:
        """Buffer ``index`` (by default the one being filled), made on first use."""
        index = self._active if index is None else index
        while len(self._maps) <= index:
            self._maps.append(self._new_map())
        return memoryview(self._maps[index])

    def _next_free(self) -> int:
        """The buffer filled after the active one, once it is free: its part
        sent (it is the one sent longest ago) and its bytes looked at."""
        self._wait(self.parts_in_flight - 1)
        self.before_reuse(self.size - self._filled)
        return (self._active + 1) % (self.parts_in_flight + 1)

    def _new_map(self) -> mmap.mmap:
        try:
            fd = os.memfd_create("heater-part", os.MFD_CLOEXEC)
        except (AttributeError, OSError):  # not Linux: no file to send from
            self._files.append(None)
            return mmap.mmap(-1, self.part_bytes)
        self._files.append(fd)
        os.ftruncate(fd, self.part_bytes)  # sparse: pages come as they are filled
        return mmap.mmap(fd, self.part_bytes)

    def _reader(self) -> PartReader:
        """What the buffer being filled holds, to be sent."""
        reader = PartReader(self._buffer()[:self._filled], self._files[self._active])
        self._readers.append(reader)
        return reader

    def _send_buffer(self) -> None:
        # The buffer filled next is the one whose part was sent longest ago:
        # with no more than parts_in_flight parts in flight, it is free.
        self._wait(self.parts_in_flight - 1)
        if self._sender is None:
            self._sender = ThreadPoolExecutor(self.parts_in_flight,
                                              thread_name_prefix="blob-parts")
        self.parts += 1
        part = self._reader()
        self._sending.append(self._sender.submit(self._put_part, self.parts, part))
        self._active, self._filled = (self._active + 1) % (self.parts_in_flight + 1), 0

    def _wait(self, in_flight: int) -> None:
        """Wait until at most ``in_flight`` parts are in flight, oldest
        first; raise what a part that ended raised, if anything."""
        try:
            while len(self._sending) > in_flight:
                self._sending[0].result()
                self._sending.popleft()
        except BaseException:
            if in_flight == 0:  # all of them asked for: none is left running
                for sending in self._sending:
                    with contextlib.suppress(BaseException):
                        sending.result()
                self._sending.clear()
            raise

    def _close(self) -> None:
        self._finished = True
        if self._sender is not None:
            self._sender.shutdown(wait=True)
        for reader in self._readers:
            reader.close()
        for buffer in self._maps:
            # Should a view of it still be held somewhere, the map goes
            # once that view is dropped.
            with contextlib.suppress(BufferError):
                buffer.close()
        for fd in self._files:  # a map still open keeps its memory file
            if fd is not None:
                os.close(fd)
        self._maps, self._readers, self._files = [], [], []


class PartReader(io.RawIOBase):
    """A part in its buffer, as the file object client libraries read a
    request body from (in their own chunks; they seek back to retry).
    ``memory_file``: a descriptor whose first ``len()`` bytes are the part
    (for ``sendfile``), or None. Not ``fileno()``: libraries would take the
    file's size for the part's."""

    def __init__(self, view: memoryview, memory_file: int | None = None) -> None:
        super().__init__()
        self._view = view
        self._position = 0
        self.memory_file = memory_file

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(
            len(self._view), self._position + size)
        data = bytes(self._view[self._position:end])
        self._position = max(self._position, end)
        return data

    def readinto(self, target: Any, /) -> int:
        data = self.read(len(target))
        target[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        with contextlib.suppress(BufferError):  # a view of the view still held
            self._view.release()
        super().close()


class BodyReader:
    """A client library's streaming response body as a BlobReader;
    ``on_close`` runs after the body is closed (a connection to release)."""

    def __init__(self, body: Any, on_close: Callable[[], None] | None = None) -> None:
        self._body = body
        self._on_close = on_close

    def read(self, size: int = -1, /) -> bytes:
        return bytes(self._body.read(None if size < 0 else size))

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            if self._on_close is not None:
                self._on_close()


class EmptyReader:
    """An empty range: nothing to ask the store for."""

    def read(self, size: int = -1, /) -> bytes:
        return b""

    def close(self) -> None:
        pass
