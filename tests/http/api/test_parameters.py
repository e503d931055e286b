"""The parameters' JSON Schema and the check of values, end to end: a
template pushed with the real git client, read over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator

from tests.catalog_support import api, push
from tests.conftest import Git, Server

TEMPLATE = """heat_template_version: 2018-08-31
description: A server with checked parameters
parameter_groups:
  - label: Sizing
    parameters: [count, flavor]
parameters:
  name:
    type: string
    label: Server name
    constraints:
      - allowed_pattern: "[a-z][a-z0-9-]*"
  flavor:
    type: string
    default: m1.small
    constraints:
      - allowed_values: [m1.small, m1.large]
  count:
    type: number
    default: 1
    constraints:
      - range: {min: 1, max: 5}
  password:
    type: string
    hidden: true
    default: secret
  networks:
    type: comma_delimited_list
    default: "private"
resources:
  random:
    type: OS::Heat::RandomString
"""
# The entry point lives elsewhere, named by heater.yaml.
FILES = {"heat/main.yaml": TEMPLATE, "heater.yaml": "entrypoint: heat/main.yaml\n",
         "env/prod.yaml": "parameters:\n  count: 9\n"}


def _url(server: Server, ns: str, name: str, what: str) -> str:
    return f"{server.url}/api/v1/templates/{ns}/{name}/{what}"


def _push(server: Server, git: Git, ns: str, tmp_path: Path, name: str = "web") -> str:
    return push(server, git, tmp_path / name, f"{ns}/{name}", server.token("writer", ns),
                FILES, tags=("v1.0.0",))


def test_schema_of_the_entry_point_cached_like_raw_files(
        server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    sha = _push(server, git, ns, tmp_path)
    pinned = requests.get(_url(server, ns, "web", "schema"), params={"ref": sha}, timeout=30)
    assert pinned.status_code == 200, pinned.text
    assert pinned.headers["Content-Type"] == "application/schema+json"
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert pinned.headers["X-Heater-Commit"] == sha
    schema: dict[str, Any] = pinned.json()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["name"]
    props = schema["properties"]
    assert props["name"] == {"type": "string", "title": "Server name",
                             "pattern": "^(?:[a-z][a-z0-9-]*)$"}
    assert props["flavor"]["enum"] == ["m1.small", "m1.large"]
    assert (props["count"]["minimum"], props["count"]["maximum"]) == (1, 5)
    assert props["password"]["writeOnly"] is True
    assert props["networks"]["default"] == ["private"]
    assert schema["x-heat-parameter-groups"] == [{"label": "Sizing",
                                                  "parameters": ["count", "flavor"]}]
    again = requests.get(_url(server, ns, "web", "schema"), params={"ref": sha}, timeout=30,
                         headers={"If-None-Match": pinned.headers["ETag"]})
    assert again.status_code == 304
    # Refs that move are cached briefly; the default is latest.
    for params, max_age in (({"ref": "main"}, 60), ({"ref": "v1.0.0"}, 86400), ({}, 60)):
        moving = requests.get(_url(server, ns, "web", "schema"), params=params, timeout=30)
        assert moving.status_code == 200 and moving.json() == schema
        assert moving.headers["Cache-Control"] == f"public, max-age={max_age}"
    unknown = requests.get(_url(server, ns, "web", "schema"), params={"ref": "v9.9.9"},
                           timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_ref"


def test_validate_answers_heats_messages(server: Server, git: Git, ns: str,
                                         tmp_path: Path) -> None:
    sha = _push(server, git, ns, tmp_path)
    url = _url(server, ns, "web", "validate")
    good = requests.post(url, params={"ref": "v1.0.0"}, timeout=30,
                         json={"parameters": {"name": "web-1", "count": "3"}})
    assert good.status_code == 200, good.text
    assert good.json() == {"valid": True, "commit": sha, "entrypoint": "heat/main.yaml",
                           "errors": []}
    bad = requests.post(url, timeout=30, json={
        "parameters": {"name": "Web", "flavor": "m1.huge", "colour": "red"},
        "environment_files": {"prod.yaml": "parameters:\n  count: 9\n",
                              "typo.yaml": "paramters: {}\n"}})
    assert bad.status_code == 200
    assert bad.json()["valid"] is False
    assert bad.json()["errors"] == [
        {"parameter": None, "file": "typo.yaml",
         "message": 'environment has wrong section "paramters"'},
        {"parameter": "colour", "file": None,
         "message": "The Parameter (colour) was not defined in template."},
        {"parameter": "name", "file": None,
         "message": "Parameter 'name' is invalid: \"Web\" does not match pattern "
                    "\"[a-z][a-z0-9-]*\""},
        {"parameter": "flavor", "file": None,
         "message": "Parameter 'flavor' is invalid: \"m1.huge\" is not an allowed value "
                    "[\"m1.small\", \"m1.large\"]"},
        {"parameter": "count", "file": "prod.yaml",
         "message": "Parameter 'count' is invalid: 9 is out of range (min: 1, max: 5)"},
    ]
    missing = requests.post(url, json={}, timeout=30).json()
    assert missing["errors"] == [{"parameter": "name", "file": None,
                                  "message": "The Parameter (name) was not provided."}]


def test_bad_bodies_are_400_with_their_code(server: Server, git: Git, ns: str,
                                            tmp_path: Path) -> None:
    _push(server, git, ns, tmp_path)
    url = _url(server, ns, "web", "validate")
    cases: list[tuple[Any, str]] = [
        ({"paramters": {}}, "unknown_field"),
        (["parameters"], "invalid_json"),
        ({"parameters": "name=x"}, "invalid_value"),
        ({"environment": {}, "environment_files": {"a.yaml": "{}"}}, "invalid_value"),
        ({"environment_files": {f"{i}.yaml": "{}" for i in range(40)}}, "invalid_value"),
    ]
    for body, code in cases:
        response = requests.post(url, json=body, timeout=30)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == code, body
    typo = requests.post(url, json={"paramters": {}}, timeout=30).json()["error"]["message"]
    assert "did you mean 'parameters'?" in typo
    raw = requests.post(url, data=b"{not json", timeout=30,
                        headers={"Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    form = requests.post(url, data={"parameters": "x"}, timeout=30)
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"


def test_a_private_template_is_404_to_anonymous_callers(server: Server, git: Git, ns: str,
                                                         tmp_path: Path) -> None:
    created = api(server, "POST", "/api/v1/templates", server.token("writer", ns),
                  json={"namespace": ns, "name": "secret", "visibility": "private"})
    assert created.status_code == 201
    sha = _push(server, git, ns, tmp_path, "secret")
    schema_url = _url(server, ns, "secret", "schema")
    validate_url = _url(server, ns, "secret", "validate")
    for response in (requests.get(schema_url, params={"ref": sha}, timeout=30),
                     requests.post(validate_url, json={"parameters": {}}, timeout=30),
                     # the body is not read before access is decided
                     requests.post(validate_url, json={"paramters": {}}, timeout=30)):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "repository_not_found"
        assert sha not in response.text
    reader = {"Authorization": f"Bearer {server.token('reader', ns)}"}
    allowed = requests.get(schema_url, params={"ref": sha}, headers=reader, timeout=30)
    assert allowed.status_code == 200
    assert allowed.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    checked = requests.post(validate_url, json={"parameters": {"name": "x"}}, headers=reader,
                            timeout=30)
    assert checked.status_code == 200 and checked.json()["valid"] is True
