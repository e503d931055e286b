"""The server side of the pre-receive hook: validate a push in-process.

Starting a Python process that imports pygit2 and PyYAML costs a few
hundred milliseconds, more than the whole of a small push. So the server
process that runs ``git receive-pack`` opens a one-shot Unix socket for that
push, in Linux's abstract namespace under an unguessable name, and passes
its name to the hook (:data:`heater.prereceive.SOCKET_ENV`); the hook
script, which starts in milliseconds, relays its input here and our answer
back to git. Validation then runs with everything already loaded.

It fails closed: if anything goes wrong, the hook exits non-zero and git
refuses the push. A stranger who connects first only makes the real hook's
connection fail, which refuses the push.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import uuid
from pathlib import Path

import pygit2

from heater.admission import problems_for
from heater.prereceive import parse_updates, report

log = logging.getLogger(__name__)

# A push names a few refs; its hook input is tiny.
MAX_REQUEST_BYTES = 1024 * 1024
# Longer than any validation takes; a hook that hangs must not hold a thread.
TIMEOUT_SECONDS = 120.0


def supported() -> bool:
    """Abstract Unix sockets exist on Linux only; elsewhere the hook
    validates in a process of its own."""
    return sys.platform.startswith("linux")


class HookRelay:
    """Answers the pre-receive hook of one push to ``repo_path``."""

    def __init__(self, repo_path: Path, admin: bool) -> None:
        self.repo_path = repo_path.resolve()
        self.admin = admin
        self.address = f"heater-hook-{uuid.uuid4().hex}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind("\0" + self.address)
        self._sock.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name="hook-relay")
        self._thread.start()

    def close(self) -> None:
        """Stop listening (idempotent); a push that ran no hook just ends."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

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
        self.close()

    def _answer(self, request: bytes) -> tuple[int, str]:
        head, _, body = request.partition(b"\n")
        quarantine = head.decode()
        git = pygit2.Repository(str(self.repo_path))
        try:
            if quarantine:
                # Only ever a directory of this repository's object store.
                path = Path(quarantine).resolve()
                if path.parent != self.repo_path / "objects":
                    return 1, "unexpected quarantine directory; push refused\n"
                git.odb.add_disk_alternate(str(path))
            problems = problems_for(git, parse_updates(body.decode().splitlines()),
                                    self.admin)
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
