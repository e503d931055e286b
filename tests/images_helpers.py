"""Small factories shared by the image tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.conftest import Server

UBUNTU_MANIFEST: dict[str, Any] = {
    "disk_format": "qcow2",
    "container_format": "bare",
    "os": {"distro": "ubuntu", "version": "22.04"},
    "packages": [{"name": "openssl", "version": "3.0.2-0ubuntu1.15"},
                 {"name": "bash", "version": "5.1-6ubuntu1"}],
    "properties": {"hw_disk_bus": "virtio"},
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def queue_build(server: Server, token: str, image: str,
                manifest: dict[str, Any] | None = None, **extra: Any) -> str:
    body = {**(manifest or UBUNTU_MANIFEST), **extra}
    response = requests.post(f"{server.url}/api/v1/images/{image}/builds", json=body,
                             headers=auth(token), timeout=30)
    assert response.status_code == 201, response.text
    build_id = response.json()["build_id"]
    assert isinstance(build_id, str)
    return build_id


def upload(server: Server, token: str, build_id: str, data: bytes) -> requests.Response:
    return requests.put(f"{server.url}/api/v1/builds/{build_id}/file", data=data,
                        headers={**auth(token), "Content-Type": "application/octet-stream"},
                        timeout=60)


def push(server: Server, token: str, image: str, data: bytes,
         manifest: dict[str, Any] | None = None, **extra: Any) -> str:
    """Queue and upload a build; its id."""
    build_id = queue_build(server, token, image, manifest, **extra)
    response = upload(server, token, build_id, data)
    assert response.status_code == 200, response.text
    return build_id


@contextmanager
def raw_upload(server: Server, token: str, build_id: str, length: int) -> Iterator[socket.socket]:
    """A socket on which the headers of an upload of ``length`` bytes were
    sent; the test sends (part of) the body, then leaves."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=30) as sock:
        sock.sendall((f"PUT /api/v1/builds/{build_id}/file HTTP/1.1\r\n"
                      f"Host: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Type: application/octet-stream\r\n"
                      f"Content-Length: {length}\r\n\r\n").encode())
        yield sock
