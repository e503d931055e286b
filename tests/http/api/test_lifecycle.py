"""Yank, deprecate, delete and their undo, end to end through the REST API and git."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pygit2
import pytest
import requests

from heater.auth.tokens import Role
from heater.repos.lifecycle import LIFECYCLE_REF, history
from heater.repos.versions import latest, list_versions
from tests.app_support import App
from tests.conftest import HELLO_WORLD, Git, Server


def api(server: Server, method: str, path: str, token: str | None = None,
        **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{server.url}/api/v1/templates" + (f"/{path}" if path else "")
    return requests.request(method, url, headers=headers,
                            timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def released(server: Server, git: Git, ns: str, tmp_path: Path) -> Path:
    """``<ns>/app`` with versions 1.0.0 and 1.1.0 on main."""
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("tag", "v1.0.0", cwd=work)
    git.commit(work, {"README.md": "docs"}, "docs")
    git.run("tag", "v1.1.0", cwd=work)
    git.run("push", server.auth_url(f"{ns}/app.git", server.token("writer", ns)),
            "main", "v1.0.0", "v1.1.0", cwd=work)
    return work


def repository(server: Server, ns: str) -> pygit2.Repository:
    return pygit2.Repository(str(server.data_dir / "git" / ns / "app.git"))


def test_yank_skips_latest_and_is_recorded(server: Server, ns: str, released: Path) -> None:
    writer = server.token("writer", ns)
    resp = api(server, "POST", f"{ns}/app/versions/v1.1.0/yank", writer,
               json={"reason": "leaks the admin password"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["yanked_versions"]["1.1.0"]["reason"] == "leaks the admin password"
    git = repository(server, ns)
    best = latest(list_versions(git))
    assert best is not None and str(best.version) == "1.0.0"
    entry = history(git, lambda _name: True)[0]
    assert entry["by"]["name"].startswith("writer-") and entry["message"].startswith("Yank 1.1.0")
    again = api(server, "POST", f"{ns}/app/versions/1.1.0/yank", writer, json={"reason": "x"})
    assert again.status_code == 409
    undo = api(server, "DELETE", f"{ns}/app/versions/1.1.0/yank", writer)
    assert undo.status_code == 200 and undo.json()["yanked_versions"] == {}
    best = latest(list_versions(repository(server, ns)))
    assert best is not None and str(best.version) == "1.1.0"


def test_yank_needs_a_version_a_reason_and_a_writer(server: Server, ns: str,
                                                    released: Path) -> None:
    writer = server.token("writer", ns)
    assert api(server, "POST", f"{ns}/app/versions/9.9.9/yank", writer,
               json={"reason": "r"}).status_code == 404
    assert api(server, "POST", f"{ns}/app/versions/1.0.0/yank", writer,
               json={}).json()["error"]["code"] == "missing_field"
    # A misspelt field is refused, never dropped: nothing is yanked.
    typo = api(server, "POST", f"{ns}/app/versions/1.0.0/yank", writer, json={"reson": "r"})
    assert typo.status_code == 400 and typo.json()["error"]["code"] == "unknown_field"
    assert "reson" in typo.json()["error"]["message"]
    assert api(server, "GET", f"{ns}/app/lifecycle").json()["yanked_versions"] == {}
    assert api(server, "POST", f"{ns}/app/versions/1.0.0/yank", server.token("reader", ns),
               json={"reason": "r"}).status_code == 403
    assert api(server, "POST", f"{ns}/app/versions/1.0.0/yank", None,
               json={"reason": "r"}).status_code == 401


def test_concurrent_yanks_are_all_kept(server: Server, git: Git, ns: str,
                                       tmp_path: Path) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    tags = [f"v1.{i}.0" for i in range(6)]
    for tag in tags:
        git.run("tag", tag, cwd=work)
    git.run("push", server.auth_url(f"{ns}/app.git", server.token("writer", ns)),
            "main", *tags, cwd=work)
    writer = server.token("writer", ns)
    with ThreadPoolExecutor(len(tags)) as pool:
        codes = list(pool.map(lambda t: api(server, "POST", f"{ns}/app/versions/{t}/yank",
                                            writer, json={"reason": t}).status_code, tags))
    assert codes == [200] * len(tags)
    state = api(server, "GET", f"{ns}/app/lifecycle").json()
    assert sorted(state["yanked_versions"]) == sorted(t[1:] for t in tags)
    assert len(state["history"]) == len(tags)


def test_deprecate_and_undo(server: Server, ns: str, released: Path) -> None:
    writer = server.token("writer", ns)
    assert api(server, "POST", "", writer, json={"namespace": ns, "name": "app2"}).ok
    resp = api(server, "PUT", f"{ns}/app/deprecation", writer,
               json={"reason": "use app2", "replacement": {"namespace": ns, "name": "app2"}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["deprecated"]["replacement"] == {"namespace": ns, "name": "app2"}
    assert resp.json()["deprecated"]["by"] == {"name": resp.json()["deprecated"]["by"]["name"],
                                                "email": None}
    again = api(server, "PUT", f"{ns}/app/deprecation", writer, json={"reason": "again"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_done")
    assert api(server, "PUT", f"{ns}/app/deprecation", writer,
               json={"reason": "m", "replacement": "not a name"}).status_code == 400
    typo = api(server, "PUT", f"{ns}/app/deprecation", writer,
               json={"reason": "m", "replacment": {"namespace": ns, "name": "app2"}})
    assert (typo.status_code, typo.json()["error"]["did_you_mean"]) == (400, "replacement")
    assert api(server, "GET", f"{ns}/app/lifecycle").json()["deprecated"]["reason"] \
        == "use app2"
    resp = api(server, "DELETE", f"{ns}/app/deprecation", writer)
    assert resp.status_code == 200 and resp.json()["deprecated"] is None
    assert api(server, "DELETE", f"{ns}/app/deprecation", writer).status_code == 409


def test_replacement_must_be_one_every_reader_can_follow(server: Server, ns: str,
                                                         released: Path) -> None:
    writer = server.token("writer", ns)
    other = f"o{ns}"
    admin = server.token("admin")
    for repo, visibility in (("open", "public"), ("secret", "private")):
        assert api(server, "POST", "", admin,
                   json={"namespace": other, "name": repo, "visibility": visibility}).ok
    assert api(server, "POST", "", admin, json={"namespace": ns, "name": "mine",
                                                "visibility": "private"}).ok
    for (where, name), reason in (((ns, "nothere"), "no such repository"),
                                  ((ns, "app"), "cannot replace itself"),
                                  ((other, "secret"), "no such repository"),  # writer can't read
                                  ((ns, "mine"), "is private"),
                                  ((ns, "mine/x"), "invalid name"),
                                  ((ns, ""), "must not be empty")):
        resp = api(server, "PUT", f"{ns}/app/deprecation", writer,
                   json={"reason": "m", "replacement": {"namespace": where, "name": name}})
        assert resp.status_code == 400, (name, resp.text)
        assert resp.json()["error"]["code"] == "invalid_value"
        assert reason in resp.json()["error"]["message"], resp.text
    # An admin who can read the private repository still may not name it here.
    resp = api(server, "PUT", f"{ns}/app/deprecation", admin,
               json={"reason": "m", "replacement": {"namespace": other, "name": "secret"}})
    assert resp.status_code == 400 and "is private" in resp.text
    resp = api(server, "PUT", f"{ns}/app/deprecation", writer,
               json={"reason": "m", "replacement": {"namespace": other, "name": "open"}})
    assert resp.status_code == 200, resp.text


def test_replacement_that_became_hidden_is_not_shown(server: Server, ns: str,
                                                    released: Path) -> None:
    writer = server.token("writer", ns)
    assert api(server, "POST", "", writer, json={"namespace": ns, "name": "next"}).ok
    assert api(server, "PUT", f"{ns}/app/deprecation", writer,
               json={"reason": "moved", "replacement": {"namespace": ns, "name": "next"}}).ok
    # The replacement is made private afterwards (through its stored settings).
    config = server.data_dir / "git" / ns / "next.git" / "config"
    subprocess.run(["git", "config", "--file", str(config), "heater.visibility", "private"],
                   check=True)
    for path in (f"{ns}/app", f"{ns}/app/lifecycle"):
        shown = api(server, "GET", path).json()
        assert shown["deprecated"]["reason"] == "moved"
        assert shown["deprecated"]["replacement"] is None
        assert f"{ns}/next" not in str(shown)
        assert api(server, "GET", path, writer).json()["deprecated"]["replacement"] == {
            "namespace": ns, "name": "next"}
    # Listings hide it alike.
    listed = api(server, "GET", "", params={"namespace": ns}).json()["templates"]
    assert [t["deprecated"]["replacement"] for t in listed if t["name"] == "app"] == [None]
    listed = api(server, "GET", "", writer, params={"namespace": ns}).json()["templates"]
    assert [t["deprecated"]["replacement"] for t in listed if t["name"] == "app"] == [
        {"namespace": ns, "name": "next"}]


def test_delete_leaves_a_tombstone(server: Server, git: Git, ns: str, released: Path,
                                   tmp_path: Path) -> None:
    admin = server.token("admin", ns)
    assert api(server, "DELETE", f"{ns}/app", server.token("writer", ns),
               json={"reason": "r"}).status_code == 403
    resp = api(server, "DELETE", f"{ns}/app", admin, json={"reason": "licence problem"})
    assert resp.status_code == 200, resp.text

    # Reads through the API answer 410 with the tombstone.
    gone = api(server, "POST", f"{ns}/app/versions/1.0.0/yank", admin, json={"reason": "r"})
    assert gone.status_code == 410
    tombstone = gone.json()["error"]["tombstone"]
    assert tombstone["reason"] == "licence problem" and tombstone["by"]["name"].startswith("admin-")

    # Clones and pushes too, with the reason shown by git.
    clone = git.run("clone", f"{server.url}/{ns}/app.git", str(tmp_path / "c"), check=False)
    assert clone.returncode != 0 and "licence problem" in clone.stderr
    push = git.run("push", server.auth_url(f"{ns}/app.git", admin), "main", cwd=released,
                   check=False)
    assert push.returncode != 0 and "410" in push.stderr

    # The name is not free for other content.
    resp = api(server, "POST", "", server.token("writer", ns),
               json={"namespace": ns, "name": "app"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "name_tombstoned"

    # The audit trail stays readable, and an admin can undo.
    trail = api(server, "GET", f"{ns}/app/lifecycle").json()["history"]
    assert trail[0]["message"].startswith("Delete")
    assert api(server, "POST", f"{ns}/app/undelete", server.token("writer", ns)).status_code \
        == 403
    assert api(server, "POST", f"{ns}/app/undelete", admin).status_code == 200
    git.run("clone", f"{server.url}/{ns}/app.git", str(tmp_path / "c2"))


def test_lifecycle_ref_is_hidden_from_clients(server: Server, git: Git, ns: str,
                                              released: Path) -> None:
    writer = server.token("writer", ns)
    api(server, "POST", f"{ns}/app/versions/1.0.0/yank", writer, json={"reason": "r"})
    remote = git.run("ls-remote", f"{server.url}/{ns}/app.git").stdout
    assert LIFECYCLE_REF not in remote
    push = git.run("push", server.auth_url(f"{ns}/app.git", server.token("admin", ns)),
                   f"main:{LIFECYCLE_REF}", cwd=released, check=False)
    assert push.returncode != 0
    path = server.data_dir / "git" / ns / "app.git"
    fsck = subprocess.run(["git", "-C", str(path), "fsck"], capture_output=True, check=False)
    assert fsck.returncode == 0


def test_create_with_files_is_validated(server: Server, git: Git, ns: str,
                                        tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    bad = api(server, "POST", "", writer, json={
        "namespace": ns, "name": "fromapi",
        "files": {"template.yaml": HELLO_WORLD.replace("2018-08-31", "1999-01-01")}})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "validation_failed"
    assert bad.json()["error"]["message"].startswith(
        "template.yaml:1: unknown heat_template_version '1999-01-01'")
    assert not (server.data_dir / "git" / ns / "fromapi.git").exists()

    good = api(server, "POST", "", writer, json={
        "namespace": ns, "name": "fromapi", "message": "From the API",
        "files": {"template.yaml": HELLO_WORLD, "files/x/init.sh": "#!/bin/sh\n"}})
    assert good.status_code == 201, good.text
    clone = tmp_path / "clone"
    git.run("clone", f"{server.url}/{ns}/fromapi.git", str(clone))
    assert (clone / "template.yaml").read_text() == HELLO_WORLD
    assert (clone / "files" / "x" / "init.sh").read_text() == "#!/bin/sh\n"
    log = git.run("log", "--format=%an %s", cwd=clone).stdout
    assert log.startswith("writer-") and "From the API" in log


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "app/versions/1.0.0/yank"),
    ("PUT", "app/deprecation"),
    ("DELETE", "app"),
])
def test_credentials_come_before_the_body(server: Server, ns: str, released: Path,
                                          method: str, path: str) -> None:
    reader_token = {"Authorization": f"Bearer {server.token('reader', ns)}"}
    for data, kind in (("not json", "text/plain"), ("{", "application/json")):
        anonymous = requests.request(method, f"{server.url}/api/v1/templates/{ns}/{path}",
                                     timeout=10, data=data, headers={"Content-Type": kind})
        assert anonymous.status_code == 401, (path, anonymous.text)
        reader = requests.request(method, f"{server.url}/api/v1/templates/{ns}/{path}",
                                  timeout=10, data=data,
                                  headers={"Content-Type": kind, **reader_token})
        assert reader.status_code == 403, (path, reader.text)


def test_one_token_has_one_git_identity(server: Server, ns: str) -> None:
    """Files committed through the API, a version tagged through it and a
    lifecycle change, all by one token, name the same person in git."""
    writer = server.token("writer", ns)
    created = api(server, "POST", "", writer, json={
        "namespace": ns, "name": "app", "files": {"template.yaml": HELLO_WORLD}})
    assert created.status_code == 201, created.text
    tagged = api(server, "POST", f"{ns}/app/versions", writer,
                 json={"version": "1.0.0", "ref": "main"})
    assert tagged.status_code == 201, tagged.text
    yanked = api(server, "POST", f"{ns}/app/versions/1.0.0/yank", writer,
                 json={"reason": "broken"})
    assert yanked.status_code == 200, yanked.text
    git = repository(server, ns)
    commit = git.head.peel(pygit2.Commit)
    tag = git.get(git.references["refs/tags/v1.0.0"].target)
    assert isinstance(tag, pygit2.Tag) and tag.tagger is not None
    lifecycle = git.get(git.references[LIFECYCLE_REF].target)
    assert isinstance(lifecycle, pygit2.Commit)
    people = {(who.name, who.email) for who in (commit.author, tag.tagger, lifecycle.author)}
    [(name, email)] = people
    assert name.startswith(f"writer-{ns}-") and email == f"{name}@tokens.heater.invalid"


def test_mistakes_and_repeats_have_one_code_each(tmp_path: Path) -> None:
    app = App.start(tmp_path / "data")
    writer, admin = app.token(Role.WRITER, "acme"), app.token(Role.ADMIN, "acme")
    app.template(writer, "acme/app", "1.0.0")
    base = "/api/v1/templates/acme/app"

    def error(method: str, path: str, token: str, **kwargs: object) -> tuple[int, object]:
        answer = app.call(method, base + path, token, **kwargs)
        return answer.status_code, answer.get_json()["error"]

    assert error("POST", "/versions/1.0.0/yank", writer, json={"reson": "x"}) == (400, {
        "code": "unknown_field", "field": "reson", "did_you_mean": "reason",
        "message": "unknown field 'reson' (did you mean 'reason'?); expected reason"})
    # No body at all: the field it lacks is named.
    for method, path, field in (("POST", "/versions/1.0.0/yank", "reason"),
                                ("PUT", "/deprecation", "reason"), ("DELETE", "", "reason")):
        status, body = error(method, path, admin)
        assert (status, body) == (400, {"code": "missing_field", "field": field, "message":
                                        f"{field!r} is required: a non-empty string"}), path
    status, body = error("POST", "/versions/9.9.9/yank", writer, json={"reason": "x"})
    assert (status, body["code"]) == (404, "unknown_ref")  # type: ignore[index]
    status, body = error("POST", "/versions/nine/yank", writer, json={"reason": "x"})
    assert (status, body["code"], body["field"]) == (  # type: ignore[index]
        400, "invalid_value", "version")
    for method, path, token, kwargs in (
            ("POST", "/versions/1.0.0/yank", writer, {"json": {"reason": "broken"}}),
            ("PUT", "/deprecation", writer, {"json": {"reason": "old"}}),
            ("DELETE", "", admin, {"json": {"reason": "obsolete"}})):
        assert app.call(method, base + path, token, **kwargs).status_code == 200
        # Deleting twice is a repeat too, not a read of a deleted template (410).
        status, body = error(method, path, token, **kwargs)
        assert (status, body["code"]) == (409, "already_done"), body  # type: ignore[index]
    assert app.call("POST", base + "/undelete", admin).status_code == 200
    status, body = error("POST", "/undelete", admin)
    assert (status, body["code"]) == (409, "already_done")  # type: ignore[index]
