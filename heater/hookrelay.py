"""The server side of the pre-receive hook: validate a push in-process.

Starting a Python process that imports pygit2 and PyYAML costs a few
hundred milliseconds, more than the whole of a small push. So the server
process that runs ``git receive-pack`` opens a one-shot Unix socket for that
push, in Linux's abstract namespace under an unguessable name, and passes
its name to the hook (:data:`heater.prereceive.SOCKET_ENV`); the hook
script, which starts in milliseconds, relays its input here and our answer
back to git. Validation then runs with everything already loaded.

The relay also holds the repository's push lock from the moment it
validates until ``git receive-pack`` has finished, and refuses an update
whose old value is no longer the ref's: of concurrent pushes to a branch
the first lands and the others are refused *in the hook*, so that git
discards their quarantine instead of keeping their objects dangling.

It fails closed: if anything goes wrong, the hook exits non-zero and git
refuses the push. A stranger who connects first only makes the real hook's
connection fail, which refuses the push.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import sys
import threading
import time
import uuid
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
    """Abstract Unix sockets exist on Linux only; elsewhere the hook
    validates in a process of its own."""
    return sys.platform.startswith("linux")


class HookRelay:
    """Answers the pre-receive hook of one push to ``repo_path``."""

    def __init__(self, repo_path: Path, lock_path: Path, admin: bool) -> None:
        self.repo_path = repo_path.resolve()
        self.lock_path = lock_path
        self.admin = admin
        self._lock_fd: int | None = None
        self._closed = threading.Event()
        self.address = f"heater-hook-{uuid.uuid4().hex}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind("\0" + self.address)
        self._sock.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name="hook-relay")
        self._thread.start()

    def close(self) -> None:
        """Stop listening and release the push lock (idempotent); call it once
        git has finished."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=TIMEOUT_SECONDS)
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the flock

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
            conn, _ = self._sock.accept()
        except OSError:
            return  # closed before any hook ran (a push with nothing to do)
        with conn:
            conn.settimeout(TIMEOUT_SECONDS)
            try:
                status, text = self._answer(_read_all(conn))
            except Exception:
                log.exception("validating a push failed")
                status, text = 1, "internal error while validating the push; refused\n"
            with contextlib.suppress(OSError):
                conn.sendall(f"{status}\n{text}".encode())

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


def _read_all(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            return b"".join(chunks)
        total += len(data)
        if total > MAX_REQUEST_BYTES:
            raise ValueError("hook request too large")
        chunks.append(data)
