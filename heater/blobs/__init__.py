"""The blob store: where image binaries live, behind one narrow interface.

Every backend implements :class:`BlobStore`, and every backend runs the one
contract suite in ``tests/blobs/test_contract.py``. A blob is named by an id
the caller chooses (a build's UUID); its bytes never change once written.
Backends: :mod:`heater.blobs.filesystem` (the default; configuration
``blobs = "filesystem"``), :mod:`heater.blobs.swift` (``"swift"``),
:mod:`heater.blobs.s3` (``"s3"``); the suite also runs against an
in-memory store of its own (``tests/blobs/memory.py``).

Contract of each method:

``writer(blob_id)``
    A :class:`BlobWriter` for a new blob: bytes go in with ``write``, and
    become the blob only on ``commit()``; ``cancel()`` (or leaving its
    ``with`` block without committing, exception or not) discards them
    and leaves nothing anywhere in the store. :class:`BlobExists` if
    ``blob_id`` is already stored, now or at commit (write-once: the
    stored bytes are untouched, and the losing writer's are discarded).
    A blob is visible to ``open``/``stat`` only once committed.
``writer(blob_id).fill(source)``
    The next bytes read from ``source`` (``readinto``, as a socket) straight
    into the writer's own memory where it has some (an object store's part
    buffer), so that they are copied once; the bytes are returned for the
    caller to look at (hash) while the writer goes on. The writer overwrites
    memory that held bytes before offset ``n`` only once its
    ``before_reuse(n)`` has returned.
``put(blob_id, chunks)``
    ``writer`` fed with every chunk and committed; the byte count. If
    iterating ``chunks`` raises, the exception propagates and nothing is
    stored. Backends inherit it from :class:`BlobStore`.
``open(blob_id, start=0, end=None)``
    A reader of bytes ``[start, end)`` (``end=None``: to the end). The
    caller must ``close()`` it. :class:`BlobNotFound` if absent;
    :class:`RangeNotSatisfiable` if the range is not inside the blob.
``stat(blob_id)``
    :class:`BlobStat` (the size), or :class:`BlobNotFound`.
``url_for(blob_id, expires_in)``
    A URL from which a client may download the whole blob for at least
    ``expires_in`` seconds without going through Heater (an object
    store's signed URL), or None when the backend has none and Heater
    streams the bytes itself (filesystem). It does not check existence.
``delete(blob_id)``
    Remove the bytes for real; ``True`` if something was removed, ``False``
    if there was nothing. Readers already open may finish.
``abandoned(cutoff)``
    Remove what writers whose process died (so that neither ``commit``
    nor ``cancel`` ran) left in the store and last touched before
    ``cutoff`` (a time as ``time.time()``); what was removed. Nothing of
    it was ever visible. Backends whose writers leave nothing of their
    own inherit the empty answer (the filesystem's scratch files are swept
    with the data directory's).
``stored(page=LIST_PAGE)``
    Every committed blob as a :class:`StoredBlob` (its id, size, and when
    its bytes were written, as ``time.time()``), in no particular order,
    fetched ``page`` names per request, so that memory stays bounded
    however many blobs there are. Parts and uploads in progress are not
    blobs, and a name that is not a blob id (Heater writes none) is
    skipped. Blobs deleted while the listing runs may still be listed.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from heater.errors import Conflict, InvalidInput, NotFound, Unavailable
from heater.names import InvalidName, check_blob_id

# Bytes moved per read or write: large enough that per-call overhead is
# noise next to hashing and I/O, small enough to bound memory per request.
CHUNK = 1024 * 1024
# Names asked per listing request: S3's maximum, a tenth of Swift's.
LIST_PAGE = 1000


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


class RangeNotSatisfiable(InvalidInput):
    """Bytes ``[start, end)`` asked of a blob of ``size`` bytes that does not
    hold them (``end`` None: to the end)."""

    code = "invalid_range"

    def __init__(self, size: int, start: int, end: int | None) -> None:
        super().__init__(f"range [{start}, {'end' if end is None else end}) is not inside "
                         f"{size} bytes")
        self.size = size
        self.start = start
        self.end = end


class BlobStoreUnavailable(Unavailable):
    """An object store refused or failed a request (down, unreachable,
    credentials refused); its answer is in the message."""

    code = "blob_store_unavailable"

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"the image store ({store}) failed: {reason}")
        self.store = store


@dataclass(frozen=True)
class BlobStat:
    size: int


@dataclass(frozen=True)
class StoredBlob:
    """One entry of a store's listing (see ``stored`` above)."""

    blob_id: str
    size: int
    modified: float  # when its bytes were written, as time.time()


class BlobReader(Protocol):
    """A readable range of a blob. ``fileno()`` may exist (filesystem backend)
    so that servers can use sendfile; callers must not rely on it."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class ReadsInto(Protocol):
    """A source of bytes read into the caller's buffer (a socket, a request body)."""

    def readinto(self, buffer: memoryview, /) -> int:
        """Bytes put at the start of ``buffer``; 0 at the end of the source."""


def read_full(source: ReadsInto, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``source``; the count, short only at the source's end."""
    filled = 0
    while filled < len(buffer) and (got := source.readinto(buffer[filled:])):
        filled += got
    return filled


def _no_wait(offset: int) -> None:
    pass


class BlobWriter(abc.ABC):
    """The bytes of one new blob on their way in (see ``writer`` above).
    A writer is used by one thread; ``size`` is the count written so far."""

    size: int = 0
    # Returns once nobody looks at the views ``fill`` returned of bytes
    # before the offset it is given (see ``fill``).
    before_reuse: Callable[[int], None] = staticmethod(_no_wait)

    @abc.abstractmethod
    def write(self, data: bytes | bytearray) -> None:
        """Append ``data``; nothing is visible before :meth:`commit`."""

    def fill(self, source: ReadsInto, size: int = CHUNK) -> memoryview:
        """Append the next bytes of ``source``, at most ``size`` (fewer only
        at its end: none once it has ended), and return them, read-only.
        Here in a new buffer of their own; a writer with memory of its own
        reads into that."""
        chunk = bytearray(size)
        with memoryview(chunk) as view:
            got = read_full(source, view)
        del chunk[got:]
        self.write(chunk)
        return memoryview(chunk).toreadonly()

    @abc.abstractmethod
    def commit(self) -> int:
        """Make the bytes the blob, durably, and return their count;
        :class:`BlobExists` (and the bytes discarded) if another writer
        committed the id first. The writer is finished either way."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Discard the bytes; harmless after :meth:`commit` or a cancel."""

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.cancel()


class BlobStore(abc.ABC):
    """See the module's docstring for the contract of each method."""

    @abc.abstractmethod
    def writer(self, blob_id: str) -> BlobWriter: ...

    @abc.abstractmethod
    def open(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader: ...

    @abc.abstractmethod
    def stat(self, blob_id: str) -> BlobStat: ...

    @abc.abstractmethod
    def url_for(self, blob_id: str, expires_in: int) -> str | None: ...

    @abc.abstractmethod
    def delete(self, blob_id: str) -> bool: ...

    @abc.abstractmethod
    def stored(self, page: int = LIST_PAGE) -> Iterator[StoredBlob]: ...

    def abandoned(self, cutoff: float) -> list[str]:
        return []

    def put(self, blob_id: str, chunks: Iterable[bytes | bytearray]) -> int:
        with self.writer(blob_id) as writer:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()


def is_blob_id(name: str) -> bool:
    """Whether a name found in a store could be a blob's (see ``stored``)."""
    try:
        check_blob_id(name)
    except InvalidName:
        return False
    return True


def check_range(size: int, start: int, end: int | None) -> int:
    """The end of ``[start, end)`` inside a blob of ``size`` bytes, or
    :class:`RangeNotSatisfiable`."""
    stop = size if end is None else end
    if start < 0 or stop < start or stop > size:
        raise RangeNotSatisfiable(size, start, end)
    return stop
