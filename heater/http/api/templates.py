"""REST endpoints for template repositories (``/api/v1/templates``)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, jsonify, request, url_for

from heater.catalog.index import DEFAULT_LIMIT
from heater.catalog.listing import parse_limit
from heater.clock import utc_iso
from heater.http.api.listing import listing, next_page_url
from heater.http.context import caller, clone_url, json_body, registry
from heater.http.publicurl import base_url
from heater.names import RepoId
from heater.repos.service import SETTINGS
from heater.repos.store import Kind
from heater.templates.bundle import dumps
from heater.templates.service import Templates

PREFIX = "/api/v1/templates"
bp = Blueprint("templates_api", __name__, url_prefix=PREFIX)


def templates() -> Templates:
    return Templates(registry())


@bp.get("")
def list_templates() -> Response:
    return listing(Kind.TEMPLATE, "templates", PREFIX)


@bp.post("")
def create_template() -> tuple[Response, int, dict[str, str]]:
    detail = _linked(templates().create(caller(), lambda: json_body(
        {"namespace", "name", "visibility", "files", "message"})))
    location = url_for("templates_api.show_template", namespace=detail["namespace"],
                       name=detail["name"])
    return jsonify(detail), 201, {"Location": location}


@bp.get("/<namespace>/<name>")
def show_template(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    return jsonify(_linked(templates().show(caller(), repo, request.args.get("ref"))))


@bp.patch("/<namespace>/<name>")
def update_template(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    return jsonify(_linked(templates().update(caller(), repo, lambda: json_body(SETTINGS))))


def _linked(detail: dict[str, Any]) -> dict[str, Any]:
    """A template's detail with the links of this request's host filled in."""
    repo = RepoId(detail["namespace"], detail["name"])
    detail["clone_url"] = clone_url(repo)
    if detail["ref"] is not None:
        detail["raw_url"] = (f"{base_url()}/{repo.namespace}/{repo.name}/raw/"
                             f"{detail['ref']['commit']}/{detail['entrypoint']}")
    return detail


@bp.get("/<namespace>/<name>/versions")
def list_template_versions(namespace: str, name: str) -> Response:
    versions = templates().versions(caller(), RepoId(namespace, name))
    return jsonify({"versions": [v.as_json() for v in versions]})


@bp.get("/<namespace>/<name>/versions/<version>")
def show_template_version(namespace: str, name: str, version: str) -> Response:
    return jsonify(templates().version(caller(), RepoId(namespace, name), version).as_json())


@bp.post("/<namespace>/<name>/versions")
def create_template_version(namespace: str, name: str) -> tuple[Response, int, dict[str, str]]:
    created = templates().tag(caller(), RepoId(namespace, name),
                              lambda: json_body({"version", "ref", "message"}))
    location = f"{PREFIX}/{namespace}/{name}/versions/{created.version}"
    return jsonify(created.as_json()), 201, {"Location": location}


@bp.get("/<namespace>/<name>/commits")
def list_template_commits(namespace: str, name: str) -> Response:
    limit_text = request.args.get("limit")
    limit = parse_limit(limit_text) if limit_text is not None else DEFAULT_LIMIT
    page = templates().commits(caller(), RepoId(namespace, name), request.args.get("ref"),
                               limit, request.args.get("marker") or None)
    return jsonify({"commits": page.commits, "next": next_page_url(page.next_marker)})


@bp.get("/<namespace>/<name>/bundle")
def template_bundle(namespace: str, name: str) -> Response:
    environments = request.args.getlist("environment")
    bundle = templates().bundle(caller(), RepoId(namespace, name), request.args.get("ref"),
                                environments, base_url())
    # Written as heatclient writes it, so the body can be posted to Heat as is.
    pinned = urlencode([("ref", bundle.commit), *(("environment", e) for e in environments)])
    return Response(dumps(bundle.body), mimetype="application/json",
                    headers={"X-Heater-Commit": bundle.commit,
                             "Content-Location": f"{request.path}?{pinned}"})


@bp.post("/<namespace>/<name>/raw-url")
def sign_raw_url(namespace: str, name: str) -> Response:
    signed = templates().sign_raw_url(caller(), RepoId(namespace, name),
                                      lambda: json_body({"ref", "path", "expires_in"}),
                                      time.time())
    resolved = signed.resolved
    base = f"{base_url()}/{namespace}/{name}/signed/{signed.signature}/raw/{resolved.sha}/"
    return jsonify({
        "url": base + quote(signed.path),
        "base_url": base,
        "path": signed.path,
        "ref": resolved.as_json(),
        "expires_at": utc_iso(int(signed.expires)),
    })
