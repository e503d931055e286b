"""A template's parameters as JSON Schema, and values checked against them:
``GET|POST /api/v1/templates/<ns>/<name>/schema|validate?ref=``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from heater.http.api.templates import templates
from heater.http.context import caller, json_body, repo_id
from heater.http.raw import cache_control
from heater.templates.paramcheck import BODY_FIELDS
from heater.templates.service import ParametersAtRef

bp = Blueprint("parameters_api", __name__, url_prefix="/api/v1/templates")


def _headers(found: ParametersAtRef, response: Response) -> Response:
    response.headers["X-Heater-Commit"] = found.resolved.sha
    if found.info.private:
        response.headers["Vary"] = "Authorization, X-Auth-Token"
    return response


@bp.get("/<namespace>/<name>/schema")
def parameters_schema(namespace: str, name: str) -> Response:
    found = templates().parameters(caller(), repo_id(namespace, name), request.args.get("ref"))
    response = jsonify(found.schema)
    response.mimetype = "application/schema+json"
    # The schema is a function of the commit alone: cached as raw files are.
    response.headers["Cache-Control"] = cache_control(found.resolved, found.info.private)
    response.set_etag(f"schema-{found.resolved.sha}")
    response.make_conditional(request)
    return _headers(found, response)


@bp.post("/<namespace>/<name>/validate")
def validate_parameters(namespace: str, name: str) -> Response:
    found = templates().parameters(caller(), repo_id(namespace, name), request.args.get("ref"),
                                   lambda: json_body(BODY_FIELDS))
    return _headers(found, jsonify({
        "valid": not found.problems,
        "commit": found.resolved.sha,
        "entrypoint": found.entrypoint,
        "errors": [problem.as_json() for problem in found.problems],
    }))
