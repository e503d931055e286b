"""The worker processes of a test's own server: find them, kill them, wait
for the server to answer again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests

from tests.conftest import Server


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def processes_for(path: Path, word: bytes) -> list[int]:
    """The processes whose command line holds ``word`` and ``path``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if word in cmdline and str(path).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def wait_until(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def kill_workers(server: Server) -> None:
    for worker in _children(server.process.pid):
        os.kill(worker, signal.SIGKILL)


def kill_server(server: Server) -> None:
    """SIGKILL the whole server, master and workers at once, as a machine
    that dies would kill it; the git processes its workers started are
    left to find out on their own."""
    victims = [server.process.pid, *_children(server.process.pid)]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    server.process.wait()


def serving(server: Server) -> bool:
    try:
        return requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False
