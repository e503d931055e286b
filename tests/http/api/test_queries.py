"""Every API endpoint refuses a query parameter it does not take, naming
the closest one it does; what each takes is read from the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from heater.auth.tokens import Role
from heater.http.api.openapi import query_parameters
from heater.http.api.queries import documented_path
from tests.app_support import App
from tests.images_helpers import UBUNTU_MANIFEST


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App.start(tmp_path / "data")


def test_each_operation_takes_what_the_document_lists() -> None:
    taken = query_parameters()
    assert taken[("/api/v1/images/{namespace}/{name}/builds", "post")] == {"visibility"}
    assert taken[("/api/v1/templates/{namespace}/{name}/diff", "get")] == {"from", "to", "format"}
    assert {"q", "keyword", "namespace", "sort", "limit", "marker"} <= taken[
        ("/api/v1/templates", "get")]
    assert taken[("/api/v1/builds/{build_id}", "get")] == frozenset()


def test_every_api_route_refuses_an_unknown_parameter(app: App) -> None:
    routes = [(rule.rule, method) for rule in app.app.url_map.iter_rules()
              if rule.rule.startswith("/api/")
              for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    assert len(routes) > 20
    for rule, method in routes:
        path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "x", rule)
        answer = app.call(method, f"{path}?bogus=1")
        error = answer.get_json()["error"]
        assert (answer.status_code, error["code"], error["field"]) == (
            400, "unknown_field", "bogus"), (method, rule, error)
        assert (documented_path(rule), method.lower()) in query_parameters()


def test_a_misspelt_visibility_creates_nothing(app: App) -> None:
    token = app.token(Role.WRITER, "acme")
    answer = app.call("POST", "/api/v1/images/acme/jammy/builds?visbility=private", token,
                      json=UBUNTU_MANIFEST)
    assert (answer.status_code, answer.get_json()["error"]) == (400, {
        "code": "unknown_field", "field": "visbility", "did_you_mean": "visibility",
        "message": "unknown query parameter 'visbility' (did you mean 'visibility'?)"})
    assert app.call("GET", "/api/v1/images/acme/jammy", token).status_code == 404


@pytest.mark.parametrize(("query", "code", "field", "did_you_mean"), [
    ("keywords=", "unknown_field", "keywords", "keyword"),
    ("keywords=web", "unknown_field", "keywords", "keyword"),
    ("keyword=", "invalid_value", "keyword", None),
    ("sort=stars", "invalid_value", "sort", None),
])
def test_listing_parameters_are_never_ignored(app: App, query: str, code: str, field: str,
                                               did_you_mean: str | None) -> None:
    app.template(app.token(Role.WRITER, "acme"), "acme/web")
    for listing in ("templates", "images"):
        answer = app.call("GET", f"/api/v1/{listing}?{query}")
        error = answer.get_json()["error"]
        assert (answer.status_code, error["code"], error["field"]) == (400, code, field), error
        assert error.get("did_you_mean") == did_you_mean
