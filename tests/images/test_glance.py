"""Publishing builds to a real Glance (Debian's, with Keystone, started by
the fixture): streamed under the build's own id, checked, recorded, shown
by ``openstack image show`` with the way back to the manifest, and
reported (or deleted) with the build."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import Server, start_server, stop_server
from tests.images_helpers import UBUNTU_MANIFEST, auth, push
from tests.services.openstack import Cloud, Credentials

SIZE = 3 * 1024 * 1024 + 17  # a few chunks, and not a round number


@dataclass
class Site:
    server: Server
    cloud: Cloud
    publisher: Credentials  # the OpenStack user Heater publishes as

    def glance(self, method: str, path: str, **kwargs: object) -> requests.Response:
        token = self.cloud.keystone.token(self.publisher)
        return requests.request(method, f"{self.cloud.glance_url}{path}", timeout=60,
                                headers={"X-Auth-Token": token}, **kwargs)  # type: ignore[arg-type]


# Session-scoped like the cloud (see tests/auth/test_keystone.py).
@pytest.fixture(scope="session")
def site(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    publisher = cloud.make_user(("member",), prefix="heater")
    credential = cloud.app_credential(publisher)
    root = tmp_path_factory.mktemp("glance-heater")
    server = start_server(root / "data", root / "server.log", env={
        "HEATER_KEYSTONE_URL": cloud.keystone_url,
        "HEATER_GLANCE_CREDENTIAL": f"{credential.id}:{credential.secret}"})
    yield Site(server, cloud, publisher)
    stop_server(server)


def publish(site: Site, token: str, build_id: str) -> requests.Response:
    return requests.post(f"{site.server.url}/api/v1/builds/{build_id}/publish",
                         headers=auth(token), timeout=300)


def test_a_build_is_published_under_its_own_id(site: Site) -> None:
    server = site.server
    ns = f"g{uuid.uuid4().hex[:10]}"
    writer = server.token("writer", ns)
    data = os.urandom(SIZE)
    build_id = push(server, writer, f"{ns}/jammy", data, version="1.0.0")

    reader = server.token("reader", ns)
    refused = publish(site, reader, build_id)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    published = publish(site, writer, build_id)
    assert published.status_code == 200, published.text
    build = published.json()
    record = build["published"]
    assert record["glance_url"] == f"{site.cloud.glance_url}/v2/images/{build_id}"
    assert record["glance_image_deleted"] is None
    assert record["by"]["name"].startswith("writer-")
    shown = requests.get(f"{server.url}/api/v1/builds/{build_id}", timeout=30).json()
    assert shown["published"] == record

    image = site.glance("GET", f"/v2/images/{build_id}").json()
    assert (image["status"], image["size"], image["visibility"]) == ("active", SIZE, "community")
    assert image["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert (image["os_hash_algo"], image["os_hash_value"]) == (
        "sha512", hashlib.sha512(data).hexdigest())
    assert (image["disk_format"], image["container_format"]) == ("qcow2", "bare")
    assert (image["os_distro"], image["os_version"]) == ("ubuntu", "22.04")
    assert image["hw_disk_bus"] == "virtio"  # the manifest's own properties
    assert (image["heater_build"], image["heater_repository"], image["heater_version"],
            image["heater_commit"]) == (build_id, f"{ns}/jammy", "1.0.0", build["commit"])
    assert site.glance("GET", f"/v2/images/{build_id}/file").content == data

    # The way back: the manifest at the commit that recorded the build.
    manifest = requests.get(image["heater_manifest"], timeout=30).json()
    assert (manifest["image_id"], manifest["hashes"]["sha256"]) == (
        build_id, hashlib.sha256(data).hexdigest())
    shown_by_cli = json.loads(site.cloud.openstack("image", "show", build_id, "-f", "json",
                                                   user=site.publisher).stdout)
    assert shown_by_cli["properties"]["heater_manifest"] == image["heater_manifest"]

    again = publish(site, writer, build_id)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_done")

    # Deleting the build reports the image, which clouds may still boot: kept.
    deleted = requests.delete(f"{server.url}/api/v1/builds/{build_id}", headers=auth(writer),
                              timeout=60)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["published"] == {**record, "glance_image_deleted": False}
    assert site.glance("GET", f"/v2/images/{build_id}").json()["status"] == "active"


def test_the_command_publishes_and_a_deletion_may_take_the_image(site: Site) -> None:
    server = site.server
    ns = f"g{uuid.uuid4().hex[:10]}"
    writer = server.token("writer", ns)
    created = requests.post(f"{server.url}/api/v1/images/{ns}/secret/builds",
                            params={"visibility": "private"}, json=UBUNTU_MANIFEST,
                            headers=auth(writer), timeout=30)
    assert created.status_code == 201, created.text
    build_id = created.json()["build_id"]
    queued = publish(site, writer, build_id)
    assert (queued.status_code, queued.json()["error"]["code"]) == (404, "build_not_uploaded")
    assert requests.put(f"{server.url}/api/v1/builds/{build_id}/file", data=b"x" * 4096,
                        headers={**auth(writer), "Content-Type": "application/octet-stream"},
                        timeout=60).status_code == 200

    command = subprocess.run(
        [sys.executable, "-m", "heater", "image", "publish", build_id, "--url", server.url],
        env={**os.environ, "HEATER_TOKEN": writer}, capture_output=True, text=True,
        timeout=300, check=False)
    assert command.returncode == 0, command.stderr
    assert command.stdout.strip() == f"{site.cloud.glance_url}/v2/images/{build_id}"
    assert site.glance("GET", f"/v2/images/{build_id}").json()["visibility"] == "private"

    bad = requests.delete(f"{server.url}/api/v1/builds/{build_id}", params={"glance": "yes"},
                          headers=auth(writer), timeout=60)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_value")
    deleted = requests.delete(f"{server.url}/api/v1/builds/{build_id}",
                              params={"glance": "delete"}, headers=auth(writer), timeout=60)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["published"]["glance_image_deleted"] is True
    assert site.glance("GET", f"/v2/images/{build_id}").status_code == 404


def test_bytes_that_changed_are_not_published(site: Site) -> None:
    server = site.server
    ns = f"g{uuid.uuid4().hex[:10]}"
    writer = server.token("writer", ns)
    build_id = push(server, writer, f"{ns}/rotten", b"a" * 10_000)
    # Bit rot in the blob store: the bytes no longer match the manifest.
    blob = server.layout.blob(build_id)
    blob.chmod(0o644)
    blob.write_bytes(b"b" * 10_000)
    refused = publish(site, writer, build_id)
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "glance_mismatch")
    assert "checksum" in refused.json()["error"]["message"]
    assert site.glance("GET", f"/v2/images/{build_id}").status_code == 404  # not left there
    shown = requests.get(f"{server.url}/api/v1/builds/{build_id}", timeout=30).json()
    assert shown["published"] is None


def test_no_glance_configured(server: Server) -> None:
    ns = f"g{uuid.uuid4().hex[:10]}"
    writer = server.token("writer", ns)
    build_id = push(server, writer, f"{ns}/jammy", b"bytes")
    answer = requests.post(f"{server.url}/api/v1/builds/{build_id}/publish",
                           headers=auth(writer), timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409,
                                                                     "glance_not_configured")
