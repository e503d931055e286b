"""Image repositories over the API: detail, versions, listing, diff."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import Server
from tests.images_helpers import UBUNTU_MANIFEST, auth, push
from tests.test_images_diff import JAMMY_APRIL, JAMMY_JANUARY, manifest


def get(server: Server, path: str, token: str | None = None) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/{path}", headers=auth(token) if token else {},
                        timeout=10)


def test_detail_shows_latest_release_and_versions(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    first = push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_JANUARY), version="1.0.0")
    second = push(server, token, f"{ns}/jammy", b"2", manifest(JAMMY_APRIL), version="1.1.0")
    push(server, token, f"{ns}/jammy", b"3", manifest(JAMMY_APRIL), version="2.0.0-rc.1")
    detail = get(server, f"images/{ns}/jammy").json()
    assert detail["kind"] == "image"
    assert detail["version"] == "1.1.0"
    assert detail["manifest"]["image_id"] == second
    assert detail["clone_url"].endswith(f"/{ns}/jammy.git")
    versions = get(server, f"images/{ns}/jammy/versions").json()["versions"]
    assert [v["version"] for v in versions] == ["2.0.0-rc.1", "1.1.0", "1.0.0"]
    assert versions[2]["image_id"] == first


def test_diff_between_versions(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_JANUARY), version="1.0.0")
    push(server, token, f"{ns}/jammy", b"2", manifest(JAMMY_APRIL), version="1.1.0")
    diff = get(server, f"images/{ns}/jammy/diff?from=1.0.0&to=v1.1.0").json()
    assert diff["from"]["version"] == "1.0.0" and diff["to"]["version"] == "1.1.0"
    assert [p["name"] for p in diff["packages"]["added"]] == [
        "linux-image-5.15.0-102-generic", "wget"]
    assert diff["packages"]["downgraded"][0]["name"] == "snapd"
    missing = get(server, f"images/{ns}/jammy/diff")
    assert missing.status_code == 400
    assert get(server, f"images/{ns}/jammy/diff?from=9.9.9").status_code == 404


def test_listing_and_search(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    push(server, token, f"{ns}/jammy", b"1", manifest(JAMMY_APRIL, description="Jammy base"))
    push(server, token, f"{ns}/rocky", b"2", {**UBUNTU_MANIFEST,
                                              "os": {"distro": "rocky", "version": "9"}})
    listed = get(server, f"images?namespace={ns}").json()["images"]
    assert [i["name"] for i in listed] == ["jammy", "rocky"]
    assert listed[0]["os"] == {"distro": "ubuntu", "version": "22.04"}
    assert [i["name"] for i in get(server, f"images?namespace={ns}&q=wget").json()["images"]] \
        == ["jammy"]
    assert [i["name"] for i in get(server, f"images?namespace={ns}&q=ROCKY").json()["images"]] \
        == ["rocky"]
    assert [i["name"] for i in get(server, f"images?namespace={ns}&q=jammy base")
            .json()["images"]] == ["jammy"]
    page = get(server, f"images?namespace={ns}&limit=1").json()
    assert [i["name"] for i in page["images"]] == ["jammy"]
    assert page["next_marker"] == f"{ns}/jammy"
    rest = get(server, f"images?namespace={ns}&limit=1&marker={page['next_marker']}").json()
    assert [i["name"] for i in rest["images"]] == ["rocky"]
    assert rest["next_marker"] is None
    assert get(server, "images?sort=size").status_code == 400


def test_private_images_are_invisible(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    response = requests.post(f"{server.url}/api/v1/images/{ns}/secret/builds?visibility=private",
                             json=UBUNTU_MANIFEST, headers=auth(token), timeout=10)
    assert response.status_code == 201
    build_id = response.json()["id"]
    assert get(server, f"images/{ns}/secret").status_code == 404
    hidden = get(server, f"builds/{build_id}")
    assert hidden.status_code == 404
    assert "secret" not in hidden.text  # the image's name is not revealed
    assert get(server, f"images?namespace={ns}").json()["images"] == []
    assert get(server, f"images/{ns}/secret", token).status_code == 200
    reader = server.token("reader", ns)
    assert get(server, f"builds/{build_id}", reader).json()["status"] == "queued"


def test_credentials_come_before_the_body(server: Server, ns: str) -> None:
    url = f"{server.url}/api/v1/images/{ns}/jammy/builds"
    bodies: list[dict[str, Any]] = [{"json": {}}, {"data": "x"}, {}]
    for kwargs in bodies:
        anonymous = requests.post(url, timeout=10, **kwargs)
        assert anonymous.status_code == 401, (kwargs, anonymous.text)
    reader = requests.post(url, json={}, headers=auth(server.token("reader", ns)), timeout=10)
    assert reader.status_code == 403, reader.text
