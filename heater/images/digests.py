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

    def __init__(self, chunks: Iterable[bytes], expected: int | None = None) -> None:
        self._chunks = chunks
        self.expected = expected
        self.size = 0
        # md5 is what Glance records as "checksum"; it is an identifier here,
        # never a security check (sha256 is).
        self._hashes = {"sha256": hashlib.sha256(), "sha512": hashlib.sha512(),
                        "md5": hashlib.md5(usedforsecurity=False)}

    def __iter__(self) -> Iterator[bytes]:
        # sha256 is computed here; sha512 and md5 in a helper thread, which
        # runs on another core (hashlib releases the GIL on large buffers)
        # while this thread receives and writes the next chunk. The queue
        # bound keeps at most PIPELINE_DEPTH chunks in memory.
        pending: queue.Queue[bytes | None] = queue.Queue(PIPELINE_DEPTH)
        helper = threading.Thread(target=self._hash_rest, args=(pending,), daemon=True)
        helper.start()
        try:
            for chunk in self._chunks:
                self.size += len(chunk)
                if self.expected is not None and self.size > self.expected:
                    raise UploadTooLong(self.expected)
                pending.put(chunk)
                self._hashes["sha256"].update(chunk)
                yield chunk
            if self.expected is not None and self.size != self.expected:
                raise UploadIncomplete(self.size, self.expected)
        finally:
            pending.put(None)
            helper.join()

    def _hash_rest(self, pending: queue.Queue[bytes | None]) -> None:
        others = [h for name, h in self._hashes.items() if name != "sha256"]
        while (chunk := pending.get()) is not None:
            for digest in others:
                digest.update(chunk)

    def hexdigests(self) -> dict[str, str]:
        """The digests; valid once iteration has ended."""
        return {name: self._hashes[name].hexdigest() for name in ALGORITHMS}
