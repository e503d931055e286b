"""The relay between the shell hook and the server process, without a server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from heater.push.hook import REPLY_ENV, REQUEST_ENV, install
from heater.push.relay import MAX_REQUEST_BYTES, TOO_LARGE, HookRelay
from tests.conftest import HELLO_WORLD
from tests.workers import wait_until


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


@pytest.fixture
def hook(tmp_path: Path) -> Path:
    return install(tmp_path / "hooks")


def run_hook(hook: Path, relay: HookRelay, repo: Path,
             line: str) -> subprocess.CompletedProcess[str]:
    """Run the hook as git does for a push through the server: with the
    relay's descriptors inherited and named in its environment."""
    env = {"PATH": os.environ["PATH"], **relay.environment()}
    proc = subprocess.Popen([str(hook)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=repo, text=True,
                            pass_fds=relay.hook_fds)
    relay.spawned()
    stdout, stderr = proc.communicate(line, timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def one_push(hook: Path, repo: Path, line: str,
             admin: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed hook for one push answered by its own relay."""
    relay = HookRelay(repo, repo / "lock", admin=admin)
    try:
        return run_hook(hook, relay, repo, line)
    finally:
        relay.close()


def open_fds() -> dict[str, str]:
    """This process's descriptors and what each is open on."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own, now closed
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return found


def leaked_fds(before: dict[str, str]) -> dict[str, str]:
    """Descriptors open now that were not open ``before``, once those that
    other threads of the test process (xdist's channel, the background pool
    winding down) open for a moment have had time to close: a leak stays."""
    new: dict[str, str] = {}

    def settled() -> bool:
        nonlocal new
        new = {fd: what for fd, what in open_fds().items() if before.get(fd) != what}
        return not new

    wait_until(settled, 5)
    return new


@contextlib.contextmanager
def descriptors_from(first: int) -> Iterator[None]:
    """Hold descriptors open until the next new ones are numbered ``first``
    or above, as in a server process that has many files open."""
    held: list[int] = []
    try:
        while not held or held[-1] < first - 1:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)


def test_close_without_a_hook_ends_promptly(repo: tuple[Path, str]) -> None:
    path, _ = repo
    before = open_fds()
    relay = HookRelay(path, path / "lock", admin=False)
    started = time.monotonic()
    relay.close()
    relay.close()
    assert time.monotonic() - started < 5
    assert relay.finished
    assert leaked_fds(before) == {}


def test_the_relay_ends_when_git_exits_without_running_the_hook(
        repo: tuple[Path, str]) -> None:
    """Once every process that inherited the request pipe has exited, its
    end-of-file ends the relay thread, before close() is even called."""
    path, _ = repo
    relay = HookRelay(path, path / "lock", admin=False)
    subprocess.run(["true"], pass_fds=relay.hook_fds, check=True)
    relay.spawned()
    assert wait_until(lambda: relay.finished, 10)
    relay.close()


def test_close_does_not_wait_for_a_process_that_keeps_the_pipe(
        repo: tuple[Path, str]) -> None:
    """A child of git that outlives it (holding the request pipe open) does
    not hold up close()."""
    path, _ = repo
    relay = HookRelay(path, path / "lock", admin=False)
    lingering = subprocess.Popen(["sleep", "30"], pass_fds=relay.hook_fds)
    try:
        relay.spawned()
        started = time.monotonic()
        relay.close()
        assert time.monotonic() - started < 5
        assert relay.finished
    finally:
        lingering.kill()
        lingering.wait()


def test_hook_answers_through_the_relay(hook: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    ok = one_push(hook, path, f"{'0' * 40} {commit} refs/tags/v1.0.0\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    bad = one_push(hook, path, f"{commit} {'0' * 40} refs/heads/main\n")
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == ["refs/heads/main: only an admin may delete a branch",
                                       "push refused: nothing was changed"]


def test_descriptors_of_more_than_one_digit(hook: Path, repo: tuple[Path, str]) -> None:
    """dash takes only single-digit descriptors in redirections like >&N;
    a server process has many files open."""
    path, commit = repo
    with descriptors_from(20):
        relay = HookRelay(path, path / "lock", admin=False)
    assert min(relay.hook_fds) >= 20
    try:
        bad = run_hook(hook, relay, path, f"{commit} {'0' * 40} refs/heads/main\n")
    finally:
        relay.close()
    assert bad.returncode == 1
    assert "only an admin may delete a branch" in bad.stderr


def test_a_stale_old_value_is_refused(hook: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    stale = one_push(hook, path, f"{'1' * 40} {commit} refs/heads/main\n", admin=True)
    assert stale.returncode == 1
    assert "refs/heads/main: another push changed it first" in stale.stderr


def test_input_that_is_not_ref_updates_is_refused(hook: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    mixed = one_push(hook, path, f"{'0' * 40} {commit} refs/tags/v1.0.0\nnonsense\n")
    assert mixed.returncode == 1
    assert "malformed hook input; push refused" in mixed.stderr


def test_an_oversized_request_is_refused(hook: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    line = f"{'0' * 40} {commit} refs/tags/{'x' * 900}\n"
    huge = one_push(hook, path, line * (MAX_REQUEST_BYTES // len(line) + 2))
    assert huge.returncode == 1
    # The reason reaches the git user, not only a failed hook.
    assert huge.stderr == TOO_LARGE


def test_a_hook_whose_server_is_gone_ends(hook: Path, repo: tuple[Path, str]) -> None:
    """The server process holds the only other ends of both pipes: when it
    dies (here: closes them), the hook fails at once instead of waiting."""
    path, commit = repo
    for server_side_closed in ("request", "reply"):
        request_reader, request_writer = os.pipe()
        reply_reader, reply_writer = os.pipe()
        env = {"PATH": os.environ["PATH"], REQUEST_ENV: str(request_writer),
               REPLY_ENV: str(reply_reader)}
        os.close(request_reader if server_side_closed == "request" else reply_writer)
        try:
            proc = subprocess.Popen([str(hook)], stdin=subprocess.PIPE, env=env, cwd=path,
                                    text=True, pass_fds=(request_writer, reply_reader))
            os.close(request_writer)
            os.close(reply_reader)
            proc.communicate(f"{'0' * 40} {commit} refs/heads/b\n", timeout=30)
            assert proc.returncode != 0
        finally:
            os.close(reply_writer if server_side_closed == "request" else request_reader)


def test_the_push_lock_is_held_until_close(hook: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    first = HookRelay(path, path / "lock", admin=False)
    assert run_hook(hook, first, path, f"{'0' * 40} {commit} refs/heads/a\n").returncode == 0
    second = HookRelay(path, path / "lock", admin=False)
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


def test_many_relays_leak_no_descriptor_or_thread(hook: Path, repo: tuple[Path, str]) -> None:
    path, commit = repo
    before = open_fds()
    relays = []
    for i in range(20):
        relay = HookRelay(path, path / "lock", admin=False)
        if i % 2:
            result = run_hook(hook, relay, path, f"{'0' * 40} {commit} refs/heads/b{i}\n")
            assert result.returncode == 0, result.stderr
        relay.close()
        relays.append(relay)
    assert leaked_fds(before) == {}
    assert all(relay.finished for relay in relays)
    assert sorted(p.name for p in path.parent.iterdir()) == ["hooks", "r.git"]
