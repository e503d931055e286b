"""Only what the visible refs reach is readable by SHA, over git (v0 and
v2) and REST alike: a deleted branch's commits and Heater's lifecycle
history stay in the object database but out of reach."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import requests

from tests.catalog_support import api, push
from tests.conftest import HELLO_WORLD, Git, Server


def server_ref(server: Server, repo: str, ref: str) -> str:
    path = server.data_dir / "git" / f"{repo}.git"
    return subprocess.run(["git", "-C", str(path), "rev-parse", ref], capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture
def history(server: Server, git: Git, ns: str, tmp_path: Path) -> dict[str, str]:
    """``<ns>/app``: main with two commits and version v1.0.0 (yanked, so
    that lifecycle history exists), and the commit of a branch an admin
    deleted."""
    work = tmp_path / "work"
    token = server.token("writer", ns)
    first = push(server, git, work, f"{ns}/app", token, {"template.yaml": HELLO_WORLD},
                 tags=("v1.0.0",))
    main = push(server, git, work, f"{ns}/app", token,
                {"template.yaml": HELLO_WORLD.replace("m1.small", "m1.large")})
    git.run("checkout", "-q", "-b", "side", cwd=work)
    secret = git.commit(work, {"template.yaml": HELLO_WORLD + "# secret\n"}, "side")
    url = server.auth_url(f"{ns}/app.git", token)
    git.run("push", url, "side", cwd=work)
    git.run("push", server.auth_url(f"{ns}/app.git", server.token("admin", ns)), ":side",
            cwd=work)
    response = api(server, "POST", f"/api/v1/templates/{ns}/app/versions/v1.0.0/yank",
                   server.token("admin", ns), json={"reason": "broken"})
    assert response.status_code == 200, response.text
    lifecycle = server_ref(server, f"{ns}/app", "refs/heater/lifecycle")
    return {"first": first, "main": main, "deleted": secret, "lifecycle": lifecycle,
            "url": f"{server.url}/{ns}/app.git"}


def fetch(git: Git, tmp_path: Path, url: str, sha: str, version: int,
          ) -> subprocess.CompletedProcess[str]:
    target = tmp_path / f"fetch-{version}-{sha[:8]}"
    git.run("init", "-q", str(target))
    return git.run("-c", f"protocol.version={version}", "fetch", url, sha, cwd=target,
                   check=False)


@pytest.mark.parametrize("version", [0, 2])
@pytest.mark.parametrize("which", ["deleted", "lifecycle"])
def test_fetch_of_an_unreachable_commit_is_refused(git: Git, tmp_path: Path, version: int,
                                                   which: str,
                                                   history: dict[str, str]) -> None:
    proc = fetch(git, tmp_path, history["url"], history[which], version)
    assert proc.returncode != 0
    assert f"not our ref {history[which]}" in proc.stderr


@pytest.mark.parametrize("version", [0, 2])
def test_fetch_of_a_reachable_commit_works(git: Git, tmp_path: Path, version: int,
                                           history: dict[str, str]) -> None:
    proc = fetch(git, tmp_path, history["url"], history["first"], version)
    assert proc.returncode == 0, proc.stderr


def test_partial_clone_still_fetches_blobs_later(git: Git, tmp_path: Path,
                                                 history: dict[str, str]) -> None:
    clone = tmp_path / "partial"
    git.run("-c", "protocol.version=2", "clone", "-q", "--filter=blob:none", history["url"],
            str(clone))
    assert "m1.large" in (clone / "template.yaml").read_text()
    git.run("checkout", "-q", history["first"], cwd=clone)  # fetches the old blob
    assert "m1.small" in (clone / "template.yaml").read_text()


def test_object_info_is_neither_advertised_nor_served(history: dict[str, str]) -> None:
    advertised = requests.get(f"{history['url']}/info/refs?service=git-upload-pack",
                              headers={"Git-Protocol": "version=2"}, timeout=10)
    assert advertised.status_code == 200
    assert b"fetch=" in advertised.content
    assert b"object-info" not in advertised.content
    body = (b"0018command=object-info\n" + b"0001" + b"0009size\n"
            + f"0031oid {history['deleted']}\n".encode() + b"0000")
    response = requests.post(f"{history['url']}/git-upload-pack", data=body, timeout=10,
                             headers={"Git-Protocol": "version=2",
                                      "Content-Type": "application/x-git-upload-pack-request"})
    assert response.status_code == 200
    assert response.content.startswith(b"00") and b"ERR upload-pack: command 'object-info'" \
        in response.content
    assert history["deleted"].encode() not in response.content


def _negotiate(url: str, have: str, want: str) -> bytes:
    """A protocol v2 fetch that only negotiates: which of the haves git acknowledges."""
    def pkt(text: str) -> bytes:
        return f"{len(text) + 4:04x}{text}".encode()

    body = (pkt("command=fetch\n") + b"0001" + pkt(f"want {want}\n") + pkt(f"have {have}\n")
            + b"0000")
    response = requests.post(f"{url}/git-upload-pack", data=body, timeout=10,
                             headers={"Git-Protocol": "version=2",
                                      "Content-Type": "application/x-git-upload-pack-request"})
    assert response.status_code == 200
    return response.content


def _pack_objects(response: bytes) -> int:
    """The object count in the header of the pack a response carries."""
    start = response.index(b"PACK")
    return int.from_bytes(response[start + 8:start + 12], "big")


@pytest.mark.parametrize("which", ["deleted", "lifecycle"])
def test_a_have_of_an_unreachable_commit_is_not_acknowledged(which: str,
                                                             history: dict[str, str]) -> None:
    # As for a commit the server never had: nothing tells a hidden one
    # exists, neither an ACK nor a pack that leaves out what it reaches.
    hidden = _negotiate(history["url"], history[which], history["main"])
    missing = _negotiate(history["url"], "0123456789" * 4, history["main"])
    assert f"ACK {history[which]}".encode() not in hidden
    assert _pack_objects(hidden) == _pack_objects(missing) == 6
    # A have the caller may reach is acknowledged: a fetch sends less.
    known = _negotiate(history["url"], history["first"], history["main"])
    assert f"ACK {history['first']}".encode() in known


@pytest.mark.parametrize("which", ["deleted", "lifecycle"])
@pytest.mark.parametrize("abbreviated", [False, True])
def test_rest_reads_of_an_unreachable_commit_are_unknown(server: Server, ns: str, which: str,
                                                         abbreviated: bool,
                                                         history: dict[str, str]) -> None:
    sha = history[which][:12] if abbreviated else history[which]
    path = "state.json" if which == "lifecycle" else "template.yaml"
    answers = [
        requests.get(f"{server.url}/{ns}/app/raw/{sha}/{path}", timeout=10),
        api(server, "GET", f"/api/v1/templates/{ns}/app/commits", params={"ref": sha}),
        api(server, "GET", f"/api/v1/templates/{ns}/app/diff",
            params={"from": "v1.0.0", "to": sha}),
        api(server, "GET", f"/api/v1/templates/{ns}/app", params={"ref": sha}),
    ]
    for response in answers:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unknown_ref"
    tagged = api(server, "POST", f"/api/v1/templates/{ns}/app/versions",
                 server.token("writer", ns), json={"version": "2.0.0", "ref": sha})
    assert tagged.status_code == 404, tagged.text
    assert tagged.json()["error"]["code"] == "unknown_ref"
    assert "2.0.0" not in api(server, "GET", f"/api/v1/templates/{ns}/app/versions").text


def test_rest_reads_of_a_reachable_commit_stay_immutable(server: Server, ns: str,
                                                         history: dict[str, str]) -> None:
    sha = history["first"]
    response = requests.get(f"{server.url}/{ns}/app/raw/{sha}/template.yaml", timeout=10)
    assert response.status_code == 200
    assert "m1.small" in response.text
    assert "immutable" in response.headers["Cache-Control"]
    commits = api(server, "GET", f"/api/v1/templates/{ns}/app/commits", params={"ref": sha})
    assert commits.status_code == 200
    assert [c["commit"] for c in commits.json()["commits"]] == [sha]
    diff = api(server, "GET", f"/api/v1/templates/{ns}/app/diff",
               params={"from": sha, "to": history["main"]})
    assert diff.status_code == 200, diff.text


def test_a_forged_history_marker_cannot_start_at_a_hidden_commit(
        server: Server, ns: str, history: dict[str, str]) -> None:
    first = api(server, "GET", f"/api/v1/templates/{ns}/app/commits", params={"limit": 1})
    assert first.json()["next"] is not None
    forged = base64.urlsafe_b64encode(f"{history['lifecycle']}:0".encode()).decode()
    response = api(server, "GET", f"/api/v1/templates/{ns}/app/commits",
                   params={"marker": forged.rstrip("=")})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_value"
