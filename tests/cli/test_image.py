"""``heater image push`` and ``heater image pull`` against a real server."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from pathlib import Path

import requests

from heater.images.sqlite import SqliteBuildStore
from tests.cli.entry import Ran
from tests.cli.entry import heater as run_heater
from tests.conftest import Server
from tests.images_helpers import UBUNTU_MANIFEST


def heater(server: Server, token: str | None, *args: str) -> Ran:
    env = {"HEATER_URL": server.url, **({"HEATER_TOKEN": token} if token else {})}
    return run_heater("image", *args, env=env)


def test_push_then_pull(server: Server, ns: str, tmp_path: Path) -> None:
    token = server.token("writer", ns)
    image = tmp_path / "disk.qcow2"
    image.write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(UBUNTU_MANIFEST))

    pushed = heater(server, token, "push", f"{ns}/jammy", str(image), "--manifest",
                    str(manifest), "--version", "1.0.0")
    assert pushed.returncode == 0, pushed.stderr
    build_id = pushed.stdout.strip()
    build = requests.get(f"{server.url}/api/v1/builds/{build_id}", timeout=10).json()
    assert build["version"] == "1.0.0"
    assert build["hashes"]["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()

    out = tmp_path / "pulled.qcow2"
    pulled = heater(server, None, "pull", build_id, "-o", str(out))
    assert pulled.returncode == 0, pulled.stderr
    assert "verified" in pulled.stderr
    assert out.read_bytes() == image.read_bytes()


def test_pull_refuses_bytes_that_do_not_match(server: Server, ns: str, tmp_path: Path) -> None:
    token = server.token("writer", ns)
    image = tmp_path / "disk.raw"
    image.write_bytes(b"A" * 4096)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(UBUNTU_MANIFEST))
    build_id = heater(server, token, "push", f"{ns}/img", str(image), "--manifest",
                      str(manifest)).stdout.strip()
    server.layout.blob(build_id).write_bytes(b"B" * 4096)  # corruption on the server

    out = tmp_path / "pulled.raw"
    pulled = heater(server, None, "pull", build_id, "-o", str(out))
    assert pulled.returncode == 1
    assert "sha256 mismatch" in pulled.stderr
    assert not out.exists()
    assert list(tmp_path.glob("*.part")) == []


def test_errors_are_reported(server: Server, ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({**UBUNTU_MANIFEST, "disk_format": "floppy"}))
    image = tmp_path / "x"
    image.write_bytes(b"x")
    refused = heater(server, server.token("writer", ns), "push", f"{ns}/img", str(image),
                     "--manifest", str(manifest))
    assert refused.returncode == 1
    assert "$.disk_format" in refused.stderr
    manifest.write_text(json.dumps(UBUNTU_MANIFEST))
    anonymous = heater(server, None, "push", f"{ns}/img", str(image), "--manifest",
                       str(manifest))
    assert anonymous.returncode == 1
    assert "401 unauthenticated" in anonymous.stderr


def test_a_missing_file_queues_no_build(server: Server, ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(UBUNTU_MANIFEST))
    missing = heater(server, server.token("writer", ns), "push", f"{ns}/img",
                     str(tmp_path / "nofile.qcow2"), "--manifest", str(manifest))
    assert missing.returncode == 1
    assert "nofile.qcow2" in missing.stderr
    queued = SqliteBuildStore(server.layout.builds_db).queued()
    assert [b.id for b in queued if b.repo.namespace == ns] == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_server_that_cannot_be_reached_is_named(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    pulled = run_heater("image", "pull", str(uuid.uuid4()), "-o", str(tmp_path / "out"),
                        "--url", url)
    assert pulled.returncode == 1
    assert url in pulled.stderr and "Traceback" not in pulled.stderr


def test_a_bad_manifest_file_is_named(server: Server, ns: str, tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(b"x")
    token = server.token("writer", ns)
    for text in ("{not json", "[1, 2]"):
        manifest = tmp_path / "broken.json"
        manifest.write_text(text)
        pushed = heater(server, token, "push", f"{ns}/img", str(image), "--manifest",
                        str(manifest))
        assert pushed.returncode == 1, text
        assert str(manifest) in pushed.stderr and "Traceback" not in pushed.stderr


def test_version_must_agree_with_the_manifest(server: Server, ns: str, tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(b"x")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({**UBUNTU_MANIFEST, "version": "1.0.0"}))
    token = server.token("writer", ns)
    clash = heater(server, token, "push", f"{ns}/img", str(image), "--manifest", str(manifest),
                   "--version", "2.0.0")
    assert clash.returncode == 1
    assert "1.0.0" in clash.stderr and "2.0.0" in clash.stderr
    assert requests.get(f"{server.url}/api/v1/images/{ns}/img", timeout=10).status_code == 404
    agreed = heater(server, token, "push", f"{ns}/img", str(image), "--manifest", str(manifest),
                    "--version", "v1.0.0")  # the same version, spelt with its v
    assert agreed.returncode == 0, agreed.stderr
    build = requests.get(f"{server.url}/api/v1/builds/{agreed.stdout.strip()}", timeout=10)
    assert build.json()["version"] == "1.0.0"
