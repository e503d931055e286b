"""``heater image ...``: images on a server, over the REST API through
:mod:`heater.client` (builds stream both ways, with a progress bar on a
terminal): list, show, builds, push, pull (by build or by
``ns/name[:version]``), publish (to the server's Glance), diff, delete."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from heater.cli.remote import (
    MAX_PAGE,
    add_listing,
    all_pages,
    emit,
    fields,
    listing,
    remote_options,
    repo_name,
    repo_path,
    run_remote,
    short,
    table,
)
from heater.client.http import Client, ClientError, describe_error
from heater.client.progress import Progress
from heater.errors import InvalidInput
from heater.names import RepoId, check_uuid
from heater.repos.versions import Version

API = "/api/v1/images"


def add_commands(commands: Any) -> None:
    """Add ``image`` and its subcommands to the ``heater`` parser."""
    image = commands.add_parser("image", help="find, upload, download and delete image builds "
                                "on a server")
    sub = image.add_subparsers(dest="image_command", required=True)
    remote = remote_options()

    add_listing(sub, "images", "name, os, package names...", "an os value", remote)

    show = sub.add_parser("show", parents=[remote], help="an image's current build and versions")
    show.add_argument("image", metavar="NS/NAME")

    builds = sub.add_parser("builds", parents=[remote],
                            help="an image's builds, queued ones included")
    builds.add_argument("image", metavar="NS/NAME")
    builds.add_argument("--limit", type=int, help="at most this many (default: all)")

    push = sub.add_parser("push", parents=[remote], help="queue a build and upload its file")
    push.add_argument("image", metavar="NS/NAME")
    push.add_argument("file", type=Path, metavar="FILE")
    push.add_argument("--manifest", type=Path, required=True, metavar="M.json")
    push.add_argument("--version", help="release version to tag the build with; must agree "
                      "with the manifest's own version, if it has one")

    pull = sub.add_parser("pull", parents=[remote], help="download a build, checking sha256")
    pull.add_argument("build", metavar="NS/NAME[:VERSION]|UUID",
                      help="an image (its latest build, or that version's) or a build's UUID")
    pull.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")

    publish = sub.add_parser("publish", parents=[remote],
                             help="publish a build to the server's Glance, under its own id")
    publish.add_argument("build", metavar="NS/NAME[:VERSION]|UUID",
                         help="an image (its latest build, or that version's) or a build's UUID")

    diff = sub.add_parser("diff", parents=[remote],
                          help="package and os changes between two builds of an image")
    diff.add_argument("image", metavar="NS/NAME")
    diff.add_argument("old", metavar="FROM", help="a version, latest, branch, commit or build")
    diff.add_argument("new", metavar="TO")

    delete = sub.add_parser("delete", parents=[remote],
                            help="delete a build (its bytes; by UUID) or a whole image")
    delete.add_argument("target", metavar="UUID|NS/NAME")
    delete.add_argument("--reason", help="why (kept in the image's history)")


def run(args: argparse.Namespace) -> int:
    command = {"list": list_images, "search": list_images, "show": show, "builds": builds,
               "push": push_command, "pull": pull_command, "diff": diff,
               "publish": publish, "delete": delete}[args.image_command]
    return run_remote(args, lambda api: command(api, args))


def _image(text: str) -> str:
    return f"{API}/{repo_path(RepoId.parse(text))}"


def _build_id(entry: dict[str, Any] | None) -> str | None:
    """The build an image detail, version or build entry names."""
    found = entry.get("build_id") if entry else None
    return str(found) if found else None


def list_images(api: Client, args: argparse.Namespace) -> int:
    found = listing(api, args, API, "images")
    rows = [[repo_name(i), i.get("latest_version"), _os(i.get("os")), i.get("disk_format"),
             _size(i.get("size")), i.get("package_count")] for i in found]
    return emit(args, {"images": found}, lambda: table(
        ["image", "latest", "os", "format", "size", "packages"], rows) or "no images")


def _os(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    return " ".join(str(value[k]) for k in ("distro", "version") if value.get(k)) or None


def _size(value: object) -> str | None:
    if not isinstance(value, int):
        return None
    amount, units = float(value), ["B", "KiB", "MiB", "GiB"]
    while amount >= 1024 and len(units) > 1:
        amount /= 1024
        units.pop(0)
    return f"{value} B" if units[0] == "B" else f"{amount:.1f} {units[0]}"


def show(api: Client, args: argparse.Namespace) -> int:
    detail = api.json("GET", _image(args.image))
    manifest = detail.get("manifest") or {}
    versions = detail.get("versions") or []
    ref = detail.get("ref") or {}

    def readable() -> str:
        head = fields([
            ("image", repo_name(detail)),
            ("visibility", detail.get("visibility")),
            ("version", ref.get("version") or detail.get("latest_version")),
            ("build", _build_id(detail)),
            ("commit", short(ref.get("commit"))),
            ("os", _os(manifest.get("os"))),
            ("format", manifest.get("disk_format")),
            ("size", _size(manifest.get("size"))),
            ("packages", len(manifest.get("packages") or [])),
            ("clone", detail.get("clone_url")),
        ])
        rows = [[v.get("version"), _build_id(v), v.get("status"),
                 str(v.get("created_at") or "")[:19]] for v in versions]
        return "\n\n".join(part for part in (head, table(
            ["version", "build", "status", "created"], rows)) if part)
    return emit(args, detail, readable)


def builds(api: Client, args: argparse.Namespace) -> int:
    limit = args.limit
    query = {"limit": str(min(limit, MAX_PAGE)) if limit else None}
    found = all_pages(api, f"{_image(args.image)}/builds", "builds", query, limit)
    rows = [[_build_id(b), b.get("status"), b.get("version"), _size(b.get("size")),
             str(b.get("created_at") or "")[:19]] for b in found]
    return emit(args, {"builds": found}, lambda: table(
        ["build", "status", "version", "size", "created"], rows) or "no builds")


def push_command(api: Client, args: argparse.Namespace) -> int:
    return push(api, RepoId.parse(args.image), args.file, args.manifest, args.version)


def pull_command(api: Client, args: argparse.Namespace) -> int:
    return pull(api, resolve_build(api, args.build), args.output)


def resolve_build(api: Client, target: str) -> str:
    """The build ``target`` names: a UUID as is; ``ns/name`` the image's
    current build, ``ns/name:version`` that version's."""
    if "/" not in target:
        return check_uuid(target)
    name, _, version = target.partition(":")
    path = _image(name)
    if not version:
        build = _build_id(api.json("GET", path))
        if build is None:
            raise ClientError(f"{name} has no build yet")
        return build
    wanted = Version.try_parse(version)
    if wanted is None:
        raise InvalidInput(f"{version!r} is not a version (MAJOR.MINOR.PATCH)")
    for entry in api.json("GET", f"{path}/versions").get("versions") or []:
        if Version.try_parse(str(entry.get("version"))) == wanted:
            build = _build_id(entry)
            if build is None:
                raise ClientError(f"{name} {version} names no build")
            return build
    raise ClientError(f"{name} has no version {version}")


def diff(api: Client, args: argparse.Namespace) -> int:
    result = api.json("GET", f"{_image(args.image)}/diff",
                      query={"from": args.old, "to": args.new})
    return emit(args, result, lambda: _diff_summary(result, args))


def _diff_summary(result: dict[str, Any], args: argparse.Namespace) -> str:
    packages = result.get("packages") or {}
    rows: list[list[object]] = []
    for change in ("added", "removed", "upgraded", "downgraded"):
        for entry in packages.get(change) or []:
            was = entry.get("from") if "from" in entry else (
                entry.get("version") if change == "removed" else None)
            now = entry.get("to") if "to" in entry else (
                entry.get("version") if change == "added" else None)
            rows.append([change, entry.get("name"), was, now])
    os_changes = result.get("os") or {}
    lines = [f"{args.image}: {args.old} -> {args.new}"]
    for key, value in (os_changes.get("changed") or {}).items():
        lines.append(f"os {key}: {value.get('from')} -> {value.get('to')}"
                     if isinstance(value, dict) else f"os {key} changed")
    lines.append(table(["change", "package", "from", "to"], rows) or "no package changes")
    return "\n".join(lines)


def publish(api: Client, args: argparse.Namespace) -> int:
    """Ask the server to publish the build to its Glance; prints Glance's
    URL of the image (whose id is the build's)."""
    build = resolve_build(api, args.build)
    answer = api.json("POST", f"/api/v1/builds/{build}/publish")
    return emit(args, answer, lambda: str(answer["published"]["glance_url"]))


def delete(api: Client, args: argparse.Namespace) -> int:
    if "/" not in args.target:
        build = check_uuid(args.target)
        answer = api.json("DELETE", f"/api/v1/builds/{build}")
        return emit(args, answer, lambda: f"build {build} deleted (its record stays)")
    if not args.reason:
        raise ClientError("say why with --reason: the deletion is kept in the image's history")
    answer = api.json("DELETE", _image(args.target), {"reason": args.reason})
    return emit(args, answer, lambda: f"{args.target} deleted (a tombstone keeps its history)")


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
        created = client.json("POST", f"{API}/{repo_path(image)}/builds", manifest)
        build_id = str(created["build_id"])
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
