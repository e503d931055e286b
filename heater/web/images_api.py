"""REST endpoints for image repositories (``/api/v1/images``): listing
(from the catalog index, as templates), the current manifest, versions,
diff, and queueing a build."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for

from heater.auth import Role
from heater.errors import InvalidInput
from heater.images import manifests
from heater.images.diff import diff_manifests
from heater.names import RepoId
from heater.registry import require_role
from heater.repositories import Kind, parse_visibility
from heater.web.builds_api import images
from heater.web.context import caller, json_body, registry
from heater.web.listing import listing
from heater.web.templates_api import repo_summary

PREFIX = "/api/v1/images"
bp = Blueprint("images_api", __name__, url_prefix=PREFIX)


@bp.post("/<namespace>/<name>/builds")
def create_build(namespace: str, name: str) -> tuple[Response, int, dict[str, str]]:
    repo = RepoId(namespace, name)
    who = caller()
    # Credentials before the body: anonymous is 401 whatever it sent.
    require_role(who, namespace, Role.WRITER)
    visibility = parse_visibility(request.args.get("visibility", "public"))
    record = images().create_build(who, repo, json_body(), visibility)
    location = url_for("builds_api.get_build", build_id=record.id)
    return jsonify({
        "id": record.id,
        "status": record.status.value,
        "image": str(repo),
        "upload_url": url_for("builds_api.upload", build_id=record.id, _external=True),
    }), 201, {"Location": location}


@bp.get("/<namespace>/<name>")
def show(namespace: str, name: str) -> Response:
    info = registry().readable(caller(), RepoId(namespace, name), Kind.IMAGE)
    git = registry().repos.open(info.repo)
    try:
        now = manifests.current(git)
        versions = manifests.versions(git)
    finally:
        git.free()
    return jsonify({
        **repo_summary(info),
        "commit": now.commit if now else None,
        "version": now.version if now else None,
        "manifest": now.manifest if now else None,
        "versions": versions,
    })


@bp.get("/<namespace>/<name>/versions")
def list_versions(namespace: str, name: str) -> Response:
    info = registry().readable(caller(), RepoId(namespace, name), Kind.IMAGE)
    git = registry().repos.open(info.repo)
    try:
        return jsonify({"versions": manifests.versions(git)})
    finally:
        git.free()


@bp.get("")
def list_all() -> Response:
    return listing(Kind.IMAGE, "images", PREFIX)


@bp.get("/<namespace>/<name>/diff")
def diff(namespace: str, name: str) -> Response:
    info = registry().readable(caller(), RepoId(namespace, name), Kind.IMAGE)
    source = request.args.get("from")
    if not source:
        raise InvalidInput("give the older build as ?from=<version, ref or SHA>",
                           code="missing_parameter")
    git = registry().repos.open(info.repo)
    try:
        old = manifests.manifest_at(git, source)
        new = manifests.manifest_at(git, request.args.get("to") or "main")
    finally:
        git.free()
    return jsonify({"from": _side(old), "to": _side(new),
                    **diff_manifests(old.manifest, new.manifest)})


def _side(at: manifests.ManifestAt) -> dict[str, object]:
    return {"ref": at.ref, "commit": at.commit, "version": at.version,
            "image_id": at.manifest.get("image_id")}
