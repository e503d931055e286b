"""A server process in the background: started with its output in a log
file, awaited until a readiness check passes, stopped for sure.

Failures carry the end of the server's log, so a fixture that cannot start
its server fails with the reason instead of a bare timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOG_TAIL = 6000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers that
    cannot listen on port 0 and report the port they got)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ServiceFailed(RuntimeError):
    """A background service did not start, or died; the message has its log."""


class Service:
    """One background process, its log, and its readiness check."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 user: str | None = None) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            # A new session: stop() signals the whole group, so servers that
            # fork workers (uwsgi, swift) go with their parent.
            self.process = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})}, cwd=cwd, user=user,
                start_new_session=True)

    def log(self) -> str:
        """The end of the service's log."""
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL:]
        except FileNotFoundError:
            return ""

    def wait_ready(self, ready: Callable[[], bool], seconds: float = 120.0) -> None:
        """Return once ``ready()`` is true; fail with the log if the process
        exits or ``seconds`` pass first."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceFailed(f"{self.name} exited with {self.process.returncode}:\n"
                                    f"{self.log()}")
            try:
                if ready():
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.1)
        self.stop()
        raise ServiceFailed(f"{self.name} not ready after {seconds:.0f} s:\n{self.log()}")

    def stop(self, seconds: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=seconds)
        self._signal(signal.SIGKILL)  # workers that outlived their parent
        self.process.wait()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
