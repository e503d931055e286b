"""A push may not point a ref at objects that no client can read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from tests.conftest import HELLO_WORLD, Git, Server

ZERO = "0" * 40
# A pack of no objects: a push that brings nothing.
EMPTY_PACK = b"PACK\x00\x00\x00\x02\x00\x00\x00\x00" + bytes.fromhex(
    "029d08823bd8a8eab510ad6ac75c823cfd3ed31e")


def pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def server_rev(server: Server, ns: str, name: str, rev: str) -> subprocess.CompletedProcess[str]:
    path = server.layout.root / "git" / ns / f"{name}.git"
    return subprocess.run(["git", "-C", str(path), "rev-parse", "--verify", "-q", rev],
                          capture_output=True, text=True, check=False)


def push_without_objects(server: Server, ns: str, name: str, token: str, target: str,
                         ref: str) -> str:
    """What a crafted client gets for creating ``ref`` at ``target`` while
    sending none of its objects (a real git client always sends them)."""
    command = f"{ZERO} {target} {ref}\0 report-status side-band-64k\n".encode()
    response = requests.post(
        f"{server.url}/{ns}/{name}.git/git-receive-pack", auth=("x", token), timeout=30,
        data=pkt(command) + b"0000" + EMPTY_PACK,
        headers={"Content-Type": "application/x-git-receive-pack-request"})
    assert response.status_code == 200
    return response.content.decode("utf-8", "replace")


def test_a_deleted_branch_cannot_be_borrowed_back(server: Server, git: Git, ns: str,
                                                  tmp_path: Path) -> None:
    writer, admin = server.token("writer", ns), server.token("admin", ns)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/app.git", writer), "main", cwd=work)
    git.run("checkout", "-q", "-b", "secret", cwd=work)
    hidden = git.commit(work, {"notes.txt": "not for everyone\n"}, "secret")
    git.run("push", server.auth_url(f"{ns}/app.git", writer), "secret", cwd=work)
    git.run("push", server.auth_url(f"{ns}/app.git", admin), ":secret", cwd=work)
    assert server_rev(server, ns, "app", f"{hidden}^{{commit}}").returncode == 0  # still stored

    answer = push_without_objects(server, ns, "app", writer, hidden, "refs/heads/evil")
    assert "the push refers to objects it does not carry" in answer
    assert "ng refs/heads/evil" in answer
    assert server_rev(server, ns, "app", "refs/heads/evil").returncode != 0

    # An honest client that still has the commit sends it, and the push lands.
    git.run("push", server.auth_url(f"{ns}/app.git", writer), "secret:refs/heads/again",
            cwd=work)
    assert server_rev(server, ns, "app", "refs/heads/again").stdout.strip() == hidden


def test_the_lifecycle_history_cannot_be_borrowed(server: Server, git: Git, ns: str,
                                                  tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/app.git", writer), "main", "v1.0.0", cwd=work,
            check=False)
    git.run("tag", "v1.0.0", cwd=work)
    git.run("push", server.auth_url(f"{ns}/app.git", writer), "main", "v1.0.0", cwd=work)
    yanked = requests.post(f"{server.url}/api/v1/templates/{ns}/app/versions/1.0.0/yank",
                           json={"reason": "broken"}, timeout=30,
                           headers={"Authorization": f"Bearer {writer}"})
    assert yanked.status_code == 200, yanked.text
    lifecycle = server_rev(server, ns, "app", "refs/heater/lifecycle").stdout.strip()
    assert len(lifecycle) == 40

    answer = push_without_objects(server, ns, "app", writer, lifecycle, "refs/heads/state")
    assert "the push refers to objects it does not carry" in answer
    assert server_rev(server, ns, "app", "refs/heads/state").returncode != 0
