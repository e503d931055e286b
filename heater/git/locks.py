"""Exclusive locks on files (``flock``), the one way Heater takes them.

Every lock is waited for at most a named time, then :class:`LockTimeout`
says which file and how long. The kernel releases a lock when its process
dies, so a crash never leaves one held; the file itself stays, because
removing a lock file that others may have open would let two holders in.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from heater.errors import Unavailable

# A push waits this long for the one before it on the same repository, and
# so does a version tagged over the API (both take the push lock).
PUSH_LOCK_WAIT_SECONDS = 60.0
# Longest pause between two tries: short enough that a waiter starts soon
# after the holder finishes, long enough not to spin.
_MAX_POLL_SECONDS = 0.05


class LockTimeout(Unavailable):
    """Another holder kept the lock on ``path`` for ``waited`` seconds."""

    def __init__(self, path: Path, waited: float) -> None:
        super().__init__(f"{path.name} stayed locked for {waited:.1f} s; try again")
        self.path = path
        self.waited = waited


class FileLock:
    """A held lock; :meth:`release` (or leaving its ``with`` block) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def fileno(self) -> int:
        """The descriptor that holds the lock: a child process given it
        (``pass_fds``) holds the lock too, until it and this holder have
        both let go."""
        if self._fd is None:
            raise ValueError(f"the lock on {self.path} was released")
        return self._fd

    def release(self) -> None:
        """Free the lock (idempotent): closing the descriptor releases it."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()


def acquire(path: Path, timeout: float, cancelled: threading.Event | None = None) -> FileLock:
    """Lock ``path`` (created if missing, its directory must exist), waiting
    at most ``timeout`` seconds (0: not at all); :class:`LockTimeout` when
    it stays held that long or ``cancelled`` is set while waiting."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return FileLock(path, fd)
        except BlockingIOError:
            pass
        except BaseException:
            os.close(fd)
            raise
        waited = time.monotonic() - started
        if waited >= timeout or (cancelled is not None and cancelled.is_set()):
            os.close(fd)
            raise LockTimeout(path, waited)
        pause = min(pause * 2, _MAX_POLL_SECONDS, timeout - waited)
        if cancelled is not None:
            cancelled.wait(pause)
        else:
            time.sleep(pause)


def try_existing(path: Path) -> FileLock | None:
    """Lock the file ``path`` if it exists and nobody holds it, at once;
    None otherwise. Never creates it: for a lock file whose holder removes
    it when done, a lock taken here on a file removed meanwhile is a lock
    on nothing, so the caller checks that ``path`` is still there."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return FileLock(path, fd)
