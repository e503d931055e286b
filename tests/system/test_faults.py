"""Faults: workers killed mid-request, malformed protocol input.

What was accepted stays, what was refused or interrupted leaves no trace.
These tests start servers of their own, since they kill its workers.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from heater.config import Config
from heater.names import RepoId
from heater.wiring import build_registry
from tests.agreement import assert_index_agrees_with_git, full_listing
from tests.conftest import HELLO_WORLD, Git, Server, git_env, start_server, stop_server
from tests.images_helpers import auth, queue_build, raw_upload, upload
from tests.workers import half_push, kill_workers, processes_for, serving, wait_until


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    # Replays only when a worker starts: the tests decide when that is.
    srv = start_server(tmp_path / "data", tmp_path / "server.log",
                       env={"HEATER_PENDING_REPLAY_SECONDS": "0"})
    yield srv
    stop_server(srv)


def _leftovers(repo_path: Path) -> list[str]:
    objects = repo_path / "objects"
    return sorted(str(p.relative_to(repo_path)) for p in objects.rglob("*")
                  if p.name.startswith(("tmp_objdir", "incoming-", "tmp_pack", "tmp_idx")))


def _cleanup(server: Server) -> subprocess.CompletedProcess[str]:
    """``heater cleanup`` with no grace period (nothing is in flight)."""
    return subprocess.run(
        [sys.executable, "-m", "heater", "cleanup", "--older-than", "0",
         "--data-dir", str(server.data_dir)], capture_output=True, text=True, check=False)


def test_worker_killed_mid_push_moves_no_ref(own_server: Server, git: Git, ns: str,
                                            tmp_path: Path) -> None:
    token = own_server.token("writer", ns)
    url = own_server.auth_url(f"{ns}/web.git", token)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", url, "main", cwd=work)
    before = git.run("ls-remote", url).stdout
    repo_path = own_server.layout.root / "git" / ns / "web.git"

    git.commit(work, {f"blob{i}.bin": os.urandom(4 * 1024 * 1024) for i in range(2)}, "big")
    connection = half_push(own_server, git, work, f"{ns}/web", token, before.split()[0])
    try:
        assert wait_until(lambda: processes_for(repo_path, b"receive-pack"), 60), \
            "receive-pack never started"
        assert wait_until(lambda: list((repo_path / "objects").glob("tmp_objdir*")), 60), \
            "receive-pack never started to store the pack"
        kill_workers(own_server)
    finally:
        connection.close()
    # git on the server sees its input end and gives up, cleaning its quarantine.
    assert wait_until(lambda: not processes_for(repo_path, b"receive-pack"), 30)
    assert wait_until(lambda: serving(own_server), 30)
    assert git.run("ls-remote", url).stdout == before
    assert git.run("fsck", "--strict", cwd=repo_path).returncode == 0
    # git may leave its (emptied) quarantine behind when its server process
    # dies; the next cleanup removes it.
    cleanup = _cleanup(own_server)
    assert cleanup.returncode == 0, cleanup.stderr
    assert _leftovers(repo_path) == []
    assert_index_agrees_with_git(own_server, git, ns, tmp_path)
    # The same push, retried, lands, and the index follows.
    git.run("push", url, "main", cwd=work, timeout=300)
    assert git.run("ls-remote", url).stdout != before
    assert_index_agrees_with_git(own_server, git, ns, tmp_path / "after")


def test_worker_killed_while_its_hook_waits_leaves_no_process(
        own_server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = own_server.token("writer", ns)
    url = own_server.auth_url(f"{ns}/web.git", token)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", url, "main", cwd=work)
    repo_path = own_server.layout.git_root / ns / "web.git"
    git.commit(work, {"more.yaml": "a: 1\n"}, "more")
    # Holding the push lock keeps the relay from answering: the hook waits
    # on its pipe, as it does during any validation, when the worker dies.
    lock = os.open(own_server.layout.push_lock(RepoId(ns, "web")), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        push = subprocess.Popen(["git", "push", url, "main"], cwd=work, env=git_env(git.home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert wait_until(lambda: processes_for(own_server.layout.hooks, b"pre-receive"), 60)
        kill_workers(own_server)
    finally:
        os.close(lock)
    push.communicate(timeout=120)  # git's client may retry on a new worker: either is fine
    # Without the server process, nothing would ever answer the hook: it and
    # its git must end, not wait for ever.
    assert wait_until(lambda: not processes_for(own_server.layout.hooks, b"pre-receive")
                      and not processes_for(repo_path, b"receive-pack"), 30)
    assert wait_until(lambda: serving(own_server), 30)
    assert _cleanup(own_server).returncode == 0
    assert _leftovers(repo_path) == []
    assert git.run("fsck", "--strict", cwd=repo_path).returncode == 0
    assert_index_agrees_with_git(own_server, git, ns, tmp_path)


def test_a_change_a_dead_worker_left_unindexed_is_caught_up(
        own_server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = own_server.token("writer", ns)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("tag", "v1.0.0", cwd=work)
    git.run("push", own_server.auth_url(f"{ns}/web.git", token), "main", "v1.0.0", cwd=work)
    # A worker that dies after git moved a ref and before the index heard of
    # it leaves the marker it wrote before the push; the ref moves here
    # behind the server's back to make that window last.
    marker = build_registry(Config(own_server.data_dir)).begin_change(RepoId(ns, "web"))
    marker.lock.release()  # as the kernel does when the process dies
    git.run("tag", "v1.1.0", cwd=work)
    git.run("push", str(own_server.layout.git_root / ns / "web.git"), "v1.1.0", cwd=work)
    admin = own_server.token("admin")
    assert [e["latest_version"] for e in full_listing(own_server, admin, ns)["templates"]] \
        == ["1.0.0"]
    kill_workers(own_server)
    assert wait_until(lambda: serving(own_server), 30)
    assert [e["latest_version"] for e in full_listing(own_server, admin, ns)["templates"]] \
        == ["1.1.0"]
    assert list(own_server.layout.pending.iterdir()) == []
    assert_index_agrees_with_git(own_server, git, ns, tmp_path)


def test_worker_killed_mid_upload_keeps_the_build_retryable(
        own_server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = own_server.token("writer", ns)
    layout = own_server.layout
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", own_server.auth_url(f"{ns}/web.git", token), "main", cwd=work)
    earlier = queue_build(own_server, token, f"{ns}/img", version="1.0.0")
    assert upload(own_server, token, earlier, b"an earlier build").status_code == 200
    build_id = queue_build(own_server, token, f"{ns}/img", version="1.1.0")
    data = os.urandom(24 * 1024 * 1024)
    repo_path = layout.git_root / ns / "img.git"
    refs_before = git.run("ls-remote", str(repo_path)).stdout

    def scratch() -> list[Path]:
        return list(layout.tmp.glob("blob-*"))

    with raw_upload(own_server, token, build_id, len(data)) as sock:
        sock.sendall(data[: 8 * 1024 * 1024])
        # The worker is streaming the body into its scratch file when it dies.
        assert wait_until(lambda: any(p.stat().st_size > 0 for p in scratch()), 30)
        kill_workers(own_server)
    assert wait_until(lambda: serving(own_server), 30)

    # Nothing was committed or stored; the build is still queued.
    assert git.run("ls-remote", str(repo_path)).stdout == refs_before
    assert build_id not in git.run("log", "--all", "--format=%B", cwd=repo_path).stdout
    assert git.run("fsck", "--strict", cwd=repo_path).returncode == 0
    assert not layout.blob(build_id).exists()
    build = requests.get(f"{own_server.url}/api/v1/builds/{build_id}", timeout=10).json()
    assert (build["status"], build["commit"], build["version"]) == ("queued", None, "1.1.0")
    assert requests.get(f"{own_server.url}/api/v1/builds/{build_id}/file",
                        timeout=10).status_code == 404
    assert_index_agrees_with_git(own_server, git, ns, tmp_path / "crashed")

    # The next cleanup leaves no bytes that no build owns.
    assert _cleanup(own_server).returncode == 0
    assert scratch() == []
    assert sorted(p.name for p in layout.blobs.rglob("*") if p.is_file()) == [earlier]

    # What the user does next, the retry of the same upload, works.
    response = upload(own_server, token, build_id, data)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    got = requests.get(f"{own_server.url}/api/v1/builds/{build_id}/file", timeout=60,
                       headers=auth(token))
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    assert_index_agrees_with_git(own_server, git, ns, tmp_path / "retried")


# What each malformed upload-pack request below is told: a bad pkt-line is
# refused before git sees it (heater.git.wants reads the request line by
# line), an empty one or a v2 command without its header by git itself.
GIT_ANSWERS = {
    b"zzzz": (400, b"malformed pkt-line length"),
    b"ffffwant": (400, b"bad pkt-line length 65535"),
    b"0004": (400, b"fatal: git upload-pack: protocol error, expected to get object ID"),
    b"0032want 0000000000000000000000000000000000000000\n00000009done\n":
        (200, b"004aERR upload-pack: not our ref 0000000000000000000000000000000000000000"),
    # 0x10 bytes end inside the word: the command is "fetc".
    b"0010command=fetch0000":
        (200, b"0037ERR upload-pack: command 'fetc' is not served here"),
    b"\x00\x01\x02\x03" * 16: (400, b"malformed pkt-line length"),
}


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
    # Git answers in protocol (an ERR packet) or refuses the request, saying why.
    status, start = GIT_ANSWERS[body]
    assert response.status_code == status, response.text
    assert response.content.startswith(start), response.content
    if status == 400:
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
    for body, status, answer in (
            # The hook refuses a pack that unpacks to no valid commit.
            (f"{len(command) + 4:04x}".encode() + command + b"0000PACKgarbage", 200,
             b"000eunpack ok\n0031ng refs/heads/main pre-receive hook declined\n0000"),
            (b"0000", 200, b""),  # no command: nothing to do
            (b"zzzz", 400, b"fatal: protocol error: bad line length character: zzzz\n")):
        response = requests.post(
            f"{server.url}/{ns}/web.git/git-receive-pack", data=body, timeout=30,
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": "application/x-git-receive-pack-request"})
        assert (response.status_code, response.content) == (status, answer)
    assert git.run("ls-remote", f"{server.url}/{ns}/web.git").stdout == before
    assert git.run("fsck", "--strict", cwd=repo_path).returncode == 0
    assert _leftovers(repo_path) == []
