"""Builds end to end with image bytes on a real Swift, and on S3 through
Swift's s3api: upload in parts, download with ranges, redirects to signed
URLs, deletion, and a store that refuses Heater."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import swiftclient

from heater.config import MIN_BLOB_PART_BYTES
from tests.conftest import Server, start_server, stop_server
from tests.images_helpers import UBUNTU_MANIFEST, auth, push, queue_build, raw_upload, upload
from tests.services.swift_server import Swift
from tests.workers import kill_workers, serving, wait_until

PART = MIN_BLOB_PART_BYTES


def store_env(swift: Swift, kind: str, place: str) -> dict[str, str]:
    """The settings that put a server's image bytes in ``place`` (a container
    or bucket) of ``swift``, natively or through S3."""
    if kind == "swift":
        return {"HEATER_BLOBS": "swift", "HEATER_SWIFT_AUTH_URL": swift.auth_url,
                "HEATER_SWIFT_USER": swift.user, "HEATER_SWIFT_KEY": swift.key,
                "HEATER_SWIFT_CONTAINER": place, "HEATER_BLOB_PART_BYTES": str(PART)}
    return {"HEATER_BLOBS": "s3", "HEATER_S3_ENDPOINT": swift.url, "HEATER_S3_BUCKET": place,
            "HEATER_S3_ACCESS_KEY": swift.user, "HEATER_S3_SECRET_KEY": swift.key,
            "HEATER_BLOB_PART_BYTES": str(PART)}


def objects(swift: Swift, container: str) -> list[str]:
    conn = swiftclient.Connection(authurl=swift.auth_url, user=swift.user, key=swift.key)
    try:
        return [o["name"] for o in conn.get_container(container, full_listing=True)[1]]
    except swiftclient.ClientException as exc:
        if exc.http_status == 404:
            return []
        raise


def segments_of(kind: str, place: str) -> str:
    """The container where the parts of ``place``'s large objects go."""
    return f"{place}_segments" if kind == "swift" else f"{place}+segments"


class StoreServer:
    def __init__(self, server: Server, kind: str, place: str) -> None:
        self.server, self.kind, self.place = server, kind, place


def _start(tmp: Path, env: dict[str, str]) -> Server:
    return start_server(tmp / "data", tmp / "server.log", workers=1, env=env)


@pytest.fixture(scope="module", params=["swift", "s3"])
def on_store(request: pytest.FixtureRequest, swift: Swift,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    place = f"h{uuid.uuid4().hex[:12]}"
    server = _start(tmp_path_factory.mktemp(f"on-{request.param}"),
                    store_env(swift, request.param, place))
    yield StoreServer(server, request.param, place)
    stop_server(server)


def test_round_trip_in_parts_with_ranges_then_delete(on_store: StoreServer, swift: Swift,
                                                     ns: str) -> None:
    server = on_store.server
    token = server.token("admin", ns)
    data = os.urandom(2 * PART + 17)
    build_id = push(server, token, f"{ns}/img", data)
    build = requests.get(f"{server.url}/api/v1/builds/{build_id}", timeout=10).json()
    assert (build["size"], build["hashes"]["sha256"]) == (len(data),
                                                          hashlib.sha256(data).hexdigest())
    # Stored as one large object in three parts, under the build's id.
    assert build_id in objects(swift, on_store.place)
    assert len([s for s in objects(swift, segments_of(on_store.kind, on_store.place))
                if s.startswith(build_id)]) == 3

    url = f"{server.url}/api/v1/builds/{build_id}/file"
    whole = requests.get(url, timeout=60)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(data).digest()
    across = requests.get(url, headers={"Range": f"bytes={PART - 5}-{PART + 4}"}, timeout=30)
    assert across.status_code == 206
    assert across.headers["Content-Range"] == f"bytes {PART - 5}-{PART + 4}/{len(data)}"
    assert across.content == data[PART - 5:PART + 5]

    deleted = requests.delete(f"{server.url}/api/v1/builds/{build_id}", headers=auth(token),
                              timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert build_id not in objects(swift, on_store.place)
    assert not [s for s in objects(swift, segments_of(on_store.kind, on_store.place))
                if s.startswith(build_id)]


def test_small_image_is_one_object(on_store: StoreServer, swift: Swift, ns: str) -> None:
    server = on_store.server
    data = os.urandom(1000)
    build_id = push(server, server.token("writer", ns), f"{ns}/img", data)
    assert build_id in objects(swift, on_store.place)
    assert not [s for s in objects(swift, segments_of(on_store.kind, on_store.place))
                if s.startswith(build_id)]
    assert requests.get(f"{server.url}/api/v1/builds/{build_id}/file", timeout=30,
                        ).content == data


@pytest.fixture(scope="module")
def redirecting(swift: Swift, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**store_env(swift, "swift", f"r{uuid.uuid4().hex[:12]}"),
           "HEATER_BLOB_REDIRECT_SECONDS": "300"}
    server = _start(tmp_path_factory.mktemp("redirecting"), env)
    yield server
    stop_server(server)


def test_download_redirects_to_a_temp_url(redirecting: Server, swift: Swift, ns: str) -> None:
    server = redirecting
    token = server.token("writer", ns)
    data = os.urandom(5000)
    queued = requests.post(f"{server.url}/api/v1/images/{ns}/img/builds?visibility=private",
                           json=UBUNTU_MANIFEST, headers=auth(token), timeout=30)
    assert queued.status_code == 201, queued.text
    build_id = queued.json()["build_id"]
    assert upload(server, token, build_id, data).status_code == 200
    url = f"{server.url}/api/v1/builds/{build_id}/file"

    moved = requests.get(url, headers=auth(token), allow_redirects=False, timeout=10)
    assert moved.status_code == 302
    assert moved.headers["Location"].startswith(f"{swift.storage_url}/")
    assert "temp_url_sig=" in moved.headers["Location"]
    assert moved.headers["Cache-Control"] == "private, no-store"
    assert moved.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert requests.get(moved.headers["Location"], timeout=30).content == data
    ranged = requests.get(moved.headers["Location"], headers={"Range": "bytes=10-19"},
                          timeout=30)
    assert (ranged.status_code, ranged.content) == (206, data[10:20])

    # No URL for those who may not read it: a private build is missing to them.
    anonymous = requests.get(url, allow_redirects=False, timeout=10)
    assert anonymous.status_code == 404
    assert anonymous.json()["error"]["code"] == "build_not_found"
    # HEAD still answers here, with the size.
    head = requests.head(url, headers=auth(token), timeout=10)
    assert (head.status_code, head.headers["Content-Length"]) == (200, str(len(data)))


def test_a_store_that_refuses_heater_is_503_and_keeps_nothing(
        swift: Swift, tmp_path: Path, ns: str) -> None:
    env = {**store_env(swift, "swift", f"x{uuid.uuid4().hex[:12]}"),
           "HEATER_SWIFT_KEY": "not-the-key"}
    server = _start(tmp_path, env)
    try:
        token = server.token("writer", ns)
        build_id = queue_build(server, token, f"{ns}/img")
        refused = upload(server, token, build_id, os.urandom(1000))
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "blob_store_unavailable"
        assert "Swift" in refused.json()["error"]["message"]
        state = requests.get(f"{server.url}/api/v1/builds/{build_id}", timeout=10).json()
        assert state["status"] == "queued"
    finally:
        stop_server(server)


def test_worker_killed_mid_upload_leaves_parts_that_cleanup_removes(
        on_store: StoreServer, swift: Swift, ns: str) -> None:
    server = on_store.server
    token = server.token("writer", ns)
    build_id = queue_build(server, token, f"{ns}/img")
    data = os.urandom(4 * PART)

    def parts() -> list[str]:
        return [name for name in objects(swift, segments_of(on_store.kind, on_store.place))
                if name.startswith(build_id)]

    with raw_upload(server, token, build_id, len(data)) as sock:
        sock.sendall(data[:3 * PART])
        # The worker is sending parts to the store when it is killed.
        assert wait_until(lambda: len(parts()) >= 2, 60)
        kill_workers(server)
    assert wait_until(lambda: serving(server), 30)
    assert build_id not in objects(swift, on_store.place)
    state = requests.get(f"{server.url}/api/v1/builds/{build_id}", timeout=10).json()
    assert state["status"] == "queued"
    assert parts()  # what the dead upload sent: nothing removed them yet

    cleanup = subprocess.run(
        [sys.executable, "-m", "heater", "cleanup", "--older-than", "0",
         "--data-dir", str(server.data_dir)], env={**os.environ, **server.env},
        capture_output=True, text=True, timeout=120, check=False)
    assert cleanup.returncode == 0, cleanup.stderr
    assert build_id in cleanup.stderr  # named among what was removed
    assert parts() == []
    retry = upload(server, token, build_id, data)
    assert retry.status_code == 200, retry.text
    stored = requests.get(f"{server.url}/api/v1/builds/{build_id}/file", timeout=60)
    assert hashlib.sha256(stored.content).digest() == hashlib.sha256(data).digest()
