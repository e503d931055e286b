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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pygit2
from flask import Blueprint, Response, jsonify, request

from heater.auth.tokens import Role
from heater.http.context import caller, json_body, registry, visible
from heater.names import RepoId
from heater.repos import lifecycle, lifecycle_actions
from heater.repos.store import Kind

bp = Blueprint("lifecycle_api", __name__, url_prefix="/api/v1/templates/<namespace>/<name>")


@contextmanager
def _writing(namespace: str, name: str, role: Role = Role.WRITER,
             allow_deleted: bool = False) -> Iterator[tuple[pygit2.Repository, str]]:
    """The repository (checked writable by the caller) and the caller's name;
    listeners hear of the change when the block succeeds. Handlers read
    their body inside the block, so that credentials are checked first."""
    repo = RepoId(namespace, name)
    who = caller()
    registry().writable(who, repo, Kind.TEMPLATE, role, allow_deleted=allow_deleted)
    git = registry().repos.open(repo)
    try:
        yield git, who.name if who else "anonymous"
    finally:
        git.free()
    registry().changed(repo, who)


def _state(git: pygit2.Repository) -> dict[str, Any]:
    state = lifecycle.read_state(git)
    state.deprecated = lifecycle.hide_replacement(state.deprecated, visible)
    return state.as_json()


def _body_field(field: str) -> Any:
    """The body's one field (the JSON body holds no other), or the query
    string's for bodiless verbs."""
    if request.content_length or request.mimetype == "application/json":
        return json_body({field}).get(field)
    return request.args.get(field)


@bp.post("/versions/<version>/yank")
def yank(namespace: str, name: str, version: str) -> Response:
    with _writing(namespace, name) as (git, who):
        lifecycle_actions.yank(git, version, _body_field("reason"), who)
        return jsonify(_state(git))


@bp.delete("/versions/<version>/yank")
def unyank(namespace: str, name: str, version: str) -> Response:
    return _simple(namespace, name, lambda git, who: lifecycle_actions.unyank(git, version, who))


@bp.put("/deprecation")
def deprecate(namespace: str, name: str) -> Response:
    with _writing(namespace, name) as (git, who):
        body = json_body({"message", "replacement"})
        info = registry().repos.info(RepoId(namespace, name))
        lifecycle_actions.deprecate(git, info, body.get("message"), body.get("replacement"),
                                    who, lambda other: registry().sees(caller(), other))
        return jsonify(_state(git))


@bp.delete("/deprecation")
def undeprecate(namespace: str, name: str) -> Response:
    return _simple(namespace, name, lifecycle_actions.undeprecate)


@bp.delete("")
def delete(namespace: str, name: str) -> Response:
    with _writing(namespace, name, Role.ADMIN) as (git, who):
        lifecycle_actions.delete(git, _body_field("reason"), who)
        return jsonify(_state(git))


@bp.post("/undelete")
def undelete(namespace: str, name: str) -> Response:
    return _simple(namespace, name, lifecycle_actions.undelete, Role.ADMIN, allow_deleted=True)


@bp.get("/lifecycle")
def state(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    registry().readable(caller(), repo, Kind.TEMPLATE, allow_deleted=True)
    git = registry().repos.open(repo)
    try:
        return jsonify({**_state(git), "history": lifecycle.history(git, visible)})
    finally:
        git.free()


def _simple(namespace: str, name: str, action: Callable[[pygit2.Repository, str], None],
            role: Role = Role.WRITER, allow_deleted: bool = False) -> Response:
    with _writing(namespace, name, role, allow_deleted) as (git, who):
        action(git, who)
        return jsonify(_state(git))
