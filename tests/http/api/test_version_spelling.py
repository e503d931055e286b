"""Versions are spelt one way: the tag Heater makes is ``v1.2.0`` whatever
the caller wrote, pushed tags of either spelling are shown by their version,
and a manifest's version is stored without its ``v``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.cli.entry import heater
from tests.conftest import HELLO_WORLD, Git, Server
from tests.images_helpers import UBUNTU_MANIFEST, auth, push


@pytest.fixture
def web(server: Server, git: Git, ns: str, tmp_path: Path) -> Path:
    """``<ns>/web``: two commits on main, pushed, the second with a pushed
    bare tag ``1.1.0`` and the first with a ``v1.0.0``."""
    work = git.worktree(tmp_path / "web", {"template.yaml": HELLO_WORLD})
    git.run("tag", "v1.0.0", cwd=work)
    git.commit(work, {"README.md": "docs"}, "docs")
    git.run("tag", "1.1.0", cwd=work)
    git.run("push", server.auth_url(f"{ns}/web.git", server.token("writer", ns)),
            "main", "v1.0.0", "1.1.0", cwd=work)
    return work


def _tags(git: Git, server: Server, ns: str) -> set[str]:
    listed = git.run("ls-remote", "--tags", f"{server.url}/{ns}/web.git").stdout
    return {line.split("refs/tags/")[1] for line in listed.splitlines()
            if not line.endswith("^{}")}


@pytest.mark.parametrize("asked", ["1.2.0", "v1.2.0"])
def test_a_release_is_tagged_v_whatever_the_spelling(server: Server, git: Git, ns: str,
                                                      web: Path, asked: str) -> None:
    writer = server.token("writer", ns)
    created = requests.post(f"{server.url}/api/v1/templates/{ns}/web/versions",
                            json={"version": asked, "ref": "main"}, headers=auth(writer),
                            timeout=30)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == "1.2.0"
    assert created.json()["tag"] == "v1.2.0"
    assert created.headers["Location"].endswith(f"/api/v1/templates/{ns}/web/versions/1.2.0")
    assert _tags(git, server, ns) == {"v1.0.0", "1.1.0", "v1.2.0"}
    # Either spelling of a taken version is refused, whichever spelling took it.
    for again in ("1.2.0", "v1.2.0", "1.1.0", "v1.1.0"):
        taken = requests.post(f"{server.url}/api/v1/templates/{ns}/web/versions",
                              json={"version": again}, headers=auth(writer), timeout=30)
        assert (taken.status_code, taken.json()["error"]["code"]) == (409, "version_exists")


def test_pushed_tags_of_both_spellings_are_shown_by_their_version(server: Server, ns: str,
                                                                  web: Path) -> None:
    versions = requests.get(f"{server.url}/api/v1/templates/{ns}/web/versions",
                            timeout=30).json()["versions"]
    assert [(v["version"], v["tag"]) for v in versions] == [("1.1.0", "1.1.0"),
                                                           ("1.0.0", "v1.0.0")]
    for spelling in ("1.1.0", "v1.1.0"):
        one = requests.get(f"{server.url}/api/v1/templates/{ns}/web/versions/{spelling}",
                           timeout=30)
        assert one.status_code == 200 and one.json()["version"] == "1.1.0"
        raw = requests.get(f"{server.url}/{ns}/web/raw/{spelling}/README.md", timeout=30)
        assert raw.status_code == 200 and raw.text == "docs"


def test_a_release_without_ref_tags_the_default_branch(server: Server, git: Git, ns: str,
                                                       web: Path) -> None:
    head = git.run("rev-parse", "main", cwd=web).stdout.strip()
    created = requests.post(f"{server.url}/api/v1/templates/{ns}/web/versions",
                            json={"version": "2.0.0", "message": "Two"},
                            headers=auth(server.token("writer", ns)), timeout=30)
    assert created.status_code == 201, created.text
    assert created.json()["commit"] == head
    assert created.json()["tag"] == "v2.0.0"


def test_a_manifest_version_is_stored_without_v(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    build_id = push(server, token, f"{ns}/jammy", b"disk bytes", version="v2.0.0")
    build = requests.get(f"{server.url}/api/v1/builds/{build_id}", timeout=30).json()
    assert build["version"] == "2.0.0"
    assert build["manifest"]["version"] == "2.0.0"
    raw = requests.get(f"{server.url}/{ns}/jammy/raw/v2.0.0/manifest.json", timeout=30)
    assert raw.status_code == 200 and json.loads(raw.text)["version"] == "2.0.0"
    versions = requests.get(f"{server.url}/api/v1/images/{ns}/jammy/versions",
                            timeout=30).json()["versions"]
    assert [(v["version"], v["tag"]) for v in versions] == [("2.0.0", "v2.0.0")]


def test_the_cli_version_option_is_stored_without_v(server: Server, ns: str,
                                                     tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"x" * 1024)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(UBUNTU_MANIFEST))
    env = {"HEATER_URL": server.url, "HEATER_TOKEN": server.token("writer", ns)}
    pushed = heater("image", "push", f"{ns}/focal", str(disk), "--manifest", str(manifest),
                    "--version", "v3.1.0", env=env)
    assert pushed.returncode == 0, pushed.stderr
    build = requests.get(f"{server.url}/api/v1/builds/{pushed.stdout.strip()}",
                         timeout=30).json()
    assert (build["version"], build["manifest"]["version"]) == ("3.1.0", "3.1.0")
    refused = heater("image", "push", f"{ns}/focal", str(disk), "--manifest", str(manifest),
                     "--version", "three", env=env)
    assert refused.returncode == 1
    assert "--version three is not a semantic version" in refused.stderr
