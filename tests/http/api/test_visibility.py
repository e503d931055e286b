"""Changing a repository's visibility (``PATCH``): who may, what follows at
once (detail, listing, raw URLs, clones, builds) and the history it leaves."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import HELLO_WORLD, Git, Server
from tests.images_helpers import auth, push


@pytest.fixture
def web(server: Server, git: Git, ns: str, tmp_path: Path) -> Path:
    work = git.worktree(tmp_path / "web", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/web.git", server.token("writer", ns)), "main",
            cwd=work)
    return work


def _patch(server: Server, path: str, token: str | None, body: object) -> requests.Response:
    return requests.patch(f"{server.url}/api/v1/{path}", json=body,
                          headers=auth(token) if token else {}, timeout=30)


def _error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _anonymous_reads(server: Server, git: Git, ns: str, tmp_path: Path) -> dict[str, object]:
    """What an anonymous caller sees of ``<ns>/web``, everywhere."""
    listing = requests.get(f"{server.url}/api/v1/templates", params={"namespace": ns},
                           timeout=30).json()["templates"]
    clone = git.run("clone", "-q", f"{server.url}/{ns}/web.git",
                    str(tmp_path / f"clone-{len(list(tmp_path.iterdir()))}"), check=False)
    return {
        "detail": requests.get(f"{server.url}/api/v1/templates/{ns}/web",
                               timeout=30).status_code,
        "raw": requests.get(f"{server.url}/{ns}/web/raw/main/template.yaml",
                            timeout=30).status_code,
        "listed": [t["name"] for t in listing],
        "clone": clone.returncode,
    }


def test_a_writer_makes_a_template_private_and_public_again(
        server: Server, git: Git, ns: str, web: Path, tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    assert _anonymous_reads(server, git, ns, tmp_path) == {
        "detail": 200, "raw": 200, "listed": ["web"], "clone": 0}

    changed = _patch(server, f"templates/{ns}/web", writer, {"visibility": "private"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["visibility"] == "private"
    assert changed.json() == requests.get(f"{server.url}/api/v1/templates/{ns}/web",
                                          headers=auth(writer), timeout=30).json()
    hidden = _anonymous_reads(server, git, ns, tmp_path)
    assert hidden["detail"] == hidden["raw"] == 404
    assert hidden["listed"] == [] and hidden["clone"] != 0
    reader = requests.get(f"{server.url}/api/v1/templates", params={"namespace": ns},
                          headers=auth(server.token("reader", ns)), timeout=30).json()
    assert [t["name"] for t in reader["templates"]] == ["web"]

    history = requests.get(f"{server.url}/api/v1/templates/{ns}/web/lifecycle",
                           headers=auth(writer), timeout=30).json()["history"]
    assert history[0]["message"].startswith("Make private")
    assert "from public to private" in history[0]["message"]
    assert history[0]["by"]["name"].startswith("writer-")

    # Asking for the visibility it has already changes and records nothing.
    same = _patch(server, f"templates/{ns}/web", writer, {"visibility": "private"})
    assert same.status_code == 200 and same.json()["visibility"] == "private"
    assert len(requests.get(f"{server.url}/api/v1/templates/{ns}/web/lifecycle",
                            headers=auth(writer), timeout=30).json()["history"]) == 1

    public = _patch(server, f"templates/{ns}/web", server.token("admin", ns),
                    {"visibility": "public"})
    assert public.status_code == 200 and public.json()["visibility"] == "public"
    assert _anonymous_reads(server, git, ns, tmp_path) == {
        "detail": 200, "raw": 200, "listed": ["web"], "clone": 0}


def test_who_may_change_visibility(server: Server, ns: str, web: Path) -> None:
    body = {"visibility": "private"}
    assert _error(_patch(server, f"templates/{ns}/web", None, body)) == (401, "unauthenticated")
    for token in (server.token("reader", ns), server.token("writer", "elsewhere")):
        assert _error(_patch(server, f"templates/{ns}/web", token, body)) == (403, "forbidden")
    # The wrong kind of repository, and a missing one, are not found.
    writer = server.token("writer", ns)
    assert _error(_patch(server, f"images/{ns}/web", writer, body)) == (
        404, "repository_not_found")
    assert _error(_patch(server, f"templates/{ns}/nothing", writer, body)) == (
        404, "repository_not_found")
    assert requests.get(f"{server.url}/api/v1/templates/{ns}/web",
                        timeout=30).json()["visibility"] == "public"


def test_bad_bodies_change_nothing(server: Server, ns: str, web: Path) -> None:
    writer = server.token("writer", ns)
    for body, answer in (({"visbility": "private"}, (400, "unknown_field")),
                         ({}, (400, "missing_field")),
                         ({"visibility": "secret"}, (400, "invalid_value")),
                         ({"visibility": "private", "name": "x"}, (400, "unknown_field"))):
        assert _error(_patch(server, f"templates/{ns}/web", writer, body)) == answer, body
    assert requests.get(f"{server.url}/api/v1/templates/{ns}/web",
                        timeout=30).json()["visibility"] == "public"
    assert requests.get(f"{server.url}/api/v1/templates/{ns}/web/lifecycle",
                        timeout=30).json()["history"] == []


def test_an_image_made_private_hides_its_builds(server: Server, ns: str) -> None:
    writer = server.token("writer", ns)
    build_id = push(server, writer, f"{ns}/jammy", b"disk bytes", version="1.0.0")
    changed = _patch(server, f"images/{ns}/jammy", writer, {"visibility": "private"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["visibility"] == "private"
    assert changed.json()["manifest"]["image_id"] == build_id
    for path in (f"/api/v1/images/{ns}/jammy", f"/api/v1/builds/{build_id}",
                 f"/api/v1/builds/{build_id}/file", f"/{ns}/jammy/raw/latest/manifest.json"):
        assert requests.get(f"{server.url}{path}", timeout=30).status_code == 404, path
    assert requests.get(f"{server.url}/api/v1/images", params={"namespace": ns},
                        timeout=30).json()["images"] == []
    file = requests.get(f"{server.url}/api/v1/builds/{build_id}/file", headers=auth(writer),
                        timeout=30)
    assert file.status_code == 200 and file.headers["Cache-Control"].startswith("private")
    history = requests.get(f"{server.url}/api/v1/images/{ns}/jammy/lifecycle",
                           headers=auth(writer), timeout=30).json()["history"]
    assert [h["message"].splitlines()[0] for h in history] == ["Make private"]
    # A later build may now say "private": it is the image's visibility.
    queued = requests.post(f"{server.url}/api/v1/images/{ns}/jammy/builds",
                           params={"visibility": "private"},
                           json={"disk_format": "raw", "container_format": "bare",
                                 "os": {"distro": "ubuntu", "version": "22.04"},
                                 "packages": []},
                           headers=auth(writer), timeout=30)
    assert queued.status_code == 201, queued.text
