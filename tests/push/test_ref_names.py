"""A ref named like a commit SHA cannot take that SHA over: such names are
refused at push, and a full SHA resolves to its commit even when a ref of
that name exists (one pushed before the rule)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.catalog_support import api, push
from tests.conftest import HELLO_WORLD, Git, Server
from tests.push.test_hook import server_refs

SHADOW = HELLO_WORLD.replace("m1.small", "m1.attacker")


@pytest.fixture
def app(server: Server, git: Git, ns: str, tmp_path: Path) -> dict[str, object]:
    """``<ns>/app`` with main pushed, and a local branch ``shadow`` holding
    another commit."""
    work = tmp_path / "work"
    token = server.token("writer", ns)
    main = push(server, git, work, f"{ns}/app", token, {"template.yaml": HELLO_WORLD})
    git.run("checkout", "-q", "-b", "shadow", cwd=work)
    shadow = git.commit(work, {"template.yaml": SHADOW}, "shadow")
    return {"work": work, "main": main, "shadow": shadow,
            "url": server.auth_url(f"{ns}/app.git", token)}


@pytest.mark.parametrize("target", [
    "refs/heads/{main}", "refs/tags/{main}", "refs/heads/feature/{main}",
    "refs/heads/{long}", "refs/heads/{upper}", "refs/heads/HEAD", "refs/tags/HEAD",
    "refs/heads/@",
])
def test_a_ref_named_like_a_sha_or_head_is_refused(server: Server, git: Git, ns: str,
                                                   target: str,
                                                   app: dict[str, str]) -> None:
    main = app["main"]
    ref = target.format(main=main, long=main + main[:24], upper=main.upper())
    before = server_refs(server, f"{ns}/app")
    proc = git.run("push", app["url"], f"shadow:{ref}", cwd=Path(app["work"]), check=False)
    assert proc.returncode != 0
    assert f"remote: {ref}: refused ref name: " in proc.stderr
    assert server_refs(server, f"{ns}/app") == before


def plant(server: Server, repo: str, ref: str, sha: str) -> None:
    """A ref written straight into the server's repository, as one pushed
    before names like it were refused would be."""
    path = server.data_dir / "git" / f"{repo}.git"
    subprocess.run(["git", "-C", str(path), "update-ref", ref, sha], check=True)


@pytest.mark.parametrize("prefix", ["refs/heads/", "refs/tags/"])
def test_a_full_sha_means_its_commit_whatever_refs_are_named(
        server: Server, git: Git, ns: str, prefix: str, app: dict[str, str]) -> None:
    main, shadow = app["main"], app["shadow"]
    # The shadow commit reaches the server as a visible branch of its own,
    # then a ref named after main's SHA points at it.
    git.run("push", app["url"], "shadow", cwd=Path(app["work"]))
    plant(server, f"{ns}/app", prefix + main, shadow)

    raw = requests.get(f"{server.url}/{ns}/app/raw/{main}/template.yaml", timeout=10)
    assert raw.status_code == 200
    assert raw.text == HELLO_WORLD
    assert raw.headers["X-Heater-Commit"] == main
    assert "immutable" in raw.headers["Cache-Control"]

    detail = api(server, "GET", f"/api/v1/templates/{ns}/app", params={"ref": main})
    assert detail.status_code == 200
    assert detail.json()["ref"]["kind"] == "commit"
    assert detail.json()["ref"]["commit"] == main

    tagged = api(server, "POST", f"/api/v1/templates/{ns}/app/versions",
                 server.token("writer", ns), json={"version": "1.0.0", "ref": main})
    assert tagged.status_code == 201, tagged.text
    assert tagged.json()["commit"] == main


def test_an_abbreviated_sha_that_is_also_a_branch_is_ambiguous(
        server: Server, git: Git, ns: str, app: dict[str, str]) -> None:
    main = app["main"]
    short = main[:10]
    git.run("push", app["url"], f"shadow:refs/heads/{short}", cwd=Path(app["work"]))
    for response in (
        api(server, "GET", f"/api/v1/templates/{ns}/app", params={"ref": short}),
        requests.get(f"{server.url}/{ns}/app/raw/{short}/template.yaml", timeout=10),
    ):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "ambiguous_ref"
        assert f"refs/heads/{short}" in error["message"]
        assert main in error["message"]
