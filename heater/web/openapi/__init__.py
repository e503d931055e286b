"""The OpenAPI 3.1 document, ``GET /api/v1/openapi.json``.

Assembled from fragments, one YAML file per feature in this directory
(``templates.yaml``, ``raw.yaml``...), each with ``paths`` and
``components``; a feature documents its endpoints by adding its own file.
Two fragments may not define the same path or component.
``tests/test_openapi.py`` fails when a route is undocumented or a documented
path has no route.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

import heater
from heater.server import REQUEST_LINE_LIMIT

bp = Blueprint("openapi", __name__)

COMPONENT_SECTIONS = ("schemas", "parameters", "responses", "securitySchemes")
# What the HTTP server (gunicorn) answers by itself, before Heater sees the
# request, to any operation alike: an HTML page, not the JSON error shape.
SERVER_RESPONSES = {
    "414": {"description": f"URI Too Long: the request line is over {REQUEST_LINE_LIMIT} "
                           "bytes (refused by the HTTP server, not in the JSON error shape)"},
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class FragmentClash(RuntimeError):
    """Two fragments define the same path or component: a bug in the fragments."""


def _base() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Heater",
            "version": heater.__version__,
            "description": "A registry for OpenStack Heat templates and VM image manifests, "
                           "stored as git repositories. Errors are "
                           '{"error": {"code", "message"}}.',
        },
        "paths": {},
        "components": {section: {} for section in COMPONENT_SECTIONS},
        "security": [{}, {"basic": []}, {"bearer": []}],
    }


def merge(document: dict[str, Any], fragment: dict[str, Any], source: str) -> None:
    """Add ``fragment``'s paths and components to ``document``."""
    for path, item in (fragment.get("paths") or {}).items():
        if path in document["paths"]:
            raise FragmentClash(f"{source}: path {path} is already documented")
        document["paths"][path] = item
    for section, items in (fragment.get("components") or {}).items():
        target = document["components"].setdefault(section, {})
        for name, value in items.items():
            if name in target:
                raise FragmentClash(f"{source}: component {section}/{name} already exists")
            target[name] = value


@functools.cache
def document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    result = _base()
    files = sorted((f for f in resources.files(__name__).iterdir()
                    if f.name.endswith(".yaml")), key=lambda f: f.name)
    for fragment_file in files:
        fragment = yaml.load(fragment_file.read_bytes(), Loader=yaml.CSafeLoader)
        merge(result, fragment, fragment_file.name)
    _add_server_responses(result)
    return result


def _add_server_responses(document: dict[str, Any]) -> None:
    """List :data:`SERVER_RESPONSES` on every operation (no fragment needs to)."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                for status, response in SERVER_RESPONSES.items():
                    operation["responses"].setdefault(status, response)


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
