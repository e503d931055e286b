"""``GET .../bundle``: the body python-heatclient posts to Heat, compared with
what heatclient itself builds from the raw URLs at the same commit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from heatclient.common import template_format

from heater.templates.bundle import MAX_BUNDLE_FILES
from tests.catalog_support import api, push
from tests.conftest import HELLO_WORLD, Git, Server
from tests.openapi_support import conforms
from tests.templates.test_bundle import heatclient_body

PATH = "/api/v1/templates/{namespace}/{name}/bundle"

TEMPLATE = """heat_template_version: 2018-08-31
description: A server, its boot script and a custom type from the environment
parameters:
  flavor: {type: string, default: m1.small}
resources:
  boot_config:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: scripts/boot.sh}
  logo:
    type: OS::Heat::Value
    properties:
      value: {get_file: files/logo.bin}
  server:
    type: nested/server.yaml
    properties:
      flavor: {get_param: flavor}
  custom:
    type: My::Custom
outputs:
  config: {value: {get_resource: boot_config}}
"""

SERVER = """heat_template_version: 2018-08-31
parameters:
  flavor: {type: string}
resources:
  init:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: config/init.sh}
  boot:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: ../scripts/boot.sh}
"""

CUSTOM = """heat_template_version: 2018-08-31
resources:
  note:
    type: OS::Heat::Value
    properties:
      value: {get_file: note.txt}
"""

PROD = """parameter_defaults:
  flavor: m1.large
resource_registry:
  My::Custom: ../lib/custom.yaml
  resources:
    server:
      hooks: pre-create
"""

EXTRA = """parameters:
  flavor: m1.xlarge
parameter_defaults:
  zone: nova
"""

FILES: dict[str, str | bytes] = {
    "template.yaml": TEMPLATE, "nested/server.yaml": SERVER, "lib/custom.yaml": CUSTOM,
    "scripts/boot.sh": "#!/bin/sh\necho boot\n", "nested/config/init.sh": "echo init\n",
    "lib/note.txt": "a note\n", "files/logo.bin": bytes(range(256)) * 2,
    "env/prod.yaml": PROD, "env/extra.yaml": EXTRA,
}


def bundle(server: Server, ns: str, name: str, token: str | None = None,
           **params: Any) -> Any:
    return api(server, "GET", f"/api/v1/templates/{ns}/{name}/bundle", token, params=params)


@pytest.fixture
def published(server: Server, git: Git, ns: str, tmp_path: Path) -> str:
    """``web``, released as v1.0.0; its commit."""
    return push(server, git, tmp_path / "w", f"{ns}/web", server.token("writer", ns), FILES,
                tags=("v1.0.0",))


def test_the_bundle_is_what_heatclient_posts(server: Server, ns: str, published: str) -> None:
    environments = ["env/prod.yaml", "env/extra.yaml"]
    answer = bundle(server, ns, "web", ref="main", environment=environments)
    assert answer.status_code == 200, answer.text
    body = conforms(answer, PATH)
    base = f"{server.url}/{ns}/web/raw/{published}/"
    assert body == heatclient_body(base, environments)
    assert answer.headers["X-Heater-Commit"] == published
    assert answer.headers["Content-Location"] == (
        f"/api/v1/templates/{ns}/web/bundle?ref={published}"
        "&environment=env%2Fprod.yaml&environment=env%2Fextra.yaml")
    # What the comparison covers, spelt out.
    assert set(body["files"]) == {base + path for path in (
        "scripts/boot.sh", "files/logo.bin", "nested/server.yaml", "nested/config/init.sh",
        "lib/custom.yaml", "lib/note.txt", "env/prod.yaml", "env/extra.yaml")}
    assert body["template"]["resources"]["server"]["type"] == base + "nested/server.yaml"
    nested = json.loads(body["files"][base + "nested/server.yaml"])
    assert nested["resources"]["boot"]["properties"]["config"] == {
        "get_file": base + "scripts/boot.sh"}
    assert body["environment"]["resource_registry"]["My::Custom"] == base + "lib/custom.yaml"
    assert body["environment"]["parameters"] == {"flavor": "m1.xlarge"}
    assert body["environment_files"] == [base + "env/prod.yaml", base + "env/extra.yaml"]


def test_without_environments_and_by_version(server: Server, ns: str, published: str) -> None:
    answer = bundle(server, ns, "web", ref="v1.0.0")
    assert answer.status_code == 200, answer.text
    body = conforms(answer, PATH)
    assert body == heatclient_body(f"{server.url}/{ns}/web/raw/{published}/", [])
    assert body["environment"] == {} and "environment_files" not in body
    # Without a ref: latest.
    assert bundle(server, ns, "web").json() == body


def test_private_templates_need_a_reader(server: Server, git: Git, ns: str,
                                         tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    created = api(server, "POST", "/api/v1/templates", writer,
                  json={"namespace": ns, "name": "secret", "visibility": "private"})
    assert created.status_code == 201, created.text
    push(server, git, tmp_path / "w", f"{ns}/secret", writer, {"template.yaml": HELLO_WORLD})
    anonymous = bundle(server, ns, "secret", ref="main")
    assert anonymous.status_code == 404
    assert anonymous.json()["error"]["code"] == "repository_not_found"
    reader = bundle(server, ns, "secret", server.token("reader", ns), ref="main")
    assert reader.status_code == 200, reader.text
    assert reader.json() == {"template": template_format.parse(HELLO_WORLD), "files": {},
                             "environment": {}}


def test_references_outside_the_repository(server: Server, git: Git, ns: str,
                                           tmp_path: Path) -> None:
    # A push refuses get_file URLs, but an environment's base_url moves its
    # mappings where heatclient would fetch them, out of the repository.
    elsewhere = PROD.replace("resource_registry:\n",
                             "resource_registry:\n  base_url: http://example.com/\n")
    push(server, git, tmp_path / "w", f"{ns}/leaky", server.token("writer", ns),
         {**FILES, "env/prod.yaml": elsewhere})
    assert bundle(server, ns, "leaky", ref="main").status_code == 200
    answer = bundle(server, ns, "leaky", ref="main", environment="env/prod.yaml")
    assert answer.status_code == 400
    error = conforms(answer, PATH)["error"]
    assert error["code"] == "unbundlable_template"
    assert "http://example.com/lib/custom.yaml: is outside the repository" in error["message"]


def test_bad_requests(server: Server, ns: str, published: str) -> None:
    missing = bundle(server, ns, "web", ref="main", environment="env/none.yaml")
    assert missing.status_code == 404
    assert conforms(missing, PATH)["error"]["code"] == "file_not_found"
    escaping = bundle(server, ns, "web", ref="main", environment="../env/prod.yaml")
    assert escaping.status_code == 400
    assert conforms(escaping, PATH)["error"]["code"] == "invalid_value"
    unknown = bundle(server, ns, "web", ref="nope")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_ref"
    not_an_environment = bundle(server, ns, "web", ref="main", environment="template.yaml")
    assert not_an_environment.status_code == 400
    assert "wrong section 'heat_template_version'" in not_an_environment.json()["error"][
        "message"]


def test_too_many_files(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    count = MAX_BUNDLE_FILES  # with the entry point, one more than the limit
    values = "\n".join(f"        - {{get_file: f/{i}.txt}}" for i in range(count))
    template = ("heat_template_version: 2018-08-31\nresources:\n  many:\n"
                f"    type: OS::Heat::Value\n    properties:\n      value:\n{values}\n")
    files: dict[str, str | bytes] = {f"f/{i}.txt": f"{i}\n" for i in range(count)}
    push(server, git, tmp_path / "w", f"{ns}/many", server.token("writer", ns),
         {"template.yaml": template, **files})
    answer = bundle(server, ns, "many", ref="main")
    assert answer.status_code == 413
    error = conforms(answer, PATH)["error"]
    assert error["code"] == "bundle_too_large"
    assert f"more than {MAX_BUNDLE_FILES} files" in error["message"]
