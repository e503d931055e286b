"""``heater cleanup --repack``: many pushes' packs become one, with a
bitmap, and nothing a ref reaches is lost."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from heater.git.housekeeping import pack_count
from heater.names import RepoId
from heater.paths import pack_dir
from tests.cli.entry import heater
from tests.conftest import HELLO_WORLD, Git, Server


def test_repack_makes_one_pack_and_keeps_every_ref(server: Server, git: Git, ns: str,
                                                    tmp_path: Path) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    url = server.auth_url(f"{ns}/app.git", server.token("admin", ns))
    git.run("push", url, "main", cwd=work)
    for n in range(3):
        git.commit(work, {"README.md": f"take {n}\n"}, f"take {n}")
        git.run("push", url, "main", cwd=work)
    git.run("tag", "-a", "v1.0.0", "-m", "first", cwd=work)
    git.run("push", url, "v1.0.0", cwd=work)
    # A lifecycle record lives under Heater's hidden refs: it must survive.
    deprecated = requests.put(f"{server.url}/api/v1/templates/{ns}/app/deprecation",
                              json={"reason": "use v2"}, timeout=30,
                               auth=("x", server.token("admin", ns)))
    assert deprecated.status_code == 200, deprecated.text
    small = git.worktree(tmp_path / "small", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/small.git", server.token("admin", ns)), "main",
            cwd=small)
    repo = server.layout.repository(RepoId(ns, "app"))
    before = subprocess.run(["git", "-C", str(repo), "for-each-ref"], capture_output=True,
                            text=True, check=True).stdout
    assert "refs/heater/" in before
    assert pack_count(repo) == 5  # one per push; the API's writes are loose objects

    done = heater("cleanup", "--repack", "--min-packs", "3", "--data-dir",
                  str(server.data_dir))
    assert done.returncode == 0, done.stderr
    assert f"  {ns}/app\n" in done.stderr
    assert f"{ns}/small" not in done.stderr  # one pack: left alone
    assert pack_count(repo) == 1
    assert len(list(pack_dir(repo).glob("pack-*.bitmap"))) == 1
    loose = subprocess.run(["git", "-C", str(repo), "count-objects", "-v"],
                           capture_output=True, text=True, check=True).stdout
    assert "\ncount: 0\n" in f"\n{loose}"
    after = subprocess.run(["git", "-C", str(repo), "for-each-ref"], capture_output=True,
                           text=True, check=True).stdout
    assert after == before
    fsck = subprocess.run(["git", "-C", str(repo), "fsck", "--strict", "--no-dangling"],
                          capture_output=True, text=True, check=False)
    assert fsck.returncode == 0, fsck.stderr
    clone = tmp_path / "clone"
    git.run("clone", "-q", f"{server.url}/{ns}/app.git", str(clone))
    assert (clone / "README.md").read_text() == "take 2\n"
    detail = requests.get(f"{server.url}/api/v1/templates/{ns}/app", timeout=30)
    assert detail.status_code == 200
    assert detail.json()["deprecated"]


def test_min_packs_must_be_positive(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = heater("cleanup", "--repack", "--min-packs", "0", "--data-dir",
                  str(tmp_path / "data"))
    assert (done.returncode, done.stderr.strip()) == (2, "removed 0 leftovers of finished "
                                                      "or interrupted work\nheater: "
                                                      "--min-packs must be at least 1")
