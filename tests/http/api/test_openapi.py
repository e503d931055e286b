"""The OpenAPI document is served and matches the routes, both ways."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate

from heater.http.api.openapi import FragmentClash, document, merge
from heater.http.app import create_app
from heater.http.git.smarthttp import ROUTES
from tests.conftest import HELLO_WORLD, Server
from tests.images.test_diff import JAMMY_APRIL, JAMMY_JANUARY, manifest
from tests.images_helpers import UBUNTU_MANIFEST, auth, push, queue_build, upload
from tests.openapi_support import conforms

METHODS = {"get", "post", "put", "patch", "delete"}


def flask_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every Flask route."""
    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    found = set()
    for rule in app.url_map.iter_rules():
        # The web UI's pages are HTML for people, not the API (README: Web UI).
        if rule.endpoint == "static" or rule.endpoint.startswith("web."):
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
    doc: dict[str, Any] = {"paths": {"/a": {"get": {}}}, "components": {"schemas": {"X": {}}}}
    with pytest.raises(FragmentClash):
        merge(doc, {"paths": {"/a": {"get": {}}}}, "dup.yaml")
    with pytest.raises(FragmentClash):
        merge(doc, {"components": {"schemas": {"X": {}}}}, "dup.yaml")


def test_fragments_may_share_a_path() -> None:
    doc: dict[str, Any] = {"paths": {"/a": {"get": {"operationId": "g"}}}, "components": {}}
    merge(doc, {"paths": {"/a": {"delete": {"operationId": "d"}}}}, "other.yaml")
    assert doc["paths"]["/a"] == {"get": {"operationId": "g"}, "delete": {"operationId": "d"}}


def test_served(server: Server) -> None:
    response = requests.get(f"{server.url}/api/v1/openapi.json", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"] == "3.1.0"
    assert "/api/v1/templates/{namespace}/{name}/versions" in body["paths"]


IMAGE = "/api/v1/images/{namespace}/{name}"
BUILD = "/api/v1/builds/{build_id}"
FILE = "/api/v1/builds/{build_id}/file"


def test_image_and_build_answers_match_the_document(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    api = f"{server.url}/api/v1"
    headers = auth(token)
    queued = requests.post(f"{api}/images/{ns}/jammy/builds", headers=headers, timeout=30,
                           json=manifest(JAMMY_JANUARY, version="1.0.0"))
    first = conforms(queued, IMAGE + "/builds")["build_id"]
    assert conforms(requests.get(f"{api}/builds/{first}", headers=headers, timeout=10),
                    BUILD)["status"] == "queued"
    conforms(upload(server, token, first, b"0123456789"), FILE, "put")
    second = push(server, token, f"{ns}/jammy", b"abc", manifest(JAMMY_APRIL), version="1.1.0")
    assert conforms(requests.get(f"{api}/builds/{second}", timeout=10), BUILD)["commit"]
    assert conforms(requests.get(f"{api}/images/{ns}/jammy", timeout=10), IMAGE)["manifest"]
    conforms(requests.get(f"{api}/images/{ns}/jammy/versions", timeout=10), IMAGE + "/versions")
    conforms(requests.get(f"{api}/images?namespace={ns}&q=wget", timeout=10), "/api/v1/images")
    diff = requests.get(f"{api}/images/{ns}/jammy/diff?from=1.0.0&to=1.1.0", timeout=10)
    assert conforms(diff, IMAGE + "/diff")["packages"]["added"]
    by_id = requests.get(f"{api}/images/{ns}/jammy/diff?from={first}&to=main", timeout=10)
    assert conforms(by_id, IMAGE + "/diff")["to"]["version"] == "1.1.0"

    file_url = f"{api}/builds/{first}/file"
    whole = requests.get(file_url, timeout=10)
    conforms(whole, FILE)
    etag = whole.headers["ETag"]
    assert conforms(requests.get(file_url, headers={"Range": "bytes=2-4"}, timeout=10),
                    FILE) is None
    assert requests.get(file_url, headers={"Range": "bytes=2-4"}, timeout=10).content == b"234"
    for status, extra in ((304, {"If-None-Match": etag}), (416, {"Range": "bytes=50-60"})):
        answer = requests.get(file_url, headers=extra, timeout=10)
        assert answer.status_code == status
        conforms(answer, FILE)
    conforms(requests.head(file_url, timeout=10), FILE)

    assert conforms(requests.delete(f"{api}/builds/{first}", headers=headers, timeout=30),
                    BUILD)["status"] == "deleted"
    gone = conforms(requests.get(f"{api}/builds/{first}", timeout=10), BUILD)
    assert gone["error"]["tombstone"]["last_commit"]
    versions = requests.get(f"{api}/images/{ns}/jammy/versions", timeout=10)
    assert conforms(versions, IMAGE + "/versions")["versions"][-1]["status"] == "deleted"
    assert conforms(requests.get(f"{api}/images/{ns}/jammy", timeout=10), IMAGE)["versions"]
    assert conforms(requests.get(file_url, timeout=10), FILE)["error"]
    cancelled = queue_build(server, token, f"{ns}/jammy")
    assert conforms(requests.delete(f"{api}/builds/{cancelled}", headers=headers, timeout=30),
                    BUILD)["last_commit"] is None
    refusals = [(404, "build_not_found"), (400, "invalid_value"), (409, "build_not_queued"),
                (400, "empty_upload"), (400, "missing_field"), (401, "unauthenticated"),
                (409, "visibility_mismatch"), (400, "missing_field"),
                (400, "invalid_value"), (404, "unknown_ref"),
                (414, None)]  # refused by the HTTP server itself: not the JSON error shape
    for (answer, path), (status, code) in zip((
            (requests.get(f"{api}/builds/{uuid.uuid4()}", timeout=10), BUILD),
            (requests.get(f"{api}/builds/not-a-uuid", timeout=10), BUILD),
            (requests.put(f"{api}/builds/{second}/file", data=b"x", headers=headers,
                          timeout=10), FILE),
            (upload(server, token, queue_build(server, token, f"{ns}/jammy"), b""), FILE),
            (requests.post(f"{api}/images/{ns}/jammy/builds", json={"os": {}},
                           headers=headers, timeout=10), IMAGE + "/builds"),
            (requests.post(f"{api}/images/{ns}/other/builds", json=UBUNTU_MANIFEST,
                           timeout=10), IMAGE + "/builds"),
            (requests.post(f"{api}/images/{ns}/jammy/builds?visibility=private",
                           json=UBUNTU_MANIFEST, headers=headers, timeout=10),
             IMAGE + "/builds"),
            (requests.get(f"{api}/images/{ns}/jammy/diff", timeout=10), IMAGE + "/diff"),
            (requests.get(f"{api}/images/{ns}/jammy/diff?from=1.1.0&to=1.1.0&format=unified",
                          timeout=10), IMAGE + "/diff"),
            (requests.get(f"{api}/images/{ns}/jammy/diff?from=1.1.0&to={uuid.uuid4()}",
                          timeout=10), IMAGE + "/diff"),
            # Every keyword within its documented bounds, yet past the request line limit.
            (requests.get(f"{api}/images", params={"keyword": ["é" * 64] * 16}, timeout=10),
             "/api/v1/images")), refusals, strict=True):
        assert answer.status_code == status, answer.text
        if code is not None:
            assert answer.json()["error"]["code"] == code
        conforms(answer, path)


TEMPLATE = "/api/v1/templates/{namespace}/{name}"


def test_lifecycle_answers_match_the_document(server: Server, ns: str) -> None:
    writer, admin = auth(server.token("writer", ns)), auth(server.token("admin", ns))
    api = f"{server.url}/api/v1/templates"
    created = requests.post(api, json={"namespace": ns, "name": "app",
                                       "files": {"template.yaml": HELLO_WORLD}},
                            headers=writer, timeout=30)
    assert created.status_code == 201, created.text
    replacement = requests.post(api, json={"namespace": ns, "name": "app2",
                                           "files": {"template.yaml": HELLO_WORLD}},
                                headers=writer, timeout=30)
    assert replacement.status_code == 201, replacement.text
    assert requests.post(f"{api}/{ns}/app/versions", json={"version": "1.0.0", "ref": "main"},
                         headers=writer, timeout=30).status_code == 201
    yank = f"{api}/{ns}/app/versions/1.0.0/yank"
    steps: list[tuple[requests.Response, str, int]] = [
        (requests.post(yank, json={"reason": "broken"}, headers=writer, timeout=30),
         TEMPLATE + "/versions/{version}/yank", 200),
        (requests.post(yank, json={"reason": "again"}, headers=writer, timeout=30),
         TEMPLATE + "/versions/{version}/yank", 409),
        (requests.delete(yank, headers=writer, timeout=30),
         TEMPLATE + "/versions/{version}/yank", 200),
        (requests.put(f"{api}/{ns}/app/deprecation", headers=writer, timeout=30,
                      json={"reason": "use app2",
                            "replacement": {"namespace": ns, "name": "app2"}}),
         TEMPLATE + "/deprecation", 200),
        (requests.put(f"{api}/{ns}/app/deprecation", data="x", headers=writer, timeout=30),
         TEMPLATE + "/deprecation", 415),
        (requests.delete(f"{api}/{ns}/app/deprecation", headers=writer, timeout=30),
         TEMPLATE + "/deprecation", 200),
        (requests.delete(f"{api}/{ns}/app?reason=obsolete", headers=writer, timeout=30),
         TEMPLATE, 403),
        (requests.delete(f"{api}/{ns}/app?reason=obsolete", headers=admin, timeout=30),
         TEMPLATE, 200),
        (requests.get(f"{api}/{ns}/app/lifecycle", timeout=30), TEMPLATE + "/lifecycle", 200),
        (requests.post(yank, json={"reason": "late"}, headers=writer, timeout=30),
         TEMPLATE + "/versions/{version}/yank", 410),
        (requests.get(f"{api}/{ns}/app/commits", timeout=30), TEMPLATE + "/commits", 410),
        (requests.post(f"{api}/{ns}/app/versions", json={"version": "2.0.0", "ref": "main"},
                       headers=writer, timeout=30), TEMPLATE + "/versions", 410),
        (requests.get(f"{api}/{ns}/app/versions", headers={"Authorization": "Bearer nope"},
                      timeout=30), TEMPLATE + "/versions", 401),
        (requests.post(f"{api}/{ns}/app/undelete", headers=admin, timeout=30),
         TEMPLATE + "/undelete", 200),
        (requests.post(f"{api}/{ns}/app/undelete", headers=admin, timeout=30),
         TEMPLATE + "/undelete", 409),
    ]
    for answer, path, status in steps:
        assert answer.status_code == status, (path, answer.text)
        conforms(answer, path)


# The old and new side of a change (a diff's refs, a package's versions, a
# field's values): what is compared differs, the pair of names does not.
SIDES = {"from", "to"}
# Names the diffs use in their own sense (a file's change `status`, a
# `path` in a document, `added` packages or keys...) and an image's version
# list, which extends the template one: known, and listed so that no new
# name joins them.
KNOWN_TWICE = {"status", "files", "path", "impact", "os", "added", "removed", "versions"}
# File formats, not API vocabulary: a manifest is the manifest.json of git,
# a parameter is written in HOT's words (`type`, `default`...).
FILE_FORMATS = {"ImageManifest", "StoredManifest", "Hashes", "Parameter"}
NULL: tuple[Any, ...] = ("type", frozenset(), None)


def _target(ref: str) -> tuple[str, dict[str, Any]]:
    node: Any = document()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return ref.rsplit("/", 1)[-1], node


def shape(node: dict[str, Any]) -> tuple[Any, ...]:
    """What a schema says a value is, without its bounds and words: a named
    object (by its component), an enum's values, a type and format, an
    array of a shape; null taken out (nullable is the same concept)."""
    if "$ref" in node:
        name, target = _target(node["$ref"])
        if "properties" in target and "/properties/" not in node["$ref"]:
            return ("object", name)
        return shape(target)
    for key in ("oneOf", "anyOf"):
        if key in node:
            shapes = {shape(alternative) for alternative in node[key]} - {NULL}
            return shapes.pop() if len(shapes) == 1 else ("oneOf", frozenset(shapes))
    if "enum" in node or "const" in node:
        values = node["enum"] if "enum" in node else [node["const"]]
        return ("enum", frozenset(v for v in values if v is not None))
    types = node.get("type", [])
    types = frozenset([types] if isinstance(types, str) else types) - {"null"}
    if "properties" in node:
        return ("object", frozenset(node["properties"]))
    if types == {"array"}:
        return ("array", shape(node.get("items", {})))
    return ("type", types, node.get("format"))


def response_properties() -> dict[str, dict[tuple[Any, ...], str]]:
    """Every property of every response body, by name: its shapes, each
    with one place it has it."""
    found: dict[str, dict[tuple[Any, ...], str]] = {}
    seen: set[str] = set()

    def walk(node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if ref not in seen and name not in FILE_FORMATS:
                seen.add(ref)
                walk(_target(ref)[1], name)
            return
        for name, value in (node.get("properties") or {}).items():
            found.setdefault(name, {}).setdefault(shape(value), f"{where}.{name}")
            walk(value, f"{where}.{name}")
        for key in ("items", "additionalProperties"):
            walk(node.get(key), where)
        for key in ("oneOf", "anyOf", "allOf"):
            for alternative in node.get(key) or []:
                walk(alternative, where)

    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for status, answer in operation["responses"].items():
                answer = _target(answer["$ref"])[1] if "$ref" in answer else answer
                for media in (answer.get("content") or {}).values():
                    walk(media.get("schema"), f"{method.upper()} {path} {status}")
    return found


def test_one_property_name_has_one_schema() -> None:
    found = response_properties()
    assert {"commit", "build_id", "ref", "deprecated", "by", "kind"} <= set(found)
    twice = {name: sorted(shapes.values()) for name, shapes in found.items()
             if len(shapes) > 1 and name not in SIDES | KNOWN_TWICE}
    assert twice == {}
