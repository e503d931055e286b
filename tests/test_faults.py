"""Faults: workers killed mid-request, malformed protocol input.

What was accepted stays, what was refused or interrupted leaves no trace.
These tests start servers of their own, since they kill its workers.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import HELLO_WORLD, Git, Server, start_server, stop_server


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path / "data", tmp_path / "server.log")
    yield srv
    stop_server(srv)


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


def _processes_for(repo_path: Path, word: bytes) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if word in cmdline and str(repo_path).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def _wait_until(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _leftovers(repo_path: Path) -> list[str]:
    objects = repo_path / "objects"
    return sorted(str(p.relative_to(repo_path)) for p in objects.rglob("*")
                  if p.name.startswith(("tmp_objdir", "incoming-", "tmp_pack", "tmp_idx")))


def test_worker_killed_mid_push_moves_no_ref(own_server: Server, git: Git, ns: str,
                                            tmp_path: Path) -> None:
    token = own_server.token("writer", ns)
    url = own_server.auth_url(f"{ns}/web.git", token)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", url, "main", cwd=work)
    before = git.run("ls-remote", url).stdout
    repo_path = own_server.layout.root / "git" / ns / "web.git"

    old = before.split()[0]
    new = git.commit(work, {f"blob{i}.bin": os.urandom(4 * 1024 * 1024) for i in range(2)},
                     "big")
    pack = git.run_bytes("pack-objects", "--stdout", "--revs", cwd=work,
                         input=f"{new}\n^{old}\n".encode())
    command = f"{old} {new} refs/heads/main\0report-status side-band-64k\n".encode()
    # Send the push by hand, stopping halfway through the pack, so that the
    # worker is killed while receive-pack is certainly still reading it.
    host, port = own_server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.putrequest("POST", f"/{ns}/web.git/git-receive-pack")
    for header, value in (("Content-Type", "application/x-git-receive-pack-request"),
                          ("Authorization", f"Bearer {token}"),
                          ("Transfer-Encoding", "chunked")):
        connection.putheader(header, value)
    connection.endheaders()
    first_half = _pkt(command) + b"0000" + pack[: len(pack) // 2]
    connection.send(f"{len(first_half):x}\r\n".encode() + first_half + b"\r\n")
    try:
        assert _wait_until(lambda: _processes_for(repo_path, b"receive-pack"), 60), \
            "receive-pack never started"
        assert _wait_until(lambda: list((repo_path / "objects").glob("tmp_objdir*")), 60), \
            "receive-pack never started to store the pack"
        for worker in _children(own_server.process.pid):
            os.kill(worker, signal.SIGKILL)
    finally:
        connection.close()
    # git on the server sees its input end and gives up, cleaning its quarantine.
    assert _wait_until(lambda: not _processes_for(repo_path, b"receive-pack"), 30)
    assert _wait_until(lambda: requests.get(f"{own_server.url}/healthz",
                                            timeout=5).status_code == 200, 30)
    assert git.run("ls-remote", url).stdout == before
    assert git.run("fsck", "--strict", cwd=repo_path).returncode == 0
    # git may leave its (emptied) quarantine behind when its server process
    # dies; the next cleanup removes it.
    cleanup = subprocess.run(
        [sys.executable, "-m", "heater", "cleanup", "--older-than", "0",
         "--data-dir", str(own_server.data_dir)], capture_output=True, text=True, check=False)
    assert cleanup.returncode == 0, cleanup.stderr
    assert _leftovers(repo_path) == []
    # The same push, retried, lands.
    git.run("push", url, "main", cwd=work, timeout=300)
    assert git.run("ls-remote", url).stdout != before


@pytest.mark.parametrize("body", [
    b"zzzz",                                  # not a length
    b"0004",                                  # an empty pkt-line where none may be
    b"ffffwant",                              # a length past the end of the body
    b"0032want 0000000000000000000000000000000000000000\n00000009done\n",  # unknown object
    b"0010command=fetch0000",                 # v2 command without the v2 header
    b"\x00\x01\x02\x03" * 16,
])
def test_malformed_upload_pack_requests_get_git_errors(server: Server, git: Git, ns: str,
                                                       tmp_path: Path, body: bytes) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/web.git", server.token("writer", ns)), "main",
            cwd=work)
    response = requests.post(f"{server.url}/{ns}/web.git/git-upload-pack", data=body,
                             timeout=30,
                             headers={"Content-Type": "application/x-git-upload-pack-request"})
    # Either git answers in protocol (an ERR packet) or the request is refused; never 5xx.
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["Content-Type"].startswith("text/plain")
        assert str(server.layout.root) not in response.text


def test_malformed_receive_pack_request_writes_nothing(server: Server, git: Git, ns: str,
                                                       tmp_path: Path) -> None:
    token = server.token("writer", ns)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/web.git", token), "main", cwd=work)
    repo_path = server.layout.root / "git" / ns / "web.git"
    before = git.run("ls-remote", f"{server.url}/{ns}/web.git").stdout
    zero = "0" * 40
    head = before.split()[0]
    command = f"{head} {zero} refs/heads/main\0 report-status\n".encode()
    for body in (f"{len(command) + 4:04x}".encode() + command + b"0000PACKgarbage",
                 b"0000", b"zzzz"):
        response = requests.post(
            f"{server.url}/{ns}/web.git/git-receive-pack", data=body, timeout=30,
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": "application/x-git-receive-pack-request"})
        assert response.status_code < 500
    assert git.run("ls-remote", f"{server.url}/{ns}/web.git").stdout == before
    assert git.run("fsck", "--strict", cwd=repo_path).returncode == 0
    assert _leftovers(repo_path) == []
