"""A git process as a streamed WSGI body, fed from a bounded request body.

A feeder thread copies the request (gunzipped when the client compressed
it, refused past a limit) into git's stdin while the response iterates over
git's stdout, so neither side is ever held in memory whole and a push
cannot deadlock on a full pipe. When the client goes away, the WSGI server
closes the response and the git process is killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import zlib
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any, Protocol

from heater.git import threads

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
STDERR_KEPT = 16 * 1024


class InputRejected(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Source(Protocol):
    """What feeds git's stdin: chunks, empty at the end; may raise
    :class:`InputRejected`."""

    def read(self) -> bytes: ...


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ContentLength:
    """A request body that ends after ``length`` bytes.

    WSGI servers may hand the application the socket itself, so reading past
    CONTENT_LENGTH waits for bytes the client never sends (werkzeug's server
    does; gunicorn happens to return EOF).
    """

    def __init__(self, raw: Readable, length: int) -> None:
        self.raw = raw
        self.remaining = length

    def read(self, size: int = -1, /) -> bytes:
        if self.remaining <= 0:
            return b""
        data = self.raw.read(self.remaining if size < 0 else min(size, self.remaining))
        self.remaining -= len(data)
        return data


def request_body(environ: dict[str, Any]) -> Readable:
    """``wsgi.input``, read no further than CONTENT_LENGTH when the request has
    one; a chunked body has none, and the server itself ends it."""
    raw: Readable = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "").strip()
    if not length:
        return raw
    if not length.isdigit():
        raise InputRejected("400 Bad Request", f"bad Content-Length {length!r}")
    return ContentLength(raw, int(length))


class Limited:
    """A request body, refused past ``limit`` bytes."""

    def __init__(self, raw: Readable, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.total = 0

    def read(self) -> bytes:
        data = self.raw.read(CHUNK)
        self.total += len(data)
        if self.total > self.limit:
            raise InputRejected("413 Content Too Large",
                                f"request body larger than {self.limit} bytes")
        return data


class Gunzip(Limited):
    """A gzip request body, decompressed in bounded steps: a small body that
    inflates past ``limit`` (a gzip bomb) is refused, not expanded."""

    def __init__(self, raw: Readable, limit: int) -> None:
        super().__init__(raw, limit)
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""
        self.eof = False

    def read(self) -> bytes:
        while True:
            if self.pending:
                data = self.inflater.decompress(self.pending, CHUNK)
                self.pending = self.inflater.unconsumed_tail
            elif self.eof:
                return self.inflater.flush()
            else:
                compressed = self.raw.read(CHUNK)
                if not compressed:
                    self.eof = True
                    if not self.inflater.eof:
                        raise InputRejected("400 Bad Request", "truncated gzip request body")
                    continue
                try:
                    data = self.inflater.decompress(compressed, CHUNK)
                except zlib.error as exc:
                    raise InputRejected("400 Bad Request",
                                        f"bad gzip request body: {exc}") from None
                self.pending = self.inflater.unconsumed_tail
            self.total += len(data)
            if self.total > self.limit:
                raise InputRejected("413 Content Too Large",
                                    f"request body inflates past {self.limit} bytes")
            if data:
                return data


class GitStream:
    """A running git process whose stdout is the response body.

    Iterating yields stdout chunks; ``close()`` (called by the WSGI server
    when the response ends or the client disconnects) kills the process if
    it is still running and reports the outcome to ``finished``.
    """

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path,
                 source: Source, finished: Callable[[bool], None],
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     pass_fds=pass_fds)
        self.source = source
        self.finished = finished
        self.input_error: tuple[str, str] | None = None
        self.rejection: InputRejected | None = None
        self._stderr = bytearray()
        self._first = b""
        self._returncode: int | None = None
        self._feeder = threads.submit(self._feed, "git-feeder")
        self._drainer = threads.submit(self._drain, "git-drainer")

    def _feed(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while True:
                data = self.source.read()
                if not data:
                    break
                stdin.write(data)
        except InputRejected as exc:
            self.input_error = (exc.status, exc.message)
            self.rejection = exc
            self.proc.kill()
        except (BrokenPipeError, ConnectionError, OSError, ValueError):
            # git stopped reading (it already answered or failed) or the
            # client went away mid-body: git sees EOF and gives up.
            pass
        except Exception:  # unexpected: make sure git does not wait forever
            log.exception("feeding git failed")
            self.proc.kill()
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _drain(self) -> None:
        stderr = self.proc.stderr
        assert stderr is not None
        for line in iter(lambda: stderr.read(4096), b""):
            if len(self._stderr) < STDERR_KEPT:
                self._stderr += line

    def stderr_text(self) -> str:
        return bytes(self._stderr).decode("utf-8", "replace").strip()

    def _read(self) -> bytes:
        stdout = self.proc.stdout
        assert stdout is not None
        return os.read(stdout.fileno(), CHUNK)

    def first_chunk(self) -> bytes:
        """The first bytes of output (empty if git produced none)."""
        self._first = self._read()
        return self._first

    def __iter__(self) -> Iterator[bytes]:
        chunk = self._first
        while chunk:
            yield chunk
            chunk = self._read()
        self.wait()

    def wait(self) -> int:
        """Wait for git to exit, report the outcome once; its exit code."""
        if self._returncode is not None:
            return self._returncode
        returncode = self._returncode = self.proc.wait()
        # The feeder may still wait on a client that keeps sending after git
        # gave up; git is gone, so its next write fails and it ends.
        futures.wait([self._feeder], timeout=5)
        futures.wait([self._drainer])
        if returncode != 0:
            log.warning("git exited %s: %s", returncode, self.stderr_text())
        try:
            self.finished(returncode == 0)
        except Exception:
            log.exception("post-push work failed")
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return returncode

    def close(self) -> int:
        """End the process (killing it if the client left early); its exit code."""
        if self._returncode is None and self.proc.poll() is None:
            self.proc.kill()
        return self.wait()
