"""Twenty clients push to one branch at once: history stays linear and whole."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import HELLO_WORLD, Git, Server
from tests.push.test_hook import assert_clean

PUSHERS = 20


def test_twenty_concurrent_pushers(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    url = server.auth_url(f"{ns}/busy.git", server.token("writer", ns))
    base = git.worktree(tmp_path / "base", {"template.yaml": HELLO_WORLD})
    git.run("push", url, "main", cwd=base)
    clones = []
    for i in range(PUSHERS):
        clone = tmp_path / f"c{i}"
        git.run("clone", "-q", url, str(clone))
        sha = git.commit(clone, {f"notes/{i}.md": f"pusher {i}\n"}, f"pusher {i}")
        clones.append((clone, sha))

    def push(item: tuple[Path, str]) -> tuple[str, subprocess.CompletedProcess[str]]:
        clone, sha = item
        return sha, git.run("push", "origin", "main", cwd=clone, check=False)

    with ThreadPoolExecutor(PUSHERS) as pool:
        results = list(pool.map(push, clones))
    winners = [sha for sha, proc in results if proc.returncode == 0]
    losers = [proc for _, proc in results if proc.returncode != 0]
    # Every client started from the same tip, so exactly one fast-forward wins;
    # the others are refused, by the server's ref lock or by their own git.
    assert len(winners) == 1, [p.stderr for _, p in results]
    assert len(losers) == PUSHERS - 1
    for proc in losers:
        assert "rejected" in proc.stderr or "failed to push" in proc.stderr, proc.stderr

    repo = server.data_dir / "git" / ns / "busy.git"
    tip = subprocess.run(["git", "-C", str(repo), "rev-parse", "main"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert tip == winners[0]
    assert_clean(server, f"{ns}/busy")
    # A clone sees exactly that history.
    clone = tmp_path / "after"
    git.run("clone", "-q", f"{server.url}/{ns}/busy.git", str(clone))
    assert git.run("rev-parse", "HEAD", cwd=clone).stdout.strip() == winners[0]
    assert git.run("rev-list", "--count", "HEAD", cwd=clone).stdout.strip() == "2"
