"""Builds end to end: queue, upload, download with ranges, delete."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.conftest import Git, Server
from tests.images_helpers import UBUNTU_MANIFEST, auth, push, queue_build, raw_upload, upload


def api(server: Server, path: str) -> str:
    return f"{server.url}/api/v1/{path}"


def test_round_trip_with_hashes(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    data = os.urandom(3 * 1024 * 1024 + 17)
    build_id = queue_build(server, token, f"{ns}/ubuntu")
    assert requests.get(api(server, f"builds/{build_id}"), timeout=10).json()["status"] == "queued"

    response = upload(server, token, build_id, data)
    assert response.status_code == 200, response.text
    build = requests.get(api(server, f"builds/{build_id}"), timeout=10).json()
    assert build["status"] == "active"
    assert build["image"] == {"namespace": ns, "name": "ubuntu"}
    assert build["size"] == len(data)
    assert build["hashes"] == {"sha256": hashlib.sha256(data).hexdigest(),
                               "sha512": hashlib.sha512(data).hexdigest(),
                               "md5": hashlib.md5(data, usedforsecurity=False).hexdigest()}
    assert len(build["commit"]) == 40

    got = requests.get(api(server, f"builds/{build_id}/file"), timeout=30)
    assert got.status_code == 200
    assert got.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert got.headers["Accept-Ranges"] == "bytes"
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()

    head = requests.head(api(server, f"builds/{build_id}/file"), timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.content == b""


def test_chunked_upload(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    data = os.urandom(2 * 1024 * 1024 + 5)
    build_id = queue_build(server, token, f"{ns}/img")

    def body() -> Iterator[bytes]:  # a generator makes requests send it chunked
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    response = requests.put(api(server, f"builds/{build_id}/file"), data=body(),
                            headers=auth(token), timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert requests.get(api(server, f"builds/{build_id}/file"), timeout=30).content == data


def test_ranges(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    data = bytes(range(256)) * 40
    build_id = push(server, token, f"{ns}/img", data)
    url = api(server, f"builds/{build_id}/file")
    etag = requests.head(url, timeout=10).headers["ETag"]

    for header, expected, content_range in [
        ("bytes=0-99", data[:100], f"bytes 0-99/{len(data)}"),
        ("bytes=10000-", data[10000:], f"bytes 10000-10239/{len(data)}"),
        ("bytes=-16", data[-16:], f"bytes 10224-10239/{len(data)}"),
        ("bytes=10230-99999", data[10230:], f"bytes 10230-10239/{len(data)}"),
        # A suffix longer than the file is the whole file (RFC 9110 14.1.2).
        ("bytes=-99999", data, f"bytes 0-10239/{len(data)}"),
        (f"bytes=-{len(data)}", data, f"bytes 0-10239/{len(data)}"),
    ]:
        got = requests.get(url, headers={"Range": header}, timeout=10)
        assert got.status_code == 206, header
        assert got.content == expected, header
        assert got.headers["Content-Range"] == content_range

    beyond = requests.get(url, headers={"Range": f"bytes={len(data)}-"}, timeout=10)
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"

    several = requests.get(url, headers={"Range": "bytes=0-9,20-29"}, timeout=10)
    assert several.status_code == 200 and several.content == data  # served whole

    stale = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'}, timeout=10)
    assert stale.status_code == 200 and stale.content == data
    fresh = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=10)
    assert fresh.status_code == 206 and fresh.content == data[:10]
    # A date can only match a Last-Modified, which is not sent: the whole file.
    dated = requests.get(url, headers={"Range": "bytes=0-9",
                                       "If-Range": "Sat, 01 Jan 2000 00:00:00 GMT"}, timeout=10)
    assert dated.status_code == 200 and dated.content == data
    assert "Last-Modified" not in dated.headers
    weak = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": f"W/{etag}"}, timeout=10)
    assert weak.status_code == 200 and weak.content == data
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304


def test_an_empty_body_is_refused(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    build_id = queue_build(server, token, f"{ns}/img")
    empty = upload(server, token, build_id, b"")
    assert empty.status_code == 400, empty.text
    assert empty.json()["error"]["code"] == "empty_upload"
    assert "empty" in empty.json()["error"]["message"]
    chunked = requests.put(api(server, f"builds/{build_id}/file"), data=iter([b""]),
                           headers=auth(token), timeout=30)
    assert chunked.status_code == 400, chunked.text
    assert not server.layout.blob(build_id).exists()
    build = requests.get(api(server, f"builds/{build_id}"), timeout=10).json()
    assert build["status"] == "queued" and build["commit"] is None
    assert upload(server, token, build_id, b"bytes").status_code == 200


def test_write_once(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    build_id = push(server, token, f"{ns}/img", b"first bytes")
    second = upload(server, token, build_id, b"second bytes")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "build_not_queued"
    assert requests.get(api(server, f"builds/{build_id}/file"), timeout=10).content == \
        b"first bytes"


def test_a_request_pipelined_behind_an_upload_is_answered(server: Server, ns: str) -> None:
    """The body is read from the socket straight into Heater's buffers: the
    bytes that came with the request head are not lost, and the next request
    sent right behind the body on the same connection is answered."""
    token = server.token("writer", ns)
    build_id = queue_build(server, token, f"{ns}/img")
    data = os.urandom(2 * 1024 * 1024 + 3)
    follow = (f"GET /api/v1/builds/{build_id} HTTP/1.1\r\nHost: heater\r\n"
              "Connection: close\r\n\r\n").encode()
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=30) as sock:
        sock.sendall((f"PUT /api/v1/builds/{build_id}/file HTTP/1.1\r\n"
                      f"Host: heater\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Type: application/octet-stream\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode()
                     + data[:1000])  # read with the head, by the worker's loop
        sock.sendall(data[1000:] + follow)
        replies = b""
        while more := sock.recv(65536):
            replies += more
    assert replies.count(b"HTTP/1.1 200 OK") == 2, replies[:500]
    second = json.loads(replies.rsplit(b"\r\n\r\n", 1)[1])
    assert second["status"] == "active"
    assert second["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_interrupted_upload_keeps_nothing(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    build_id = queue_build(server, token, f"{ns}/img")
    with raw_upload(server, token, build_id, 10 * 1024 * 1024) as sock:
        sock.sendall(os.urandom(1024 * 1024))
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and list((server.data_dir / "tmp").glob("blob-*")):
        time.sleep(0.1)
    assert list((server.data_dir / "tmp").glob("blob-*")) == []
    assert not server.layout.blob(build_id).exists()
    build = requests.get(api(server, f"builds/{build_id}"), timeout=10).json()
    assert build["status"] == "queued"
    assert build["commit"] is None

    # the build can still receive its bytes
    assert upload(server, token, build_id, b"complete").status_code == 200


def test_delete_leaves_a_tombstone(server: Server, ns: str, git: Git, tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    data = b"image bytes" * 1000
    build_id = push(server, writer, f"{ns}/img", data, version="1.0.0")
    blob = server.layout.blob(build_id)
    assert blob.exists()

    assert requests.delete(api(server, f"builds/{build_id}"), timeout=10).status_code == 401
    reader = server.token("reader", ns)
    assert requests.delete(api(server, f"builds/{build_id}"), headers=auth(reader),
                           timeout=10).status_code == 403

    response = requests.delete(api(server, f"builds/{build_id}"), headers=auth(writer),
                               timeout=10)
    assert response.status_code == 200, response.text
    tombstone = response.json()
    assert tombstone["status"] == "deleted"
    assert tombstone["deleted"]["by"]["name"].startswith("writer-")
    assert tombstone["size"] == len(data)
    assert tombstone["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert not blob.exists()

    for path in (f"builds/{build_id}", f"builds/{build_id}/file"):
        gone = requests.get(api(server, path), timeout=10)
        assert gone.status_code == 410
        assert gone.json()["error"]["code"] == "build_deleted"
        assert gone.json()["error"]["tombstone"] == tombstone
    again = requests.delete(api(server, f"builds/{build_id}"), headers=auth(writer), timeout=10)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_done")
    assert again.json()["error"]["tombstone"] == tombstone

    # the history still shows the build, and the version tag still names it
    clone = tmp_path / "clone"
    git.run("clone", "-q", f"{server.url}/{ns}/img.git", str(clone))
    log = git.run("log", "--format=%s", cwd=clone).stdout.splitlines()
    assert log == [f"Delete build {build_id}", f"Build {build_id} (1.0.0)"]
    at_tag = json.loads(git.run("show", "v1.0.0:manifest.json", cwd=clone).stdout)
    assert at_tag["status"] == "active" and at_tag["image_id"] == build_id
    assert json.loads((clone / "manifest.json").read_text())["status"] == "deleted"


def test_versions_are_tagged_and_unique(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    first = push(server, token, f"{ns}/img", b"one", version="1.2.0")
    assert requests.get(api(server, f"builds/{first}"), timeout=10).json()["version"] == "1.2.0"
    taken = requests.post(api(server, f"images/{ns}/img/builds"), headers=auth(token),
                          json={**UBUNTU_MANIFEST, "version": "v1.2.0"}, timeout=10)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "version_exists"

    # two builds queued for one version: the second upload loses, keeps nothing
    a = queue_build(server, token, f"{ns}/img", version="2.0.0")
    b = queue_build(server, token, f"{ns}/img", version="2.0.0")
    assert upload(server, token, a, b"a").status_code == 200
    lost = upload(server, token, b, b"b")
    assert lost.status_code == 409
    assert not server.layout.blob(b).exists()
    assert requests.get(api(server, f"builds/{b}"), timeout=10).json()["status"] == "queued"

    # "v3.0.0" and "3.0.0" are one version, spelt one way in answers
    c = queue_build(server, token, f"{ns}/img", version="v3.0.0")
    assert upload(server, token, c, b"c").json()["version"] == "3.0.0"
    assert requests.get(api(server, f"builds/{c}"), timeout=10).json()["version"] == "3.0.0"


def test_unknown_and_malformed_build_ids(server: Server) -> None:
    assert requests.get(api(server, f"builds/{uuid.uuid4()}"), timeout=10).status_code == 404
    bad = requests.get(api(server, "builds/not-a-uuid"), timeout=10)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_value"


def test_uploading_needs_the_writer_role(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    build_id = queue_build(server, token, f"{ns}/img")
    assert upload(server, server.token("reader", ns), build_id, b"x").status_code == 403
    assert upload(server, server.token("writer", "other"), build_id, b"x").status_code == 403


def test_git_push_to_an_image_is_refused(server: Server, ns: str, git: Git,
                                          tmp_path: Path) -> None:
    token = server.token("writer", ns)
    push(server, token, f"{ns}/img", b"bytes")
    clone = tmp_path / "clone"
    git.run("clone", "-q", server.auth_url(f"{ns}/img.git", token), str(clone))
    git.commit(clone, {"manifest.json": "{}"}, "tamper")
    refused = git.run("push", "origin", "main", cwd=clone, check=False)
    assert refused.returncode != 0


class PeakRss:
    """Peak resident memory of the server's worker processes while active."""

    def __init__(self, server: Server) -> None:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        self.pids = [int(p) for p in children.read_text().split()]
        self.peak = 0
        self.baseline = self._sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> int:
        total = 0
        for pid in self.pids:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0]) * 1024
        return total

    def _loop(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._sample())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_memory_stays_bounded(server: Server, ns: str, tmp_path: Path) -> None:
    """A body far larger than the chunk size never sits in the server's memory
    (the 2 GiB figure is measured by scripts/bench/images)."""
    token = server.token("writer", ns)
    size = 64 * 1024 * 1024
    image = tmp_path / "big.raw"
    with image.open("wb") as out:
        out.truncate(size)
    build_id = queue_build(server, token, f"{ns}/img")
    with PeakRss(server) as upload_rss, image.open("rb") as body:
        response = requests.put(api(server, f"builds/{build_id}/file"), data=body,
                                headers=auth(token), timeout=120)
    assert response.status_code == 200, response.text
    with PeakRss(server) as download_rss, requests.get(
            api(server, f"builds/{build_id}/file"), stream=True, timeout=120) as got:
        received = sum(len(chunk) for chunk in got.iter_content(1024 * 1024))
    assert received == size
    assert upload_rss.peak - upload_rss.baseline < 32 * 1024 * 1024
    assert download_rss.peak - download_rss.baseline < 32 * 1024 * 1024


def test_bytes_an_upload_left_before_committing(server: Server, ns: str) -> None:
    def cleanup() -> None:
        subprocess.run([sys.executable, "-m", "heater", "cleanup", "--older-than", "3600",
                        "--data-dir", str(server.data_dir)], check=True, timeout=60)

    def died_after_storing(build_id: str) -> Path:
        blob = server.layout.blob(build_id)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(b"stored, then the worker died")  # no manifest was committed
        return blob

    token = server.token("writer", ns)
    # The retry replaces them at once: no live upload holds the build.
    build_id = queue_build(server, token, f"{ns}/img")
    died_after_storing(build_id)
    assert upload(server, token, build_id, b"retry").status_code == 200
    assert requests.get(api(server, f"builds/{build_id}/file"), timeout=10).content == b"retry"
    # Without a retry, the cleanup removes them once they are old.
    other = queue_build(server, token, f"{ns}/img")
    blob = died_after_storing(other)
    cleanup()
    assert blob.exists()  # recent: it may belong to an upload about to commit
    os.utime(blob, (time.time() - 7200, time.time() - 7200))
    cleanup()
    assert not blob.exists()
    # The upload lock of the finished build went with it; the queued one's stays.
    assert not server.layout.upload_lock(build_id).exists()


def test_one_upload_of_a_build_at_a_time(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    build_id = queue_build(server, token, f"{ns}/img")
    with raw_upload(server, token, build_id, 10 * 1024 * 1024) as sock:
        sock.sendall(os.urandom(1024 * 1024))
        deadline = time.monotonic() + 10  # until the first is streaming to disk
        while not list(server.layout.tmp.glob("blob-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = upload(server, token, build_id, b"second")
        assert second.status_code == 409, second.text
        assert second.json()["error"]["code"] == "upload_in_progress"
    # The first broke off: the build takes its bytes again.
    deadline = time.monotonic() + 10
    while (answer := upload(server, token, build_id, b"third")).status_code == 409 and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert answer.status_code == 200, answer.text
