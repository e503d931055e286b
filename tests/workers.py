"""The worker processes of a test's own server: find them, kill them, wait
for the server to answer again."""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import requests

from tests.conftest import Git, Server

NO_COMMIT = "0" * 40


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


def _pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def half_push(server: Server, git: Git, work: Path, repo: str, token: str,
              old: str = NO_COMMIT) -> http.client.HTTPConnection:
    """Push ``work``'s ``main`` (on top of ``old``; by default a new
    branch) to ``repo`` (``ns/name``) by hand, sending the command and half
    the pack, then stopping: receive-pack is certainly still reading it
    while the test does its worst. The connection, for the test to close."""
    new = git.run("rev-parse", "main", cwd=work).stdout.strip()
    revisions = f"{new}\n" if old == NO_COMMIT else f"{new}\n^{old}\n"
    pack = git.run_bytes("pack-objects", "--stdout", "--revs", cwd=work,
                         input=revisions.encode())
    command = f"{old} {new} refs/heads/main\0report-status side-band-64k\n".encode()
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.putrequest("POST", f"/{repo}.git/git-receive-pack")
    for header, value in (("Content-Type", "application/x-git-receive-pack-request"),
                          ("Authorization", f"Bearer {token}"),
                          ("Transfer-Encoding", "chunked")):
        connection.putheader(header, value)
    connection.endheaders()
    first_half = _pkt(command) + b"0000" + pack[: len(pack) // 2]
    connection.send(f"{len(first_half):x}\r\n".encode() + first_half + b"\r\n")
    return connection
