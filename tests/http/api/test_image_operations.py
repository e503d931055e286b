"""Images have what templates have: their builds listed (queued ones too,
a page at a time), one version, and yank, deprecate and delete with the
templates' rules."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from tests.cli.entry import heater
from tests.conftest import Server
from tests.images_helpers import UBUNTU_MANIFEST, auth, push, queue_build, upload


def _get(server: Server, path: str, token: str | None = None,
         **params: str) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/images/{path}", params=params,
                        headers=auth(token) if token else {}, timeout=30)


def _error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_builds_are_listed_newest_first_queued_ones_included(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    image = f"{ns}/jammy"
    first = push(server, token, image, b"first", version="1.0.0")
    time.sleep(1.1)  # times are kept to the second: builds of one second sort by id
    deleted = push(server, token, image, b"second")
    assert requests.delete(f"{server.url}/api/v1/builds/{deleted}", headers=auth(token),
                           timeout=30).status_code == 200
    time.sleep(1.1)
    waiting = queue_build(server, token, image, version="v2.0.0")

    listed = _get(server, f"{image}/builds")
    assert listed.status_code == 200, listed.text
    builds = listed.json()["builds"]
    assert [b["build_id"] for b in builds] == [waiting, deleted, first]
    assert [b["status"] for b in builds] == ["queued", "deleted", "active"]
    assert listed.json()["next"] is None
    queued, gone, active = builds
    assert queued == {"build_id": waiting, "status": "queued", "version": "2.0.0",
                      "commit": None, "last_commit": None, "size": None, "deleted": None,
                      "created_at": queued["created_at"]}
    assert gone["deleted"]["by"]["name"].startswith("writer-") and gone["deleted"]["at"]
    # An entry is the build as its GET shows it (a deleted one's tombstone).
    tombstone = requests.get(f"{server.url}/api/v1/builds/{deleted}",
                             timeout=30).json()["error"]["tombstone"]
    assert (gone["commit"], gone["last_commit"], gone["deleted"]) == (
        tombstone["commit"], tombstone["last_commit"], tombstone["deleted"])
    one = requests.get(f"{server.url}/api/v1/builds/{first}", timeout=30).json()
    assert (active["version"], active["commit"], active["size"], active["created_at"]) == (
        "1.0.0", one["commit"], 5, one["created_at"])
    assert active["deleted"] is None


def test_builds_page_like_the_other_listings(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    image = f"{ns}/paged"
    made = [push(server, token, image, f"build {n}".encode()) for n in range(3)]
    made += [queue_build(server, token, image) for _ in range(2)]
    seen: list[str] = []
    page = _get(server, f"{image}/builds", limit="2")
    while True:
        assert page.status_code == 200, page.text
        seen += [b["build_id"] for b in page.json()["builds"]]
        if page.json()["next"] is None:
            break
        # A build uploaded between two pages keeps its place.
        if len(seen) == 2:
            assert upload(server, token, made[3], b"late bytes").status_code == 200
        page = requests.get(page.json()["next"], timeout=30)
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert _error(_get(server, f"{image}/builds", marker="bm90IG91cnM")) == (
        400, "invalid_value")
    assert _error(_get(server, f"{image}/builds", limit="0"))[0] == 400
    # A private image's builds are not listed to those who cannot read it.
    hidden = requests.post(f"{server.url}/api/v1/images/{ns}/hidden/builds",
                           params={"visibility": "private"}, json=UBUNTU_MANIFEST,
                           headers=auth(token), timeout=30)
    assert hidden.status_code == 201, hidden.text
    assert _error(_get(server, f"{ns}/hidden/builds")) == (404, "repository_not_found")
    assert _get(server, f"{ns}/hidden/builds", token).status_code == 200


def test_one_version_of_an_image(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    build_id = push(server, token, f"{ns}/jammy", b"bytes", version="1.2.0")
    listed = _get(server, f"{ns}/jammy/versions").json()["versions"]
    for spelling in ("1.2.0", "v1.2.0"):
        one = _get(server, f"{ns}/jammy/versions/{spelling}")
        assert one.status_code == 200, one.text
        assert one.json() == listed[0]
        assert one.json()["build_id"] == build_id and one.json()["status"] == "active"
    assert _error(_get(server, f"{ns}/jammy/versions/9.9.9")) == (404, "unknown_ref")
    assert _error(_get(server, f"{ns}/jammy/versions/nine")) == (400, "invalid_value")
    assert _error(_get(server, f"{ns}/nothing/versions/1.2.0")) == (404, "repository_not_found")


def test_yank_deprecate_and_delete_an_image(server: Server, ns: str) -> None:
    writer, admin = server.token("writer", ns), server.token("admin", ns)
    image = f"{ns}/jammy"
    one = push(server, writer, image, b"one", version="1.0.0")
    two = push(server, writer, image, b"two", version="1.1.0")
    base = f"{server.url}/api/v1/images/{image}"

    yanked = requests.post(f"{base}/versions/v1.1.0/yank", json={"reason": "bad kernel"},
                           headers=auth(writer), timeout=30)
    assert yanked.status_code == 200, yanked.text
    assert yanked.json()["yanked_versions"]["1.1.0"]["reason"] == "bad kernel"
    detail = _get(server, image).json()
    assert detail["ref"]["version"] == "1.0.0" and detail["build_id"] == one
    assert _get(server, f"{image}/versions/1.1.0").json()["yanked"]["reason"] == "bad kernel"
    again = requests.post(f"{base}/versions/1.1.0/yank", json={"reason": "x"},
                          headers=auth(writer), timeout=30)
    assert _error(again) == (409, "already_done")
    assert requests.delete(f"{base}/versions/1.1.0/yank", headers=auth(writer),
                           timeout=30).status_code == 200
    assert _get(server, image).json()["build_id"] == two

    push(server, writer, f"{ns}/noble", b"new")
    deprecated = requests.put(f"{base}/deprecation",
                              json={"reason": "use noble",
                                    "replacement": {"namespace": ns, "name": "noble"}},
                              headers=auth(writer), timeout=30)
    assert deprecated.status_code == 200, deprecated.text
    assert _get(server, image).json()["deprecated"]["replacement"] == {"namespace": ns,
                                                                       "name": "noble"}
    listed = requests.get(f"{server.url}/api/v1/images",
                          params={"namespace": ns, "deprecated": "true"}, timeout=30).json()
    assert [i["name"] for i in listed["images"]] == ["jammy"]
    # A replacement must be an image.
    requests.post(f"{server.url}/api/v1/templates", json={"namespace": ns, "name": "tpl"},
                  headers=auth(writer), timeout=30)
    wrong = requests.put(f"{base}/deprecation",
                         json={"reason": "m", "replacement": {"namespace": ns, "name": "tpl"}},
                         headers=auth(writer), timeout=30)
    assert _error(wrong) == (400, "invalid_value")

    # Deleting a whole image is an admin's, as for a template.
    refused = requests.delete(base, json={"reason": "retired"}, headers=auth(writer), timeout=30)
    assert _error(refused) == (403, "forbidden")
    deleted = requests.delete(base, json={"reason": "retired"}, headers=auth(admin), timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"]["reason"] == "retired"
    for path in (f"/api/v1/images/{image}", f"/api/v1/images/{image}/builds",
                 f"/api/v1/builds/{one}", f"/api/v1/builds/{one}/file",
                 f"/{image}/raw/latest/manifest.json"):
        gone = requests.get(f"{server.url}{path}", timeout=30)
        assert _error(gone) == (410, "repository_deleted"), path
    assert requests.get(f"{server.url}/api/v1/images", params={"namespace": ns},
                        timeout=30).json()["images"][0]["name"] == "noble"
    refused_build = requests.post(f"{base}/builds", json=UBUNTU_MANIFEST, headers=auth(writer),
                                  timeout=30)
    assert _error(refused_build) == (410, "repository_deleted")
    history = _get(server, f"{image}/lifecycle").json()["history"]
    assert [h["message"].splitlines()[0] for h in history] == [
        "Delete", "Deprecate", "Unyank 1.1.0", "Yank 1.1.0"]

    undeleted = requests.post(f"{base}/undelete", headers=auth(admin), timeout=30)
    assert undeleted.status_code == 200 and undeleted.json()["deleted"] is None
    assert requests.get(f"{server.url}/api/v1/builds/{one}/file", timeout=30).content == b"one"


def test_a_refused_upload_leaves_no_orphan(server: Server, ns: str, tmp_path: Path) -> None:
    token = server.token("writer", ns)
    image = f"{ns}/jammy"
    # Over HTTP: the refused build stays queued, listed, to upload again or delete.
    build_id = queue_build(server, token, image)
    assert _error(upload(server, token, build_id, b"")) == (400, "empty_upload")
    [listed] = _get(server, f"{image}/builds").json()["builds"]
    assert (listed["build_id"], listed["status"]) == (build_id, "queued")
    assert requests.delete(f"{server.url}/api/v1/builds/{build_id}", headers=auth(token),
                           timeout=30).status_code == 200
    assert _get(server, f"{image}/builds").json()["builds"] == []

    # The command line queues nothing for an empty file.
    empty = tmp_path / "empty.qcow2"
    empty.write_bytes(b"")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(UBUNTU_MANIFEST))
    env = {"HEATER_URL": server.url, "HEATER_TOKEN": token}
    pushed = heater("image", "push", image, str(empty), "--manifest", str(manifest), env=env)
    assert pushed.returncode == 1
    assert "the file is empty" in pushed.stderr
    assert _get(server, f"{image}/builds").json()["builds"] == []
