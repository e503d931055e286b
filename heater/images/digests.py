"""Counting and hashing a stream of bytes as it passes through."""

from __future__ import annotations

import hashlib
import queue
import threading

from heater.errors import InvalidInput, TooLarge

# What can be hashed in place: a chunk received, or a view of a part buffer.
Buffer = bytes | bytearray | memoryview

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


class Hashing:
    """Counts and hashes the bytes of an upload as :meth:`update` is given them.

    Each digest is computed in a thread of its own (hashlib releases the GIL
    on large buffers), so that they run on other cores while the caller
    receives and stores the next bytes: a profile found three hashes in two
    threads holding back the upload on a busy machine. The buffers given
    are read in place, later: :meth:`hashed` says when they may change.
    Each thread's queue holds at most PIPELINE_DEPTH of them. With
    ``expected`` (a Content-Length), a longer body is refused as it
    arrives, and :meth:`finish` refuses a shorter one, so whoever stores
    the bytes keeps nothing. Use it as a context manager: leaving stops the
    threads.
    """

    def __init__(self, expected: int | None = None) -> None:
        self.expected = expected
        self.size = 0
        # md5 is what Glance records as "checksum"; it is an identifier here,
        # never a security check (sha256 is).
        self._hashes = {"sha256": hashlib.sha256(), "sha512": hashlib.sha512(),
                        "md5": hashlib.md5(usedforsecurity=False)}
        self._progress = threading.Condition()
        self._done = [0] * len(self._hashes)  # bytes each thread has hashed
        self._pending: list[queue.Queue[Buffer | None]] = []
        self._helpers: list[threading.Thread] = []
        for index, digest in enumerate(self._hashes.values()):
            chunks: queue.Queue[Buffer | None] = queue.Queue(PIPELINE_DEPTH)
            helper = threading.Thread(target=self._hash, args=(index, digest, chunks),
                                      daemon=True)
            helper.start()
            self._pending.append(chunks)
            self._helpers.append(helper)

    def __enter__(self) -> Hashing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, data: Buffer) -> None:
        """Count and hash ``data``, which must not change until
        :meth:`hashed` says so (``bytes`` never do)."""
        self.size += len(data)
        if self.expected is not None and self.size > self.expected:
            raise UploadTooLong(self.expected)
        if data:
            for chunks in self._pending:
                chunks.put(data)

    def hashed(self, offset: int) -> None:
        """Return once the first ``offset`` bytes are hashed (their buffers free)."""
        with self._progress:
            self._progress.wait_for(lambda: min(self._done) >= offset)

    def finish(self) -> None:
        """The body has ended: :class:`UploadIncomplete` if it is short."""
        if self.expected is not None and self.size != self.expected:
            raise UploadIncomplete(self.size, self.expected)

    def close(self) -> None:
        """Hash what is queued and stop the threads."""
        for chunks in self._pending:
            chunks.put(None)
        for helper in self._helpers:
            helper.join()
        self._pending, self._helpers = [], []

    def hexdigests(self) -> dict[str, str]:
        """The digests; valid once closed."""
        return {name: self._hashes[name].hexdigest() for name in ALGORITHMS}

    def _hash(self, index: int, digest: hashlib._Hash,
              chunks: queue.Queue[Buffer | None]) -> None:
        while (chunk := chunks.get()) is not None:
            digest.update(chunk)
            with self._progress:
                self._done[index] += len(chunk)
                self._progress.notify_all()
