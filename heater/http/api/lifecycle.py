"""REST endpoints that yank, deprecate and delete templates, and undo each.

::

    POST   /api/v1/templates/<ns>/<name>/versions/<version>/yank  {"reason"}   writer
    DELETE /api/v1/templates/<ns>/<name>/versions/<version>/yank               writer
    PUT    /api/v1/templates/<ns>/<name>/deprecation  {"message", "replacement"} writer
    DELETE /api/v1/templates/<ns>/<name>/deprecation                           writer
    DELETE /api/v1/templates/<ns>/<name>  {"reason"} or ?reason=               admin
    POST   /api/v1/templates/<ns>/<name>/undelete                              admin
    GET    /api/v1/templates/<ns>/<name>/lifecycle    state and its history     reader

Undoing is the same resource with the other verb (DELETE the yank, DELETE
the deprecation); undeleting is a POST because the deleted repository
itself answers 410 to everything else.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from heater.http.api.templates import templates
from heater.http.context import caller, json_body
from heater.names import RepoId

bp = Blueprint("lifecycle_api", __name__, url_prefix="/api/v1/templates/<namespace>/<name>")


def _body_field(field: str) -> Any:
    """The body's one field (the JSON body holds no other), or the query
    string's for bodiless verbs."""
    if request.content_length or request.mimetype == "application/json":
        return json_body({field}).get(field)
    return request.args.get(field)


@bp.post("/versions/<version>/yank")
def yank(namespace: str, name: str, version: str) -> Response:
    return jsonify(templates().yank(caller(), RepoId(namespace, name), version,
                                    lambda: _body_field("reason")))


@bp.delete("/versions/<version>/yank")
def unyank(namespace: str, name: str, version: str) -> Response:
    return jsonify(templates().unyank(caller(), RepoId(namespace, name), version))


@bp.put("/deprecation")
def deprecate(namespace: str, name: str) -> Response:
    return jsonify(templates().deprecate(caller(), RepoId(namespace, name),
                                         lambda: json_body({"message", "replacement"})))


@bp.delete("/deprecation")
def undeprecate(namespace: str, name: str) -> Response:
    return jsonify(templates().undeprecate(caller(), RepoId(namespace, name)))


@bp.delete("")
def delete(namespace: str, name: str) -> Response:
    return jsonify(templates().delete(caller(), RepoId(namespace, name),
                                      lambda: _body_field("reason")))


@bp.post("/undelete")
def undelete(namespace: str, name: str) -> Response:
    return jsonify(templates().undelete(caller(), RepoId(namespace, name)))


@bp.get("/lifecycle")
def state(namespace: str, name: str) -> Response:
    return jsonify(templates().lifecycle(caller(), RepoId(namespace, name)))
