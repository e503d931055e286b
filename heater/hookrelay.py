"""The server side of the pre-receive hook: validate a push in-process.

Starting a Python process costs tens of milliseconds, and importing pygit2
and PyYAML hundreds: more than the whole of a small push. So the server
process that runs ``git receive-pack`` makes two named pipes for that push
in a private directory and names it to the hook
(:data:`heater.prereceive.PIPES_ENV`); the hook, a shell script, writes
its input into ``request`` and copies ``reply`` back to git: a status line,
then what the git user is to see. Validation runs here, with everything
already loaded.

The relay also holds the repository's push lock from the moment it
validates until ``git receive-pack`` has finished, and refuses an update
whose old value is no longer the ref's: of concurrent pushes to a branch
the first lands and the others are refused *in the hook*, so that git
discards their quarantine instead of keeping their objects dangling.

It fails closed: whatever goes wrong, the hook exits non-zero and git
refuses the push.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pygit2

from heater.admission import problems_for
from heater.prereceive import parse_updates, report
from heater.refrules import check_current

log = logging.getLogger(__name__)

# A push names a few refs; its hook input is tiny.
MAX_REQUEST_BYTES = 1024 * 1024
# Longer than any validation takes; a hook that hangs must not hold a thread.
TIMEOUT_SECONDS = 120.0
# Pushes to one repository wait this long for the one before them.
LOCK_WAIT_SECONDS = 60.0


def supported() -> bool:
    """Named pipes exist on POSIX systems; elsewhere the hook validates in
    a process of its own."""
    return hasattr(os, "mkfifo")


class HookRelay:
    """Answers the pre-receive hook of one push to ``repo_path``."""

    def __init__(self, repo_path: Path, lock_path: Path, pipes_dir: Path,
                 admin: bool) -> None:
        self.repo_path = repo_path.resolve()
        self.lock_path = lock_path
        self.admin = admin
        self.directory = pipes_dir
        pipes_dir.mkdir(mode=0o700)
        self._request = pipes_dir / "request"
        self._reply = pipes_dir / "reply"
        os.mkfifo(self._request, 0o600)
        os.mkfifo(self._reply, 0o600)
        # The hook's watchdog reads ``alive_fd`` (inherited through git); this
        # process keeps the only write end, closed by close() or by its death.
        self.alive_fd, self._alive_writer = os.pipe()
        self._lock_fd: int | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="hook-relay")
        self._thread.start()

    def close(self) -> None:
        """Release the push lock and the pipes (idempotent); call it once git
        has finished, hook or no hook."""
        self._closed.set()
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while self._thread.is_alive() and time.monotonic() < deadline:
            # Wake the thread where it waits for a hook that never came (or
            # died): opening the other end of its pipe unblocks it.
            for pipe, flags in ((self._request, os.O_WRONLY), (self._reply, os.O_RDONLY)):
                with contextlib.suppress(OSError):
                    os.close(os.open(pipe, flags | os.O_NONBLOCK))
            self._thread.join(0.05)
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the flock
        self.spawned()
        writer, self._alive_writer = self._alive_writer, -1
        if writer >= 0:
            os.close(writer)
        shutil.rmtree(self.directory, ignore_errors=True)

    def spawned(self) -> None:
        """Close this process's copy of ``alive_fd`` once git has inherited
        it (idempotent)."""
        reader, self.alive_fd = self.alive_fd, -1
        if reader >= 0:
            os.close(reader)

    def _lock(self) -> bool:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline or self._closed.is_set():
                    os.close(fd)
                    return False
                time.sleep(0.01)
                continue
            self._lock_fd = fd
            return True

    def _serve(self) -> None:
        try:
            with self._request.open("rb") as pipe:  # waits for the hook
                request = pipe.read(MAX_REQUEST_BYTES + 1)
            if self._closed.is_set():
                return  # woken by close(): no hook ran
            try:
                if len(request) > MAX_REQUEST_BYTES:
                    raise ValueError("hook request too large")
                status, text = self._answer(request)
            except Exception:
                log.exception("validating a push failed")
                status, text = 1, "internal error while validating the push; refused\n"
            with self._reply.open("wb") as pipe:  # waits for the hook to read
                pipe.write(f"{status}\n{text}".encode())
        except OSError:
            pass  # the hook went away: git refuses the push

    def _answer(self, request: bytes) -> tuple[int, str]:
        head, _, body = request.partition(b"\n")
        quarantine = head.decode()
        if not self._lock():
            return 1, "another push to this repository is taking too long; try again\n"
        git = pygit2.Repository(str(self.repo_path))
        try:
            if quarantine:
                # Only ever a directory of this repository's object store.
                path = Path(quarantine).resolve()
                if path.parent != self.repo_path / "objects":
                    return 1, "unexpected quarantine directory; push refused\n"
                git.odb.add_disk_alternate(str(path))
            updates = parse_updates(body.decode().splitlines())
            problems = check_current(git, updates) or problems_for(git, updates, self.admin)
        finally:
            git.free()
        return (1 if problems else 0), report(problems)
