"""``heater image push`` and ``heater image pull``: the client side of
image builds, over the REST API (standard library HTTP only, streaming both
ways, with a progress bar on a terminal)."""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from heater.blobs import CHUNK
from heater.errors import HeaterError
from heater.names import RepoId, check_uuid
from heater.repos.versions import Version

ENV_URL = "HEATER_URL"
ENV_TOKEN = "HEATER_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8080"


class ClientError(Exception):
    """Something the user should read; the command exits 1."""


def add_commands(commands: Any) -> None:
    """Add ``image push`` and ``image pull`` to the ``heater`` parser."""
    image = commands.add_parser("image", help="upload and download image builds")
    sub = image.add_subparsers(dest="image_command", required=True)
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--url", help=f"server URL (default: ${ENV_URL} or {DEFAULT_URL})")
    remote.add_argument("--token", help=f"API token (default: ${ENV_TOKEN})")
    push = sub.add_parser("push", parents=[remote], help="queue a build and upload its file")
    push.add_argument("image", metavar="NS/NAME")
    push.add_argument("file", type=Path, metavar="FILE")
    push.add_argument("--manifest", type=Path, required=True, metavar="M.json")
    push.add_argument("--version", help="release version to tag the build with; must agree "
                      "with the manifest's own version, if it has one")
    pull = sub.add_parser("pull", parents=[remote], help="download a build, checking sha256")
    pull.add_argument("build_id", metavar="UUID")
    pull.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")


def run(args: argparse.Namespace) -> int:
    client = Client(args.url or os.environ.get(ENV_URL) or DEFAULT_URL,
                    args.token or os.environ.get(ENV_TOKEN))
    try:
        if args.image_command == "push":
            return push(client, RepoId.parse(args.image), args.file, args.manifest,
                        args.version)
        return pull(client, check_uuid(args.build_id), args.output)
    except HeaterError as exc:
        print(f"heater: {exc.message}", file=sys.stderr)
        return 1
    except (ClientError, OSError, ValueError, http.client.HTTPException) as exc:
        print(f"heater: {exc}", file=sys.stderr)
        return 1


def push(client: Client, image: RepoId, file: Path, manifest_path: Path,
         version: str | None) -> int:
    manifest = load_manifest(manifest_path)
    if version is not None:
        manifest["version"] = agreed_version(version, manifest.get("version"), manifest_path)
    # Opened before the build is queued: a missing or unreadable file must
    # not leave a build waiting for bytes that never come.
    with file.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            raise ClientError(f"{file}: not a regular file")
        created = client.json("POST", f"/api/v1/images/{image}/builds", manifest)
        build_id = str(created["id"])
        digest = hashlib.sha256()
        try:
            status, body = client.upload(f"/api/v1/builds/{build_id}/file", source, size,
                                         Progress(f"push {file.name}", size), digest)
        except BaseException:
            print(f"heater: build {build_id} stays queued without its file: upload it again "
                  f"(PUT /api/v1/builds/{build_id}/file) or delete it", file=sys.stderr)
            raise
    if status != 200:
        raise ClientError(f"upload of build {build_id} failed: {_error(status, body)}")
    build = json.loads(body)
    if build["hashes"]["sha256"] != digest.hexdigest():
        raise ClientError(f"the server recorded sha256 {build['hashes']['sha256']}, "
                          f"the file has {digest.hexdigest()}")
    print(f"build {build_id} active: {size} bytes, sha256 {digest.hexdigest()}, "
          f"commit {build['commit']}", file=sys.stderr)
    print(build_id)
    return 0


def load_manifest(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; an error that names the file otherwise."""
    try:
        loaded = json.loads(path.read_text())
    except ValueError as exc:
        raise ClientError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise ClientError(f"{path}: a manifest is a JSON object, not {type(loaded).__name__}")
    return loaded


def agreed_version(option: str, in_manifest: object, path: Path) -> str:
    """``--version`` when the manifest names no version or the same one
    (``v1.0.0`` and ``1.0.0`` agree). A different one is refused rather
    than silently replaced: either may be the mistake."""
    if in_manifest is None:
        return option
    ours, theirs = Version.try_parse(option), Version.try_parse(str(in_manifest))
    if ours is None or theirs is None or str(ours) != str(theirs):
        raise ClientError(f"--version {option} disagrees with version {in_manifest} in {path}; "
                          "give one of them, or the same in both")
    return option


def pull(client: Client, build_id: str, output: Path) -> int:
    build = client.json("GET", f"/api/v1/builds/{build_id}")
    expected = build["hashes"]["sha256"]
    partial = output.with_name(output.name + ".part")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            client.download(f"/api/v1/builds/{build_id}/file", out,
                            Progress(f"pull {build_id[:8]}", int(build["size"])), digest)
        if digest.hexdigest() != expected:
            raise ClientError(f"sha256 mismatch: got {digest.hexdigest()}, "
                              f"expected {expected}; nothing was written")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    print(f"{output}: {build['size']} bytes, sha256 {expected} verified", file=sys.stderr)
    return 0


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self.visible = sys.stderr.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.visible and (now - self._drawn > 0.1 or self.done >= self.total):
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        fraction = self.done / self.total if self.total else 1.0
        width = 30
        bar = "#" * int(fraction * width)
        rate = self.done / max(now - self.started, 1e-6) / 2**20
        sys.stderr.write(f"\r{self.label} [{bar:<{width}}] {fraction:6.1%} {rate:8.1f} MiB/s")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


class Client:
    def __init__(self, url: str, token: str | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.parts = parts
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _connection(self) -> http.client.HTTPConnection:
        """A connection to the server, made now, so that failing to reach it
        is reported with the URL tried (a bare "Connection refused" does not
        say where)."""
        kind = (http.client.HTTPSConnection if self.parts.scheme == "https"
                else http.client.HTTPConnection)
        conn = kind(self.parts.hostname or "", self.parts.port, timeout=300)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise ClientError(f"cannot reach {self.url}: {exc.strerror or exc}") from None
        return conn

    def json(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        conn = self._connection()
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
            conn.request(method, self.prefix + path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise ClientError(f"{method} {path}: {_error(response.status, payload)}")
        result = json.loads(payload)
        assert isinstance(result, dict)
        return result

    def upload(self, path: str, source: IO[bytes], size: int, progress: Progress,
               digest: Any) -> tuple[int, bytes]:
        conn = self._connection()
        try:
            conn.putrequest("PUT", self.prefix + path)
            for key, value in {**self.headers, "Content-Type": "application/octet-stream",
                               "Content-Length": str(size)}.items():
                conn.putheader(key, value)
            conn.endheaders()
            while chunk := source.read(CHUNK):
                conn.send(chunk)
                digest.update(chunk)
                progress.advance(len(chunk))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def download(self, path: str, out: IO[bytes], progress: Progress, digest: Any) -> None:
        conn = self._connection()
        try:
            conn.request("GET", self.prefix + path, headers=self.headers)
            response = conn.getresponse()
            if response.status != 200:
                raise ClientError(f"GET {path}: {_error(response.status, response.read())}")
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                progress.advance(len(chunk))
        finally:
            conn.close()


def _error(status: int, body: bytes) -> str:
    try:
        error = json.loads(body)["error"]
        return f"{status} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"
