"""Browsing without cloning: trees, branches, tags, the default branch,
slashed branch names in raw URLs, and near misses of the repository URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from heater.auth.tokens import Role
from tests.app_support import App
from tests.catalog_support import api, push
from tests.conftest import HELLO_WORLD, Git, Server
from tests.images_helpers import UBUNTU_MANIFEST


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App.start(tmp_path / "data")


def _template(app: App, token: str, repo: str, files: dict[str, str],
              visibility: str = "public") -> None:
    namespace, name = repo.split("/")
    created = app.call("POST", "/api/v1/templates", token, json={
        "namespace": namespace, "name": name, "visibility": visibility, "files": files})
    assert created.status_code == 201, created.get_json()


def test_tree_lists_a_directory_at_a_ref(app: App) -> None:
    token = app.token(Role.WRITER)
    _template(app, token, "acme/web", {"template.yaml": HELLO_WORLD,
                                       "env/prod.yaml": "parameters: {}\n",
                                       "README.md": "# web\n"})
    tagged = app.call("POST", "/api/v1/templates/acme/web/versions", token,
                      json={"version": "1.0.0", "ref": "main"})
    top = app.call("GET", "/api/v1/templates/acme/web/tree/main")
    assert top.status_code == 200
    body = top.get_json()
    commit = tagged.get_json()["commit"]
    assert body["ref"] == {"requested": "main", "kind": "branch", "name": "main",
                           "commit": commit, "version": None}
    assert body["path"] == ""
    assert [(e["name"], e["type"], e["size"]) for e in body["tree"]] == [
        ("env", "directory", None), ("README.md", "file", 6),
        ("template.yaml", "file", len(HELLO_WORLD))]
    readme = body["tree"][1]
    assert readme["path"] == "README.md" and readme["mode"] == "100644"
    raw = app.call("GET", "/acme/web/raw/main/README.md")
    assert raw.headers["ETag"] == f'"{readme["object_id"]}"'

    sub = app.call("GET", "/api/v1/templates/acme/web/tree/v1.0.0/env/").get_json()
    assert sub["ref"]["kind"] == "tag" and sub["ref"]["version"] == "1.0.0"
    assert sub["path"] == "env"
    assert [e["path"] for e in sub["tree"]] == ["env/prod.yaml"]

    a_file = app.call("GET", "/api/v1/templates/acme/web/tree/main/template.yaml")
    assert a_file.status_code == 404
    assert a_file.get_json()["error"]["code"] == "file_not_found"
    assert "is a file" in a_file.get_json()["error"]["message"]
    missing = app.call("GET", "/api/v1/templates/acme/web/tree/main/nope")
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "file_not_found")
    no_ref = app.call("GET", "/api/v1/templates/acme/web/tree/nope")
    assert (no_ref.status_code, no_ref.get_json()["error"]["code"]) == (404, "unknown_ref")


def test_branches_tags_and_default_branch(app: App) -> None:
    token = app.token(Role.WRITER)
    _template(app, token, "acme/web", {"template.yaml": HELLO_WORLD})
    for version in ("1.0.0", "1.10.0", "1.2.0"):
        app.call("POST", "/api/v1/templates/acme/web/versions", token,
                 json={"version": version, "ref": "main", "message": f"Release {version}"})
    branches = app.call("GET", "/api/v1/templates/acme/web/branches").get_json()
    head = branches["branches"][0]["commit"]
    assert branches == {"default_branch": "main",
                        "branches": [{"name": "main", "commit": head, "default": True}]}
    tags = app.call("GET", "/api/v1/templates/acme/web/tags").get_json()["tags"]
    assert [t["version"] for t in tags] == ["1.10.0", "1.2.0", "1.0.0"]
    assert tags[0]["commit"] == head and tags[0]["message"].startswith("Release 1.10.0")
    assert tags[0]["tagger"]["name"].startswith("writer")
    assert tags[0]["created_at"].endswith("Z")
    detail = app.call("GET", "/api/v1/templates/acme/web").get_json()
    assert detail["default_branch"] == "main"


def test_private_and_wrong_kind_answer_as_missing(app: App) -> None:
    writer = app.token(Role.WRITER, "acme")
    _template(app, writer, "acme/secret", {"template.yaml": HELLO_WORLD}, "private")
    for path in ("tree/main", "branches", "tags"):
        hidden = app.call("GET", f"/api/v1/templates/acme/secret/{path}")
        missing = app.call("GET", f"/api/v1/templates/acme/nothing/{path}")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.get_json()["error"]["code"] == "repository_not_found"
        assert app.call("GET", f"/api/v1/templates/acme/secret/{path}", writer).status_code \
            == 200
        as_image = app.call("GET", f"/api/v1/images/acme/secret/{path}", writer)
        assert (as_image.status_code, as_image.get_json()["error"]["code"]) == (
            404, "repository_not_found")


def test_image_repositories_are_browsed_alike(app: App) -> None:
    token = app.token(Role.WRITER)
    queued = app.call("POST", "/api/v1/images/acme/jammy/builds", token,
                      json={**UBUNTU_MANIFEST, "version": "1.0.0"})
    assert queued.status_code == 201, queued.get_json()
    build = queued.get_json()["build_id"]
    uploaded = app.call("PUT", f"/api/v1/builds/{build}/file", token, data=b"disk",
                        content_type="application/octet-stream")
    assert uploaded.status_code == 200, uploaded.get_json()
    tree = app.call("GET", "/api/v1/images/acme/jammy/tree/1.0.0").get_json()
    assert [e["name"] for e in tree["tree"]] == ["manifest.json"]
    assert [t["version"] for t in
            app.call("GET", "/api/v1/images/acme/jammy/tags").get_json()["tags"]] == ["1.0.0"]
    detail = app.call("GET", "/api/v1/images/acme/jammy").get_json()
    assert detail["default_branch"] == "main"
    wrong = app.call("GET", "/api/v1/templates/acme/jammy/branches")
    assert (wrong.status_code, wrong.get_json()["error"]["code"]) == (
        404, "repository_not_found")


def test_a_slashed_branch_is_readable_by_raw_url_and_tree(server: Server, git: Git, ns: str,
                                                          tmp_path: Path) -> None:
    token = server.token("writer", ns)
    work = tmp_path / "web"
    push(server, git, work, f"{ns}/web", token, {"template.yaml": HELLO_WORLD})
    git.run("checkout", "-q", "-b", "feature/login", cwd=work)
    git.commit(work, {"files/setup.sh": "echo login\n"}, "login")
    git.run("push", server.auth_url(f"{ns}/web.git", token), "feature/login", cwd=work)

    raw = requests.get(f"{server.url}/{ns}/web/raw/feature/login/files/setup.sh", timeout=10)
    assert raw.status_code == 200 and raw.text == "echo login\n"
    commit = git.run("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert raw.headers["Content-Location"] == f"/{ns}/web/raw/{commit}/files/setup.sh"
    # The first segment alone is no ref: the longest branch name wins.
    assert requests.get(f"{server.url}/{ns}/web/raw/feature/template.yaml",
                        timeout=10).json()["error"]["code"] == "unknown_ref"
    tree = api(server, "GET", f"/api/v1/templates/{ns}/web/tree/feature/login/files").json()
    assert tree["ref"]["name"] == "feature/login" and tree["path"] == "files"
    assert [e["name"] for e in tree["tree"]] == ["setup.sh"]
    names = [b["name"] for b in api(server, "GET",
                                    f"/api/v1/templates/{ns}/web/branches").json()["branches"]]
    assert names == ["feature/login", "main"]


def test_clone_url_without_dot_git_and_a_browser_visit(server: Server, git: Git, ns: str,
                                                       tmp_path: Path) -> None:
    token = server.token("writer", ns)
    push(server, git, tmp_path / "web", f"{ns}/web", token, {"template.yaml": HELLO_WORLD})
    cloned = git.run("clone", f"{server.url}/{ns}/web", str(tmp_path / "clone"))
    assert (tmp_path / "clone" / "template.yaml").read_text() == HELLO_WORLD
    assert f"redirecting to {server.url}/{ns}/web.git/" in cloned.stderr

    redirect = requests.get(f"{server.url}/{ns}/web/info/refs?service=git-upload-pack",
                            allow_redirects=False, timeout=10)
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == (
        f"{server.url}/{ns}/web.git/info/refs?service=git-upload-pack")

    # The URL a person pastes into a browser is the repository's web page.
    page = requests.get(f"{server.url}/{ns}/web", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f'>{server.url}/{ns}/web.git</textarea>' in page.text

    private = api(server, "POST", "/api/v1/templates", token,
                  json={"namespace": ns, "name": "secret", "visibility": "private"})
    assert private.status_code == 201
    hidden = requests.get(f"{server.url}/{ns}/secret", timeout=10)
    missing = requests.get(f"{server.url}/{ns}/nothing", timeout=10)
    assert hidden.status_code == missing.status_code == 404
    assert "<code>repository_not_found</code>" in hidden.text
    assert requests.get(f"{server.url}/api/v1", timeout=10).status_code == 404
