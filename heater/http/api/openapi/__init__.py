"""The OpenAPI 3.1 document, ``GET /api/v1/openapi.json``.

Assembled from fragments, one YAML file per feature in this directory
(``templates.yaml``, ``raw.yaml``...), each with ``paths`` and
``components``; a feature documents its endpoints by adding its own file.
Schemas the code validates with are added from the code itself
(:mod:`heater.http.api.openapi.derived`).
Two fragments may document different operations of one path (the
lifecycle's DELETE beside the templates' GET), never the same operation
or component. The lifecycle fragment documents the images' lifecycle
endpoints too (:data:`FOR_IMAGES_TOO`).
``tests/test_openapi.py`` fails when a route is undocumented or a documented
path has no route.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

import heater
from heater.http.api.openapi import derived

bp = Blueprint("openapi", __name__)

COMPONENT_SECTIONS = ("schemas", "parameters", "responses", "securitySchemes")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# What the HTTP server in front of every route may answer on its own.
SERVER_RESPONSE = ("414", {"$ref": "#/components/responses/UriTooLong"})


class FragmentClash(RuntimeError):
    """Two fragments define the same operation or component: a bug in the fragments."""


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
        target = document["paths"].setdefault(path, {})
        for key, value in item.items():
            if key in target:
                raise FragmentClash(f"{source}: {key} of {path} is already documented")
            target[key] = value
    for section, items in (fragment.get("components") or {}).items():
        target = document["components"].setdefault(section, {})
        for name, value in items.items():
            if name in target:
                raise FragmentClash(f"{source}: component {section}/{name} already exists")
            target[name] = value


# Fragments whose template endpoints images have too, with the same rules
# (heater/repos/service.py): documented once, served for both kinds.
FOR_IMAGES_TOO = frozenset({"lifecycle.yaml"})


def for_images(fragment: dict[str, Any]) -> dict[str, Any]:
    """The paths of a templates ``fragment`` as the images' endpoints (its
    components are shared, not repeated)."""
    text = json.dumps(fragment.get("paths") or {})
    for template, image in (("/api/v1/templates/", "/api/v1/images/"),
                            ("Template", "Image"), ("template", "image")):
        text = text.replace(template, image)
    paths: dict[str, Any] = json.loads(text)
    return {"paths": paths}


@functools.cache
def document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    result = _base()
    files = sorted((f for f in resources.files(__name__).iterdir()
                    if f.name.endswith(".yaml")), key=lambda f: f.name)
    for fragment_file in files:
        fragment = yaml.load(fragment_file.read_bytes(), Loader=yaml.CSafeLoader)
        merge(result, fragment, fragment_file.name)
        if fragment_file.name in FOR_IMAGES_TOO:
            merge(result, for_images(fragment), f"{fragment_file.name} (images)")
    merge(result, derived.fragment(), "derived.py")
    for item in result["paths"].values():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                operation["responses"].setdefault(*SERVER_RESPONSE)
    return result


def _resolved(node: dict[str, Any]) -> dict[str, Any]:
    """``node``, or what its ``$ref`` (within the document) points at."""
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    found: Any = document()
    for part in ref.removeprefix("#/").split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return _resolved(found)


@functools.cache
def query_parameters() -> dict[tuple[str, str], frozenset[str]]:
    """The query parameters each operation takes, by ``(path, method)``
    as documented (``/api/v1/templates/{namespace}/{name}``, ``get``): the
    one list every endpoint's parameters are checked against."""
    found: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in document()["paths"].items():
        shared = item.get("parameters") or []
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            parameters = (_resolved(p) for p in [*shared, *(operation.get("parameters") or [])])
            found[(path, method)] = frozenset(p["name"] for p in parameters
                                              if p.get("in") == "query")
    return found


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
