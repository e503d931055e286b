"""``heater image push`` and ``heater image pull``: the client side of
image builds, over the REST API through :mod:`heater.client` (streaming both
ways, with a progress bar on a terminal)."""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from heater.client.http import Client, ClientError, describe_error
from heater.client.progress import Progress
from heater.errors import HeaterError
from heater.names import RepoId, check_uuid
from heater.repos.versions import Version

ENV_URL = "HEATER_URL"
ENV_TOKEN = "HEATER_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8080"


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
        if size == 0:  # the server would refuse it and keep a build waiting for bytes
            raise ClientError(f"{file}: the file is empty; no image is 0 bytes long")
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
        refusal = describe_error(status, body)
        if 400 <= status < 500 and status != 409:
            # Refused for what was sent (the file changed under us): the
            # same upload can never succeed, so the build is not left queued.
            client.json("DELETE", f"/api/v1/builds/{build_id}")
            raise ClientError(f"upload of build {build_id} was refused: {refusal}; "
                              "the build was deleted")
        raise ClientError(f"upload of build {build_id} failed: {refusal}")
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
    """``--version`` (written as versions are: ``1.0.0`` for ``v1.0.0``)
    when the manifest names no version or the same one (``v1.0.0`` and
    ``1.0.0`` agree). A different one is refused rather than silently
    replaced: either may be the mistake."""
    ours = Version.try_parse(option)
    if ours is None:
        raise ClientError(f"--version {option} is not a semantic version (such as 1.2.0)")
    if in_manifest is None:
        return str(ours)
    theirs = Version.try_parse(str(in_manifest))
    if theirs is None or str(ours) != str(theirs):
        raise ClientError(f"--version {option} disagrees with version {in_manifest} in {path}; "
                          "give one of them, or the same in both")
    return str(ours)


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
