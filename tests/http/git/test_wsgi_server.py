"""Smart HTTP under werkzeug's server, in this process: a server that hands
the application its socket, so a body read past CONTENT_LENGTH would hang."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import Role
from heater.http.app import create_app
from heater.paths import Layout
from tests.conftest import HELLO_WORLD, Git


@pytest.fixture
def werkzeug_url(tmp_path: Path) -> Iterator[str]:
    """The application served by werkzeug on port 0, from a thread."""
    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=10)


def _auth(url: str, secret: str) -> str:
    return url.replace("://", f"://x:{secret}@", 1)


def test_push_and_clone(werkzeug_url: str, git: Git, tmp_path: Path) -> None:
    secret = SqliteTokenStore(Layout(tmp_path / "data").auth_db).create(
        "alice", Role.WRITER, "acme")
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", _auth(f"{werkzeug_url}/acme/web.git", secret), "main", cwd=work,
            timeout=30)
    # A pack larger than http.postBuffer goes chunked: no CONTENT_LENGTH, and
    # the server ends the body.
    blob = os.urandom(256 * 1024)
    head = git.commit(work, {"files/blob.bin": blob}, "a blob")
    traced = git.run("-c", "http.postBuffer=65536", "push",
                     _auth(f"{werkzeug_url}/acme/web.git", secret), "main", cwd=work,
                     timeout=30, env={"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"})
    assert "Transfer-Encoding: chunked" in traced.stderr

    clone = tmp_path / "clone"
    git.run("clone", f"{werkzeug_url}/acme/web.git", str(clone), timeout=30)
    assert git.run("rev-parse", "HEAD", cwd=clone).stdout.strip() == head
    assert (clone / "template.yaml").read_text() == HELLO_WORLD
    assert (clone / "files" / "blob.bin").read_bytes() == blob
    listed = requests.get(f"{werkzeug_url}/api/v1/templates/acme/web", timeout=10)
    assert listed.status_code == 200


def test_bad_content_length_is_refused(werkzeug_url: str) -> None:
    # Raw bytes: HTTP clients do not send a Content-Length they did not compute.
    port = int(werkzeug_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /acme/web.git/git-upload-pack HTTP/1.1\r\nHost: heater\r\n"
                     b"Content-Type: application/x-git-upload-pack-request\r\n"
                     b"Content-Length: -4\r\nConnection: close\r\n\r\n0000")
        answer = b"".join(iter(lambda: sock.recv(4096), b""))
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(b"\r\n\r\nbad Content-Length '-4'\n")
