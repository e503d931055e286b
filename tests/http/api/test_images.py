"""Image repositories over the API: detail, versions, listing (from the
catalog index), diff."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from tests.catalog_support import listing, reindex
from tests.conftest import Server
from tests.images.test_diff import JAMMY_APRIL, JAMMY_JANUARY, manifest
from tests.images_helpers import UBUNTU_MANIFEST, auth, push, queue_build, upload


def get(server: Server, path: str, token: str | None = None) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/{path}", headers=auth(token) if token else {},
                        timeout=10)


def test_detail_shows_latest_release_and_versions(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    first = push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_JANUARY), version="1.0.0")
    second = push(server, token, f"{ns}/jammy", b"2", manifest(JAMMY_APRIL), version="1.1.0")
    push(server, token, f"{ns}/jammy", b"3", manifest(JAMMY_APRIL), version="2.0.0-rc.1")
    detail = get(server, f"images/{ns}/jammy").json()
    assert detail["repository_kind"] == "image"
    assert detail["ref"]["version"] == detail["latest_version"] == "1.1.0"
    assert detail["build_id"] == second
    assert detail["manifest"]["image_id"] == second
    assert detail["clone_url"].endswith(f"/{ns}/jammy.git")
    versions = get(server, f"images/{ns}/jammy/versions").json()["versions"]
    assert [v["version"] for v in versions] == ["2.0.0-rc.1", "1.1.0", "1.0.0"]
    assert versions[2]["build_id"] == first


def test_diff_between_versions(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_JANUARY), version="1.0.0")
    push(server, token, f"{ns}/jammy", b"2", manifest(JAMMY_APRIL), version="1.1.0")
    diff = get(server, f"images/{ns}/jammy/diff?from=1.0.0&to=v1.1.0").json()
    assert diff["from"]["version"] == "1.0.0" and diff["to"]["version"] == "1.1.0"
    assert [p["name"] for p in diff["packages"]["added"]] == [
        "linux-image-5.15.0-102-generic", "wget"]
    assert diff["packages"]["downgraded"][0]["name"] == "snapd"
    assert get(server, f"images/{ns}/jammy/diff?from=9.9.9&to=main").status_code == 404


def test_diff_parameters_are_those_of_the_template_diff(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_JANUARY), version="1.0.0")
    for query in ("", "?from=1.0.0", "?to=1.0.0", "?from=&to=1.0.0"):
        missing = get(server, f"images/{ns}/jammy/diff{query}")
        assert missing.status_code == 400, query
        assert missing.json()["error"]["code"] == "missing_field"
    unknown = get(server, f"images/{ns}/jammy/diff?from=1.0.0&to=1.0.0&format=yaml")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "invalid_value"
    assert get(server, f"images/{ns}/jammy/diff?from=1.0.0&to=1.0.0&format=json").ok


def test_diff_between_two_builds_by_their_ids(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    first = push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_JANUARY))
    second = push(server, token, f"{ns}/jammy", b"2", manifest(JAMMY_APRIL), version="1.1.0")
    diff = get(server, f"images/{ns}/jammy/diff?from={first}&to={second}").json()
    assert diff["from"]["build_id"] == first and diff["from"]["version"] is None
    assert diff["to"]["build_id"] == second and diff["to"]["version"] == "1.1.0"
    assert [p["name"] for p in diff["packages"]["added"]] == [
        "linux-image-5.15.0-102-generic", "wget"]
    # main's head carries 1.1.0: the side says so, as it does for to=1.1.0
    assert get(server, f"images/{ns}/jammy/diff?from={first}&to=main").json()["to"] \
        == {**diff["to"], "requested": "main", "kind": "branch", "name": "main"}
    unknown = get(server, f"images/{ns}/jammy/diff?from={first}&to={uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_ref"
    # a deleted build stays comparable: its manifest as it was uploaded
    requests.delete(f"{server.url}/api/v1/builds/{first}", headers=auth(token), timeout=30)
    again = get(server, f"images/{ns}/jammy/diff?from={first}&to={second}").json()
    assert again["packages"] == diff["packages"] and again["from"] == diff["from"]


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in entries]


def test_listing_and_search_by_package_and_os(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_APRIL, description="Jammy base"))
    push(server, token, f"{ns}/focal", b"2", manifest(JAMMY_JANUARY), version="1.0.0")
    push(server, token, f"{ns}/rocky", b"3", {**UBUNTU_MANIFEST, "package_manager": "rpm",
                                              "os": {"distro": "rocky", "version": "9"}})
    listed = listing(server, None, "images", namespace=ns)
    assert names(listed) == ["focal", "jammy", "rocky"]
    jammy = listed[1]
    assert jammy["repository_kind"] == "image" and jammy["description"] == "Jammy base"
    assert jammy["os"] == {"distro": "ubuntu", "version": "22.04"}
    assert jammy["keywords"] == ["ubuntu", "22.04"]
    assert jammy["package_count"] == len(manifest(JAMMY_APRIL)["packages"])
    assert jammy["status"] == "active" and jammy["disk_format"] == "qcow2"
    assert listed[0]["latest_version"] == "1.0.0" and jammy["latest_version"] is None

    def search(**params: str) -> list[str]:
        return names(listing(server, None, "images", namespace=ns, **params))

    assert search(q="wget") == ["jammy"]  # a package only the April build has
    assert search(q="openssl") == ["focal", "jammy", "rocky"]
    assert search(q="linux-image-5.15.0-102-generic") == ["jammy"]  # as a phrase
    assert search(q="linux-image-5.15.0-91-generic") == ["focal", "jammy"]
    assert search(q="ROCKY") == ["rocky"]
    assert search(q="jammy base") == ["jammy"]
    assert search(keyword="ubuntu") == ["focal", "jammy"]
    assert search(keyword="rocky", q="bash") == ["rocky"]
    assert search(keyword="Ubuntu", q="rocky") == []
    assert names(listing(server, None, "images", namespace=ns, limit=1)) == names(listed)
    assert search(sort="name:desc") == ["rocky", "jammy", "focal"]
    assert get(server, "images?sort=size").status_code == 400
    assert listing(server, None, "templates", namespace=ns) == []


def test_the_listing_follows_uploads_and_deletions(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    queued = queue_build(server, token, f"{ns}/base")
    [entry] = listing(server, None, "images", namespace=ns)
    assert entry["build_id"] is None and entry["package_count"] == 0
    upload(server, token, queued, b"bytes")
    [entry] = listing(server, None, "images", namespace=ns)
    assert entry["build_id"] == queued and entry["size"] == 5
    newer = push(server, token, f"{ns}/base", b"newer", manifest(JAMMY_APRIL))
    [entry] = listing(server, None, "images", q="wget", namespace=ns)
    assert entry["build_id"] == newer
    assert requests.delete(f"{server.url}/api/v1/builds/{newer}", headers=auth(token),
                           timeout=30).status_code == 200
    [entry] = listing(server, None, "images", namespace=ns)
    assert entry["status"] == "deleted" and entry["build_id"] == newer


def test_reindex_gives_the_same_image_listing(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_APRIL), version="1.0.0")
    gone = push(server, token, f"{ns}/jammy", b"2", manifest(JAMMY_JANUARY))
    requests.delete(f"{server.url}/api/v1/builds/{gone}", headers=auth(token), timeout=30)
    push(server, token, f"{ns}/rocky", b"3", {**UBUNTU_MANIFEST,
                                              "os": {"distro": "rocky", "version": "9"}})
    requests.post(f"{server.url}/api/v1/images/{ns}/hidden/builds?visibility=private",
                  json=UBUNTU_MANIFEST, headers=auth(token), timeout=10)
    admin = server.token("admin")
    before = listing(server, admin, "images", namespace=ns, sort="updated")
    searched = listing(server, admin, "images", namespace=ns, q="wget")
    assert sorted(names(before)) == ["hidden", "jammy", "rocky"] and names(searched) == ["jammy"]
    reindex(server)
    assert listing(server, admin, "images", namespace=ns, sort="updated") == before
    assert listing(server, admin, "images", namespace=ns, q="wget") == searched


def test_private_images_are_invisible(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    response = requests.post(f"{server.url}/api/v1/images/{ns}/secret/builds?visibility=private",
                             json=UBUNTU_MANIFEST, headers=auth(token), timeout=10)
    assert response.status_code == 201
    build_id = response.json()["build_id"]
    assert get(server, f"images/{ns}/secret").status_code == 404
    hidden = get(server, f"builds/{build_id}")
    assert hidden.status_code == 404
    assert "secret" not in hidden.text  # the image's name is not revealed
    assert get(server, f"images?namespace={ns}").json()["images"] == []
    assert listing(server, server.token("writer", "elsewhere"), "images", namespace=ns) == []
    assert names(listing(server, server.token("reader", ns), "images", namespace=ns)) \
        == ["secret"]
    assert listing(server, None, "images", q="openssl", namespace=ns) == []
    assert get(server, f"images/{ns}/secret", token).status_code == 200
    reader = server.token("reader", ns)
    assert get(server, f"builds/{build_id}", reader).json()["status"] == "queued"
    # Asked for as a template: who may read it learns it is an image; others
    # hear of no repository at all.
    as_template = get(server, f"templates/{ns}/secret", reader)
    assert as_template.status_code == 404
    assert as_template.json()["error"]["message"] == \
        f"{ns}/secret is an image repository, not a template one"
    hidden = get(server, f"templates/{ns}/secret")
    assert hidden.status_code == 404 and "image" not in hidden.text
    taken = requests.post(f"{server.url}/api/v1/templates", headers=auth(token), timeout=10,
                          json={"namespace": ns, "name": "secret"})
    assert taken.status_code == 409 and "(as an image repository)" in taken.text


def test_credentials_come_before_the_body(server: Server, ns: str) -> None:
    url = f"{server.url}/api/v1/images/{ns}/jammy/builds"
    bodies: list[dict[str, Any]] = [{"json": {}}, {"data": "x"}, {}]
    for kwargs in bodies:
        anonymous = requests.post(url, timeout=10, **kwargs)
        assert anonymous.status_code == 401, (kwargs, anonymous.text)
    reader = requests.post(url, json={}, headers=auth(server.token("reader", ns)), timeout=10)
    assert reader.status_code == 403, reader.text


def test_a_deleted_release_is_no_longer_latest(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    first = push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_JANUARY), version="1.0.0")
    second = push(server, token, f"{ns}/jammy", b"2", manifest(JAMMY_APRIL), version="1.2.0")
    tagged = get(server, f"images/{ns}/jammy/versions").json()["versions"][0]["commit"]
    deleted = requests.delete(f"{server.url}/api/v1/builds/{second}", headers=auth(token),
                              timeout=30).json()

    detail = get(server, f"images/{ns}/jammy").json()
    assert detail["ref"]["version"] == "1.0.0" and detail["build_id"] == first
    versions = get(server, f"images/{ns}/jammy/versions").json()["versions"]
    assert detail["versions"] == versions
    gone, kept = versions
    assert gone["version"] == "1.2.0" and gone["build_id"] == second
    assert gone["commit"] == tagged  # the tag never moves
    assert gone["status"] == "deleted" and gone["deleted"] == deleted["deleted"]
    assert gone["yanked"] and second in str(gone["yanked"]["reason"])
    assert kept["status"] == "active" and kept["deleted"] is None and kept["yanked"] is None
    to_latest = get(server, f"images/{ns}/jammy/diff?from=1.0.0&to=latest").json()
    assert to_latest["to"]["build_id"] == first and to_latest["to"]["version"] == "1.0.0"
    # the deleted version is history: still readable by its exact name
    old = get(server, f"images/{ns}/jammy/diff?from=1.0.0&to=1.2.0").json()
    assert old["to"]["build_id"] == second
    [entry] = listing(server, None, "images", namespace=ns)
    assert entry["latest_version"] == "1.0.0" and entry["build_id"] == first
    assert entry["status"] == "active"
    raw = requests.get(f"{server.url}/{ns}/jammy/raw/latest/manifest.json", timeout=10)
    assert raw.json()["image_id"] == first

    # with no release left, the image shows its newest commit: the tombstone
    requests.delete(f"{server.url}/api/v1/builds/{first}", headers=auth(token), timeout=30)
    detail = get(server, f"images/{ns}/jammy").json()
    assert detail["ref"]["version"] is None and detail["manifest"]["status"] == "deleted"
    assert [v["status"] for v in detail["versions"]] == ["deleted", "deleted"]
    [entry] = listing(server, None, "images", namespace=ns)
    assert entry["latest_version"] is None and entry["status"] == "deleted"
    # and latest is that newest commit everywhere, the diff included
    to_tombstone = get(server, f"images/{ns}/jammy/diff?from=1.0.0&to=latest").json()
    assert to_tombstone["to"]["commit"] == detail["ref"]["commit"]
    assert to_tombstone["to"]["build_id"] == first


def test_visibility_must_match_the_existing_image(server: Server, ns: str) -> None:
    token = server.token("writer", ns)

    def queue(image: str, visibility: str) -> requests.Response:
        return requests.post(f"{server.url}/api/v1/images/{ns}/{image}/builds",
                             params={"visibility": visibility}, json=UBUNTU_MANIFEST,
                             headers=auth(token), timeout=10)

    queue_build(server, token, f"{ns}/open")
    clash = queue("open", "private")
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["code"] == "visibility_mismatch"
    assert "public" in clash.json()["error"]["message"]
    assert get(server, f"images/{ns}/open").json()["visibility"] == "public"
    assert queue("open", "public").status_code == 201  # saying what it is is fine
    assert queue("closed", "private").status_code == 201
    assert queue("closed", "public").status_code == 409
    bad = queue("other", "secret")
    assert bad.status_code == 400 and "visibility" in bad.json()["error"]["message"]
    assert get(server, f"images/{ns}/other").status_code == 404
