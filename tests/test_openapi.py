"""The OpenAPI document is served and matches the routes, both ways."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from heater.smarthttp import ROUTES
from heater.web import create_app
from heater.web.openapi import FragmentClash, document, merge
from tests.conftest import Server

METHODS = {"get", "post", "put", "patch", "delete"}


def flask_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every Flask route."""
    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


def git_routes() -> set[tuple[str, str]]:
    return {(f"/{{namespace}}/{{name}}.git{r.suffix}", r.method.lower()) for r in ROUTES}


def documented() -> set[tuple[str, str]]:
    return {(path, method) for path, item in document()["paths"].items()
            for method in item if method in METHODS}


def test_every_route_is_documented_and_every_documented_path_exists(tmp_path: Path) -> None:
    routes = flask_routes(tmp_path) | git_routes()
    assert routes - documented() == set(), "undocumented routes"
    assert documented() - routes == set(), "documented paths without a route"


def test_valid_openapi_3_1() -> None:
    validate(document())


def test_references_resolve() -> None:
    doc = document()
    text = repr(doc)
    for ref in set(re.findall(r"#/components/([A-Za-z]+)/([A-Za-z_]+)", text)):
        section, name = ref
        assert name in doc["components"][section], ref
    operation_ids = [op["operationId"] for item in doc["paths"].values()
                     for method, op in item.items() if method in METHODS]
    assert len(operation_ids) == len(set(operation_ids))


def test_fragments_may_not_clash() -> None:
    doc = {"paths": {"/a": {}}, "components": {"schemas": {"X": {}}}}
    with pytest.raises(FragmentClash):
        merge(doc, {"paths": {"/a": {}}}, "dup.yaml")
    with pytest.raises(FragmentClash):
        merge(doc, {"components": {"schemas": {"X": {}}}}, "dup.yaml")


def test_served(server: Server) -> None:
    response = requests.get(f"{server.url}/api/v1/openapi.json", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"] == "3.1.0"
    assert "/api/v1/templates/{namespace}/{name}/versions" in body["paths"]
