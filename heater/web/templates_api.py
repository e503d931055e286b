"""REST endpoints for template repositories (``/api/v1/templates``)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from heater.errors import InvalidInput
from heater.filecommit import parse_files
from heater.lifecycle_actions import check_text
from heater.names import RepoId
from heater.repositories import Kind, RepoInfo, parse_visibility
from heater.web.context import caller, clone_url, json_body, registry

bp = Blueprint("templates_api", __name__, url_prefix="/api/v1/templates")


def repo_summary(info: RepoInfo) -> dict[str, object]:
    return {
        "namespace": info.repo.namespace,
        "name": info.repo.name,
        "kind": info.kind.value,
        "visibility": info.visibility.value,
        "created_at": info.created_at,
        "clone_url": clone_url(info.repo),
    }


@bp.post("")
def create_template() -> tuple[Response, int, dict[str, str]]:
    body = json_body()
    unknown = set(body) - {"namespace", "name", "visibility", "files", "message"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}",
                           code="unknown_field")
    for field in ("namespace", "name"):
        if not isinstance(body.get(field), str):
            raise InvalidInput(f"{field!r} is required and must be a string",
                               code="missing_field")
    repo = RepoId(body["namespace"], body["name"])
    visibility = parse_visibility(body.get("visibility", "public"))
    files = parse_files(body["files"]) if body.get("files") is not None else None
    message = check_text(body.get("message") or "Initial commit", "message")
    info = registry().create_repository(caller(), repo, Kind.TEMPLATE, visibility,
                                        files, message)
    location = url_for("templates_api.create_template") + f"/{repo.namespace}/{repo.name}"
    return jsonify(repo_summary(info)), 201, {"Location": location}
