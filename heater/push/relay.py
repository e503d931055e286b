"""The server side of the pre-receive hook: validate a push in-process.

Starting a Python process costs tens of milliseconds, and importing pygit2
and PyYAML hundreds: more than the whole of a small push. So the server
process that runs ``git receive-pack`` makes two anonymous pipes for that
push and passes the hook's ends to git, which hands its open descriptors on
to its hooks; their numbers reach the hook in its environment
(:data:`heater.push.hook.REQUEST_ENV`, :data:`heater.push.hook.REPLY_ENV`).
The hook, a shell script, writes its input into the request pipe and copies
the reply back to git. Validation runs here, with everything already loaded.

Git and its other children hold the request pipe's write end for their whole
life, so the end of a request cannot be its end-of-file: the hook writes
the quarantine path line, the ``<old> <new> <ref>`` lines, then
:data:`REQUEST_END`, which no ref line can be. The reply is a header
``<status> <lines>`` and that many lines for the git user. Only this process
holds the reply's write end: when it dies, the hook reads end-of-file (and
a write to the request fails), so a hook never outlives its server.

The relay also holds the repository's push lock from the moment it
validates until ``git receive-pack`` has finished, and refuses an update
whose old value is no longer the ref's: of concurrent pushes to a branch
the first lands and the others are refused *in the hook*, so that git
discards their quarantine instead of keeping their objects dangling.

It fails closed: whatever goes wrong, the hook exits non-zero and git
refuses the push.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from concurrent import futures
from pathlib import Path

import pygit2

from heater.config import DEFAULT_MAX_BLOB_BYTES
from heater.git import locks, threads
from heater.paths import objects_dir
from heater.push.admission import Verdict, review
from heater.push.hook import REPLY_ENV, REQUEST_END, REQUEST_ENV, parse_updates, report
from heater.push.refrules import RefUpdate, check_current
from heater.push.sizes import oversized_files

log = logging.getLogger(__name__)

# A push names a few refs; its hook input is tiny.
MAX_REQUEST_BYTES = 1024 * 1024
# Longer than any validation takes; a hook that hangs must not hold a thread.
TIMEOUT_SECONDS = 120.0
# Pushes to one repository wait this long for the one before them.
LOCK_WAIT_SECONDS = locks.PUSH_LOCK_WAIT_SECONDS
# How often a waiting relay thread looks whether close() was called. The
# request's end-of-file normally wakes it as soon as git exits; this only
# bounds close() if something git started still holds the pipe.
POLL_SECONDS = 0.1

_END = b"\n" + REQUEST_END.encode() + b"\n"


def supported() -> bool:
    """The hook opens its inherited pipes as ``/dev/fd/<n>`` (see
    :mod:`heater.push.hook`); without that, it validates in a process of
    its own."""
    return os.name == "posix" and os.path.isdir("/dev/fd")


class HookClosed(Exception):
    """The hook went away, or the relay was closed, before the exchange ended."""


TOO_LARGE = (f"this push updates more refs than one push may (its hook input is over "
             f"{MAX_REQUEST_BYTES // (1024 * 1024)} MiB); push them in smaller batches\n")


class RequestTooLarge(Exception):
    """The hook's request passed :data:`MAX_REQUEST_BYTES`; it was read to
    its end all the same, so that the hook gets to read the reason."""


class HookRelay:
    """Answers the pre-receive hook of one push to ``repo_path``.

    Pass :attr:`hook_fds` to the git process (``pass_fds``) with
    :meth:`environment` in its environment, call :meth:`spawned` once it has
    started, and :meth:`close` once it has exited.
    """

    def __init__(self, repo_path: Path, lock_path: Path, admin: bool,
                 max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> None:
        self.repo_path = repo_path.resolve()
        self.lock_path = lock_path
        self.admin = admin
        self.max_blob_bytes = max_blob_bytes
        # os.pipe() descriptors are not inherited: only git gets the hook's
        # ends (pass_fds), and nothing ever gets this process's ends.
        self._requests, request_writer = os.pipe()
        reply_reader, self._replies = os.pipe()
        # A hook that stops reading must not block this thread past its timeout.
        os.set_blocking(self._replies, False)
        self.hook_fds: tuple[int, ...] = (request_writer, reply_reader)
        self._held: locks.FileLock | None = None
        # Set once the hook has answered: the reason class of a refusal, or
        # the updates let through.
        self.refused: str | None = None
        self.accepted: list[RefUpdate] = []
        self._closed = threading.Event()
        self._task = threads.submit(self._serve, "hook-relay")

    def environment(self) -> dict[str, str]:
        """The variables that name the pipes to the hook."""
        request_writer, reply_reader = self.hook_fds
        return {REQUEST_ENV: str(request_writer), REPLY_ENV: str(reply_reader)}

    def spawned(self) -> None:
        """Close this process's copies of the hook's ends once git has
        inherited them (idempotent): then the request pipe ends when git and
        everything it started have exited."""
        fds, self.hook_fds = self.hook_fds, ()
        for fd in fds:
            os.close(fd)

    def close(self) -> None:
        """Release the push lock and the pipes (idempotent); call it once git
        has finished, hook or no hook."""
        self._closed.set()
        self.spawned()
        futures.wait([self._task], timeout=TIMEOUT_SECONDS)
        held, self._held = self._held, None
        if held is not None:
            held.release()

    @property
    def finished(self) -> bool:
        """Whether the relay's work has ended (its pipes are closed)."""
        return self._task.done()

    def _lock(self) -> bool:
        try:
            self._held = locks.acquire(self.lock_path, LOCK_WAIT_SECONDS, self._closed)
        except locks.LockTimeout:
            return False
        return True

    def _serve(self) -> None:
        try:
            try:
                status, text = self._answer(self._receive())
            except HookClosed:
                raise
            except RequestTooLarge:
                self.refused = "too_large"
                status, text = 1, TOO_LARGE
            except Exception:
                log.exception("validating a push failed")
                self.refused = "internal"
                status, text = 1, "internal error while validating the push; refused\n"
            self._send(status, text)
        except HookClosed:
            pass  # no hook ran, or it went away: git refuses the push
        finally:
            # The hook reads the reply to its end-of-file at worst: close it
            # on every path, or a hook would wait for close().
            os.close(self._replies)
            os.close(self._requests)

    def _wait(self, fd: int, event: int, deadline: float | None) -> None:
        """Return once ``fd`` is ready for ``event``; HookClosed if close()
        was called or ``deadline`` passed first."""
        poller = select.poll()
        poller.register(fd, event)
        while not self._closed.is_set():
            if deadline is not None and time.monotonic() > deadline:
                raise HookClosed("the hook took too long")
            if poller.poll(POLL_SECONDS * 1000):
                return
        raise HookClosed("closed")

    def _receive(self) -> bytes:
        """The hook's whole request, up to and without its end line."""
        request = bytearray()
        too_large = False
        deadline = None  # the push's pack may take long to arrive before the hook runs
        while not request.endswith(_END):
            self._wait(self._requests, select.POLLIN, deadline)
            data = os.read(self._requests, 64 * 1024)
            if not data:
                raise HookClosed("end of file")  # git and the hook are gone
            request += data
            if len(request) > MAX_REQUEST_BYTES:
                # The hook reads the reply only once it has written all of
                # its input: keep reading (only the tail, to find the end)
                # so that the refusal reaches the git user with its reason.
                too_large = True
                del request[:-len(_END)]
            deadline = deadline or time.monotonic() + TIMEOUT_SECONDS
        if too_large:
            raise RequestTooLarge()
        return bytes(request[: -len(_END) + 1])

    def _send(self, status: int, text: str) -> None:
        if text and not text.endswith("\n"):
            text += "\n"
        lines = text.count("\n")
        reply = f"{status} {lines}\n".encode() + _printable(text)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while reply:
            self._wait(self._replies, select.POLLOUT, deadline)
            try:
                reply = reply[os.write(self._replies, reply):]
            except BlockingIOError:
                continue
            except BrokenPipeError as exc:
                raise HookClosed("the hook went away") from exc

    def _answer(self, request: bytes) -> tuple[int, str]:
        head, _, body = request.partition(b"\n")
        quarantine = head.decode(errors="surrogateescape")
        # Split on newlines only: a ref name may hold other line separators.
        # A ref name git took may be any bytes: the ones that are not UTF-8
        # stay as surrogates, which check_ref_name refuses with a reason.
        lines = body.decode(errors="surrogateescape").split("\n")[:-1]
        updates = parse_updates(lines)
        if len(updates) != len(lines):
            # Only git writes these lines: anything else is not a push to pass.
            self.refused = "malformed"
            return 1, "malformed hook input; push refused\n"
        if not self._lock():
            self.refused = "busy"
            return 1, "another push to this repository is taking too long; try again\n"
        git = pygit2.Repository(str(self.repo_path))
        try:
            received = None
            if quarantine:
                # Only ever a directory of this repository's object store.
                received = Path(quarantine).resolve()
                if received.parent != objects_dir(self.repo_path):
                    self.refused = "malformed"
                    return 1, "unexpected quarantine directory; push refused\n"
                git.odb.add_disk_alternate(str(received))
            # Sizes first: validation reads the files it checks.
            stale = check_current(git, updates)
            oversized = [] if stale or not quarantine else oversized_files(
                git, quarantine, self.max_blob_bytes)
            if stale or oversized:
                verdict = Verdict(stale or oversized, [], "stale_ref" if stale else "size")
            else:
                verdict = review(git, updates, self.admin, pushed=True, quarantine=received)
        finally:
            git.free()
        if verdict.problems:
            self.refused = verdict.reason
        else:
            self.accepted = updates
        return (1 if verdict.problems else 0), report(verdict.problems, verdict.warnings)


def _printable(text: str) -> bytes:
    """``text`` in UTF-8, where a refused ref name's bytes that are not
    UTF-8 (decoded as surrogate escapes) are shown as ``\\xNN``."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace").encode()
