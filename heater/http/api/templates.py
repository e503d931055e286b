"""REST endpoints for template repositories (``/api/v1/templates``)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request, url_for

from heater.auth.policy import require_token
from heater.catalog.detail import check_not_deleted, template_detail
from heater.catalog.index import DEFAULT_LIMIT
from heater.catalog.listing import parse_limit
from heater.errors import InvalidInput
from heater.git.objects import head_commit
from heater.http.api.listing import listing
from heater.http.context import (
    base_url,
    caller,
    clone_url,
    json_body,
    open_git,
    open_readable,
    registry,
    visible,
)
from heater.names import RepoId
from heater.repos.commits import history
from heater.repos.lifecycle import read_state
from heater.repos.lifecycle_actions import VersionNotFound, check_text
from heater.repos.resolve import resolve
from heater.repos.store import Kind, RepoInfo, parse_visibility
from heater.repos.versions import Version, list_versions, lookup_version
from heater.templates.files import parse_files
from heater.templates.release import create_version

PREFIX = "/api/v1/templates"
bp = Blueprint("templates_api", __name__, url_prefix=PREFIX)


def repo_summary(info: RepoInfo) -> dict[str, object]:
    return {
        "namespace": info.repo.namespace,
        "name": info.repo.name,
        "kind": info.kind.value,
        "visibility": info.visibility.value,
        "created_at": info.created_at,
        "clone_url": clone_url(info.repo),
    }


def _string_field(body: dict[str, object], field: str, *, required: bool) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        qualifier = "is required and " if required else ""
        raise InvalidInput(f"{field!r} {qualifier}must be a string", code="missing_field")
    return value


@bp.get("")
def list_templates() -> Response:
    return listing(Kind.TEMPLATE, "templates", PREFIX)


@bp.post("")
def create_template() -> tuple[Response, int, dict[str, str]]:
    # Anonymous callers learn that they need a token before anything about
    # their body; the namespace (for the role) is only known from it.
    who = require_token(caller())
    body = json_body({"namespace", "name", "visibility", "files", "message"})
    namespace = _string_field(body, "namespace", required=True)
    name = _string_field(body, "name", required=True)
    assert namespace is not None and name is not None
    repo = RepoId(namespace, name)
    visibility = parse_visibility(body.get("visibility", "public"))
    files = parse_files(body["files"]) if body.get("files") is not None else None
    message = check_text(body.get("message") or "Initial commit", "message")
    info = registry().create_repository(who, repo, Kind.TEMPLATE, visibility,
                                        files, message)
    location = url_for("templates_api.create_template") + f"/{repo.namespace}/{repo.name}"
    return jsonify(repo_summary(info)), 201, {"Location": location}


@bp.get("/<namespace>/<name>")
def show_template(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    with open_readable(repo, Kind.TEMPLATE) as (info, git):
        detail = template_detail(git, info, request.args.get("ref"), visible)
    commit = detail["ref"]["commit"]
    detail["clone_url"] = clone_url(repo)
    detail["raw_url"] = (f"{base_url()}/{namespace}/{name}/raw/{commit}/{detail['entrypoint']}"
                         if commit else None)
    return jsonify(detail)


@bp.get("/<namespace>/<name>/versions")
def list_template_versions(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    with open_readable(repo, Kind.TEMPLATE) as (_info, git):
        check_not_deleted(repo, read_state(git))
        versions = list_versions(git)
    return jsonify({"versions": [v.as_json() for v in versions]})


@bp.get("/<namespace>/<name>/versions/<version>")
def show_template_version(namespace: str, name: str, version: str) -> Response:
    repo = RepoId(namespace, name)
    wanted = Version.parse(version)  # 400 before anything is read
    with open_readable(repo, Kind.TEMPLATE) as (_info, git):
        check_not_deleted(repo, read_state(git))
        tagged = lookup_version(git, wanted)
    if tagged is None:
        raise VersionNotFound(version)
    return jsonify(tagged.as_json())


@bp.post("/<namespace>/<name>/versions")
def create_template_version(namespace: str, name: str) -> tuple[Response, int, dict[str, str]]:
    repo = RepoId(namespace, name)
    who = caller()
    registry().writable(who, repo, Kind.TEMPLATE)
    assert who is not None  # writable() refuses anonymous callers
    body = json_body({"version", "ref", "message"})
    version = _string_field(body, "version", required=True)
    ref = _string_field(body, "ref", required=True)
    assert version is not None and ref is not None
    message = _string_field(body, "message", required=False)
    with open_git(repo) as git:
        check_not_deleted(repo, read_state(git))
        created = create_version(git, version, ref, message, who.name)
    registry().changed(repo, who)
    location = f"{PREFIX}/{namespace}/{name}/versions/{created.version}"
    return jsonify(created.as_json()), 201, {"Location": location}


@bp.get("/<namespace>/<name>/commits")
def list_template_commits(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    ref = request.args.get("ref")
    limit_text = request.args.get("limit")
    limit = parse_limit(limit_text) if limit_text is not None else DEFAULT_LIMIT
    marker = request.args.get("marker")
    with open_readable(repo, Kind.TEMPLATE) as (_info, git):
        check_not_deleted(repo, read_state(git))
        start = resolve(git, ref).commit if ref is not None else head_commit(git)
        if start is None:
            return jsonify({"commits": [], "next": None})
        page = history(git, start, limit, marker or None)
    next_url = None
    if page.next_marker is not None:
        args = request.args.to_dict(flat=True)
        args["marker"] = page.next_marker
        next_url = f"{request.base_url}?{urlencode(args)}"
    return jsonify({"commits": page.commits, "next": next_url})
