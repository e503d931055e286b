"""REST endpoints for image repositories (``/api/v1/images``): listing
(from the catalog index, as templates), the current manifest, settings,
versions, builds, diff, and queueing a build."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for

from heater.auth.policy import require_role
from heater.auth.tokens import Role
from heater.catalog.index import DEFAULT_LIMIT
from heater.catalog.listing import parse_limit
from heater.http.api.builds import build_json, images
from heater.http.api.listing import listing, next_page_url
from heater.http.context import caller, clone_url, format_arg, json_body, required_args
from heater.images import lookup
from heater.images.diff import diff_manifests
from heater.images.service import ImageDetail
from heater.names import RepoId
from heater.repos.service import SETTINGS
from heater.repos.store import Kind, parse_visibility

PREFIX = "/api/v1/images"
bp = Blueprint("images_api", __name__, url_prefix=PREFIX)


@bp.post("/<namespace>/<name>/builds")
def create_build(namespace: str, name: str) -> tuple[Response, int, dict[str, str]]:
    repo = RepoId(namespace, name)
    who = caller()
    # Credentials before the body: anonymous is 401 whatever it sent.
    require_role(who, namespace, Role.WRITER)
    asked = request.args.get("visibility")
    visibility = parse_visibility(asked) if asked is not None else None
    build = images().create_build(who, repo, json_body(), visibility)
    location = url_for("builds_api.get_build", build_id=build.id)
    # The body a GET of the new build gives.
    return jsonify(build_json(build)), 201, {"Location": location}


@bp.get("/<namespace>/<name>")
def show(namespace: str, name: str) -> Response:
    return _detail_json(images().show(caller(), RepoId(namespace, name)))


@bp.patch("/<namespace>/<name>")
def update(namespace: str, name: str) -> Response:
    return _detail_json(images().update(caller(), RepoId(namespace, name),
                                        lambda: json_body(SETTINGS)))


def _detail_json(detail: ImageDetail) -> Response:
    shown = detail.as_json()
    shown["clone_url"] = clone_url(detail.info.repo)
    return jsonify(shown)


@bp.get("/<namespace>/<name>/versions")
def list_versions(namespace: str, name: str) -> Response:
    return jsonify({"versions": images().versions(caller(), RepoId(namespace, name))})


@bp.get("/<namespace>/<name>/versions/<version>")
def show_version(namespace: str, name: str, version: str) -> Response:
    return jsonify(images().version(caller(), RepoId(namespace, name), version))


@bp.get("/<namespace>/<name>/builds")
def list_builds(namespace: str, name: str) -> Response:
    limit_text = request.args.get("limit")
    limit = parse_limit(limit_text) if limit_text is not None else DEFAULT_LIMIT
    page = images().builds_of(caller(), RepoId(namespace, name), limit,
                              request.args.get("marker") or None)
    return jsonify({"builds": page.builds, "next": next_page_url(page.next_marker)})


@bp.get("")
def list_all() -> Response:
    return listing(Kind.IMAGE, "images", PREFIX)


# Only JSON: the template diff's `unified` is a text diff of files, and an
# image's changes are packages, not lines.
DIFF_FORMATS = ("json",)


@bp.get("/<namespace>/<name>/diff")
def diff(namespace: str, name: str) -> Response:
    refs = required_args(("from", "to"), "a version, branch, 'latest', commit SHA or build id")
    format_arg(DIFF_FORMATS)
    old, new = images().manifests(caller(), RepoId(namespace, name), refs["from"], refs["to"])
    return jsonify({"from": _side(old), "to": _side(new),
                    **diff_manifests(old.manifest, new.manifest)})


def _side(at: lookup.ManifestAt) -> dict[str, object]:
    """One side of an image diff: the resolved ref, with its build."""
    return {**at.resolved, "build_id": at.build_id}
