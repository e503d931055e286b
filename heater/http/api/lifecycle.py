"""REST endpoints that yank, deprecate and delete templates and images, and
undo each; the same rules for both kinds (:mod:`heater.repos.service`).

::

    POST   <R>/versions/<version>/yank  {"reason"}               writer
    DELETE <R>/versions/<version>/yank                           writer
    PUT    <R>/deprecation  {"reason", "replacement"}            writer
    DELETE <R>/deprecation                                       writer
    DELETE <R>  {"reason"} or ?reason=                           admin
    POST   <R>/undelete                                          admin
    GET    <R>/lifecycle    state and its history                reader

``<R>`` is ``/api/v1/templates/<ns>/<name>`` or ``/api/v1/images/<ns>/<name>``.
Undoing is the same resource with the other verb (DELETE the yank, DELETE
the deprecation); undeleting is a POST because the deleted repository
itself answers 410 to everything else.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from heater.http.context import caller, json_body, registry
from heater.names import RepoId
from heater.repos.service import Repositories
from heater.repos.store import Kind


def _body_field(field: str) -> Any:
    """The body's one field (the JSON body holds no other), or the query
    string's for bodiless verbs."""
    if request.content_length or request.mimetype == "application/json":
        return json_body({field}).get(field)
    return request.args.get(field)


def blueprint(kind: Kind, name: str, collection: str) -> Blueprint:
    """The lifecycle endpoints of the repositories of ``kind``, under
    ``/api/v1/<collection>/<ns>/<name>``."""
    bp = Blueprint(name, __name__, url_prefix=f"/api/v1/{collection}/<namespace>/<name>")

    def repositories() -> Repositories:
        return Repositories(registry(), kind)

    @bp.post("/versions/<version>/yank")
    def yank(namespace: str, name: str, version: str) -> Response:
        return jsonify(repositories().yank(caller(), RepoId(namespace, name), version,
                                           lambda: _body_field("reason")))

    @bp.delete("/versions/<version>/yank")
    def unyank(namespace: str, name: str, version: str) -> Response:
        return jsonify(repositories().unyank(caller(), RepoId(namespace, name), version))

    @bp.put("/deprecation")
    def deprecate(namespace: str, name: str) -> Response:
        return jsonify(repositories().deprecate(caller(), RepoId(namespace, name),
                                                lambda: json_body({"reason", "replacement"})))

    @bp.delete("/deprecation")
    def undeprecate(namespace: str, name: str) -> Response:
        return jsonify(repositories().undeprecate(caller(), RepoId(namespace, name)))

    @bp.delete("")
    def delete(namespace: str, name: str) -> Response:
        return jsonify(repositories().delete(caller(), RepoId(namespace, name),
                                             lambda: _body_field("reason")))

    @bp.post("/undelete")
    def undelete(namespace: str, name: str) -> Response:
        return jsonify(repositories().undelete(caller(), RepoId(namespace, name)))

    @bp.get("/lifecycle")
    def state(namespace: str, name: str) -> Response:
        return jsonify(repositories().lifecycle(caller(), RepoId(namespace, name)))

    return bp


templates_bp = blueprint(Kind.TEMPLATE, "lifecycle_api", "templates")
images_bp = blueprint(Kind.IMAGE, "image_lifecycle_api", "images")
