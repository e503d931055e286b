"""``latest`` means one thing everywhere: the newest release by semver that
is neither a pre-release nor yanked, else the default branch's head, in the
detail, ``?ref=latest``, raw URLs, diffs, bundles and images alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import HELLO_WORLD, Git, Server
from tests.images_helpers import auth, push


@pytest.fixture
def unreleased(server: Server, git: Git, ns: str, tmp_path: Path) -> tuple[str, str]:
    """``<ns>/web`` with two commits on main and no release; (first, head)."""
    work = git.worktree(tmp_path / "web", {"template.yaml": HELLO_WORLD})
    first = git.run("rev-parse", "HEAD", cwd=work).stdout.strip()
    head = git.commit(work, {"README.md": "second"}, "second")
    git.run("push", server.auth_url(f"{ns}/web.git", server.token("writer", ns)), "main",
            cwd=work)
    return first, head


def _everywhere(server: Server, ns: str, first: str) -> dict[str, str]:
    """The commit each reader of ``latest`` answers."""
    base = f"{server.url}/api/v1/templates/{ns}/web"
    detail = requests.get(base, timeout=30)
    at_latest = requests.get(base, params={"ref": "latest"}, timeout=30)
    raw = requests.get(f"{server.url}/{ns}/web/raw/latest/template.yaml", timeout=30)
    diff = requests.get(f"{base}/diff", params={"from": first, "to": "latest"}, timeout=30)
    bundle = requests.get(f"{base}/bundle", params={"ref": "latest"}, timeout=30)
    for answer in (detail, at_latest, raw, diff, bundle):
        assert answer.status_code == 200, (answer.url, answer.text)
    return {"detail": detail.json()["ref"]["commit"],
            "?ref=latest": at_latest.json()["ref"]["commit"],
            "raw": raw.headers["X-Heater-Commit"],
            "diff": diff.json()["to"]["commit"],
            "bundle": bundle.headers["X-Heater-Commit"]}


def test_latest_without_a_release_is_the_default_branch(server: Server, ns: str,
                                                        unreleased: tuple[str, str]) -> None:
    first, head = unreleased
    seen = _everywhere(server, ns, first)
    assert seen == dict.fromkeys(seen, head)
    at_latest = requests.get(f"{server.url}/api/v1/templates/{ns}/web",
                             params={"ref": "latest"}, timeout=30).json()
    assert at_latest["ref"]["kind"] == "branch" and at_latest["latest_version"] is None
    raw = requests.get(f"{server.url}/{ns}/web/raw/latest/README.md", timeout=30)
    assert raw.text == "second"
    assert raw.headers["Cache-Control"] == "public, max-age=60"  # it moves


def test_latest_skips_yanked_releases_and_then_falls_back(server: Server, ns: str,
                                                          unreleased: tuple[str, str]) -> None:
    first, head = unreleased
    writer = server.token("writer", ns)
    base = f"{server.url}/api/v1/templates/{ns}/web"
    for version, ref in (("1.0.0", first), ("2.0.0-rc.1", head)):
        created = requests.post(f"{base}/versions", json={"version": version, "ref": ref},
                                headers=auth(writer), timeout=30)
        assert created.status_code == 201, created.text
    # 1.0.0 is the newest release (a pre-release is not one).
    seen = _everywhere(server, ns, first)
    assert seen == dict.fromkeys(seen, first)
    yanked = requests.post(f"{base}/versions/1.0.0/yank", json={"reason": "broken"},
                           headers=auth(writer), timeout=30)
    assert yanked.status_code == 200, yanked.text
    seen = _everywhere(server, ns, first)
    assert seen == dict.fromkeys(seen, head)


def test_an_image_without_a_release_diffs_to_latest(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    one = push(server, token, f"{ns}/jammy", b"first")
    two = push(server, token, f"{ns}/jammy", b"second")
    diff = requests.get(f"{server.url}/api/v1/images/{ns}/jammy/diff",
                        params={"from": one, "to": "latest"}, timeout=30)
    assert diff.status_code == 200, diff.text
    assert diff.json()["to"]["build_id"] == two
    detail = requests.get(f"{server.url}/api/v1/images/{ns}/jammy", timeout=30).json()
    assert detail["manifest"]["image_id"] == two
    raw = requests.get(f"{server.url}/{ns}/jammy/raw/latest/manifest.json", timeout=30)
    assert raw.status_code == 200 and raw.json()["image_id"] == two
