"""The relay between the shell hook and the server process, without a server."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pygit2
import pytest

from heater.hookrelay import HookRelay
from heater.prereceive import PIPES_ENV, install
from tests.conftest import HELLO_WORLD


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A bare repository with main at one valid commit; (path, commit id)."""
    path = tmp_path / "r.git"
    git = pygit2.init_repository(str(path), bare=True, initial_head="main")
    builder = git.TreeBuilder()
    builder.insert("template.yaml", git.create_blob(HELLO_WORLD), pygit2.enums.FileMode.BLOB)
    who = pygit2.Signature("t", "t@example.com")
    commit = git.create_commit("refs/heads/main", who, who, "one", builder.write(), [])
    return path, str(commit)


def run_hook(hook: Path, relay: HookRelay, repo: Path,
             line: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], PIPES_ENV: str(relay.directory)}
    return subprocess.run([str(hook)], input=line, env=env, cwd=repo, capture_output=True,
                          text=True, timeout=30, check=False)


def one_push(tmp_path: Path, repo: Path, line: str, name: str,
             admin: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed hook for one push answered by its own relay."""
    hook = install(tmp_path / "hooks")
    relay = HookRelay(repo, repo / "lock", tmp_path / name, admin=admin)
    try:
        return run_hook(hook, relay, repo, line)
    finally:
        relay.close()


def test_close_without_a_hook_leaves_nothing(tmp_path: Path, repo: tuple[Path, str]) -> None:
    path, _ = repo
    relay = HookRelay(path, path / "lock", tmp_path / "pipes", admin=False)
    started = time.monotonic()
    relay.close()
    relay.close()
    assert time.monotonic() - started < 5
    assert not (tmp_path / "pipes").exists()
    assert not any(t.name == "hook-relay" and t.is_alive() for t in threading.enumerate())


def test_hook_answers_through_the_relay(tmp_path: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    ok = one_push(tmp_path, path, f"{'0' * 40} {commit} refs/tags/v1.0.0\n", "p1")
    assert ok.returncode == 0, ok.stderr
    bad = one_push(tmp_path, path, f"{commit} {'0' * 40} refs/heads/main\n", "p2")
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == ["refs/heads/main: only an admin may delete a branch",
                                       "push refused: nothing was changed"]


def test_a_stale_old_value_is_refused(tmp_path: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    stale = one_push(tmp_path, path, f"{'1' * 40} {commit} refs/heads/main\n", "p", admin=True)
    assert stale.returncode == 1
    assert "refs/heads/main: another push changed it first" in stale.stderr


def test_the_push_lock_is_held_until_close(tmp_path: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    hook = install(tmp_path / "hooks")
    first = HookRelay(path, path / "lock", tmp_path / "p1", admin=False)
    assert run_hook(hook, first, path, f"{'0' * 40} {commit} refs/heads/a\n").returncode == 0
    second = HookRelay(path, path / "lock", tmp_path / "p2", admin=False)
    result: list[subprocess.CompletedProcess[str]] = []
    waiter = threading.Thread(target=lambda: result.append(
        run_hook(hook, second, path, f"{'0' * 40} {commit} refs/heads/b\n")))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # waits for the first push to finish
    first.close()
    waiter.join(10)
    second.close()
    assert result and result[0].returncode == 0, result
