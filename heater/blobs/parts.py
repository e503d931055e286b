"""Writing a blob to an object store in parts (Swift segments, S3 multipart).

An object store takes a part in one request of known length, so the bytes
are gathered in memory up to ``part_bytes``; a full part is sent by a
helper thread while the next one fills, so receiving and sending overlap
and at most two parts are held. A blob that ends inside its first part is
sent in one request, as a plain object. Nothing is visible under the blob's
name until the final request (the manifest, the completion) that
:meth:`PartedWriter.commit` makes.
"""

from __future__ import annotations

import abc
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from heater.blobs import BlobStoreUnavailable, BlobWriter
from heater.config import DEFAULT_BLOB_PART_BYTES as DEFAULT_PART_BYTES
from heater.config import MIN_BLOB_PART_BYTES as MIN_PART_BYTES
from heater.errors import HeaterError

__all__ = ["DEFAULT_PART_BYTES", "MIN_PART_BYTES", "BodyReader", "EmptyReader", "PartedWriter",
           "translated"]

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

    def __init__(self, part_bytes: int) -> None:
        self.part_bytes = part_bytes
        self.size = 0
        self.parts = 0  # parts handed to the sender so far
        self._buffer = bytearray()
        self._sender: ThreadPoolExecutor | None = None
        self._sending: Future[None] | None = None
        self._finished = False

    # -- what a backend provides -------------------------------------------

    @abc.abstractmethod
    def _put_whole(self, data: bytes) -> None:
        """Store ``data`` as the blob in one request; BlobExists if taken."""

    @abc.abstractmethod
    def _put_part(self, number: int, data: bytes) -> None:
        """Send part ``number`` (from 1); runs in the helper thread."""

    @abc.abstractmethod
    def _complete(self) -> None:
        """Make the parts sent the blob; BlobExists if taken."""

    @abc.abstractmethod
    def _discard_parts(self) -> None:
        """Remove every part sent (best effort: a sweep finds the rest)."""

    # -- BlobWriter ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._finished:
            raise RuntimeError("write after commit or cancel")
        view = memoryview(data)
        while view:
            if len(self._buffer) == self.part_bytes:  # full, and more is coming
                self._send_buffer()
            room = self.part_bytes - len(self._buffer)
            self._buffer += view[:room]
            self.size += min(room, len(view))
            view = view[room:]

    def commit(self) -> int:
        if self._finished:
            raise RuntimeError("commit after commit or cancel")
        try:
            if self.parts == 0:
                self._put_whole(bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_buffer()
                self._wait()
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
            self._wait()
        try:
            if self.parts:
                self._discard_parts()
        finally:
            self._close()

    # -- helpers -------------------------------------------------------------

    def _send_buffer(self) -> None:
        part, self._buffer = bytes(self._buffer), bytearray()
        self._wait()  # at most one part in flight: two in memory
        if self._sender is None:
            self._sender = ThreadPoolExecutor(1, thread_name_prefix="blob-parts")
        self.parts += 1
        self._sending = self._sender.submit(self._put_part, self.parts, part)

    def _wait(self) -> None:
        """Raise what the part in flight raised, if anything."""
        sending, self._sending = self._sending, None
        if sending is not None:
            sending.result()

    def _close(self) -> None:
        self._finished = True
        self._buffer = bytearray()
        if self._sender is not None:
            self._sender.shutdown(wait=True)


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
