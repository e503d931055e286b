"""Counting and hashing a stream of bytes as it passes through."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from heater.errors import InvalidInput, TooLarge

ALGORITHMS = ("sha256", "sha512", "md5")


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
        for chunk in self._chunks:
            self.size += len(chunk)
            if self.expected is not None and self.size > self.expected:
                raise UploadTooLong(self.expected)
            for digest in self._hashes.values():
                digest.update(chunk)
            yield chunk
        if self.expected is not None and self.size != self.expected:
            raise UploadIncomplete(self.size, self.expected)

    def hexdigests(self) -> dict[str, str]:
        return {name: self._hashes[name].hexdigest() for name in ALGORITHMS}
