"""Counting and hashing a stream of bytes as it passes through."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterable, Iterator

from heater.errors import InvalidInput, TooLarge

ALGORITHMS = ("sha256", "sha512", "md5")
# Chunks handed to the hashing thread and not yet hashed, at most.
PIPELINE_DEPTH = 4


class UploadIncomplete(InvalidInput):
    """The body ended (or broke) before the length the client announced."""

    code = "upload_incomplete"

    def __init__(self, received: int, expected: int | None) -> None:
        wanted = f" of {expected}" if expected is not None else ""
        super().__init__(f"the upload stopped after {received}{wanted} bytes; nothing was kept")
        self.received = received
        self.expected = expected


class UploadTooLong(TooLarge):
    code = "upload_too_long"

    def __init__(self, expected: int) -> None:
        super().__init__(f"the body is longer than its Content-Length ({expected})")
        self.expected = expected


class HashingStream:
    """Yields ``chunks`` unchanged while counting and hashing them.

    With ``expected`` (a Content-Length), a stream that ends short raises
    :class:`UploadIncomplete` *before* its end is reported, so whoever
    consumes it (a blob store) sees a failure and keeps nothing.
    """

    def __init__(self, chunks: Iterable[bytes | bytearray], expected: int | None = None) -> None:
        self._chunks = chunks
        self.expected = expected
        self.size = 0
        # md5 is what Glance records as "checksum"; it is an identifier here,
        # never a security check (sha256 is).
        self._hashes = {"sha256": hashlib.sha256(), "sha512": hashlib.sha512(),
                        "md5": hashlib.md5(usedforsecurity=False)}

    def __iter__(self) -> Iterator[bytes | bytearray]:
        # Each digest is computed in a thread of its own (hashlib releases the
        # GIL on large buffers), so that they run on other cores while this
        # thread receives and stores the next chunk: a profile found three
        # hashes in two threads holding back the upload on a busy machine.
        # Each queue's bound keeps at most PIPELINE_DEPTH chunks in memory.
        pending: list[queue.Queue[bytes | bytearray | None]] = []
        helpers: list[threading.Thread] = []
        for digest in self._hashes.values():
            chunks: queue.Queue[bytes | bytearray | None] = queue.Queue(PIPELINE_DEPTH)
            helper = threading.Thread(target=_hash, args=(digest, chunks), daemon=True)
            helper.start()
            pending.append(chunks)
            helpers.append(helper)
        try:
            for chunk in self._chunks:
                self.size += len(chunk)
                if self.expected is not None and self.size > self.expected:
                    raise UploadTooLong(self.expected)
                for chunks in pending:
                    chunks.put(chunk)
                yield chunk
            if self.expected is not None and self.size != self.expected:
                raise UploadIncomplete(self.size, self.expected)
        finally:
            for chunks in pending:
                chunks.put(None)
            for helper in helpers:
                helper.join()

    def hexdigests(self) -> dict[str, str]:
        """The digests; valid once iteration has ended."""
        return {name: self._hashes[name].hexdigest() for name in ALGORITHMS}


def _hash(digest: hashlib._Hash, chunks: queue.Queue[bytes | bytearray | None]) -> None:
    while (chunk := chunks.get()) is not None:
        digest.update(chunk)
