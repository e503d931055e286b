"""Real Heat (19, from tests/services/openstack.py) creates and updates
stacks from templates it reads from Heater: with the ``openstack`` command
line given a raw URL, through Heat's REST API given Heater's bundle, and
given a bare ``template_url`` that Heat fetches itself.

Every value that reaches an output comes from a file at one version
(``files/motd.txt``, the nested template's ``banner.txt``, a boot script),
so the outputs prove which version Heat read; the update from 1.0.0 to
1.1.0 replaces exactly the resources Heater's diff said it would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.catalog_support import api, push
from tests.conftest import Git, Server
from tests.heat_support import Heat, stack_name
from tests.services.openstack import Cloud

TEMPLATE = """heat_template_version: 2018-08-31
description: Heat reads this from Heater
resources:
  motd:
    type: OS::Heat::Value
    properties:
      value: {get_file: files/motd.txt}
  app:
    type: nested/app.yaml
    properties:
      greeting: hello
  secret:
    type: OS::Heat::RandomString
    properties:
      length: %(length)d
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: files/boot.sh}
outputs:
  motd:
    value: {get_attr: [motd, value]}
  banner:
    value: {get_attr: [app, banner]}
  config:
    value: {get_attr: [config, config]}
  secret_length:
    value: {yaql: {expression: $.data.len(), data: {get_attr: [secret, value]}}}
"""

NESTED = """heat_template_version: 2018-08-31
parameters:
  greeting: {type: string}
resources:
  banner:
    type: OS::Heat::Value
    properties:
      value:
        list_join: [' ', [{get_param: greeting}, {get_file: banner.txt}]]
outputs:
  banner:
    value: {get_attr: [banner, value]}
"""

PLAIN = """heat_template_version: 2018-08-31
description: No file of its own
resources:
  word:
    type: OS::Heat::RandomString
    properties: {length: 6}
outputs:
  release:
    value: plain 1.0.0
  word_length:
    value: {yaql: {expression: $.data.len(), data: {get_attr: [word, value]}}}
"""


def version_files(version: str, length: int) -> dict[str, str | bytes]:
    """The repository at ``version``: every file says which version it is."""
    return {"template.yaml": TEMPLATE % {"length": length},
            "nested/app.yaml": NESTED,
            "nested/banner.txt": f"banner of {version}",
            "files/motd.txt": f"motd of {version}",
            "files/boot.sh": f"#!/bin/sh\necho {version}\n"}


def expected_outputs(version: str, length: int) -> dict[str, Any]:
    return {"motd": f"motd of {version}", "banner": f"hello banner of {version}",
            "config": f"#!/bin/sh\necho {version}\n", "secret_length": length}


def release(server: Server, git: Git, ns: str, work: Path, name: str = "app") -> str:
    """``{ns}/{name}`` released as 1.0.0 (secret length 8) then 1.1.0
    (length 12, every file changed); the repository's path."""
    token = server.token("writer", ns)
    push(server, git, work, f"{ns}/{name}", token, version_files("1.0.0", 8), tags=("v1.0.0",))
    push(server, git, work, f"{ns}/{name}", token, version_files("1.1.0", 12),
         tags=("v1.1.0",))
    return f"{ns}/{name}"


@pytest.fixture
def released(server: Server, git: Git, ns: str, tmp_path: Path) -> str:
    return release(server, git, ns, tmp_path / "app")


def test_the_command_line_creates_from_a_raw_url_and_updates_as_the_diff_said(
        cloud: Cloud, server: Server, released: str) -> None:
    user = cloud.make_user()
    heat, name = Heat(cloud, user), stack_name()
    created = cloud.openstack_json("stack", "create", "--wait", "-t",
                                   f"{server.url}/{released}/raw/1.0.0/template.yaml", name,
                                   user=user)
    assert created["stack_status"] == "CREATE_COMPLETE"
    assert heat.outputs(name) == expected_outputs("1.0.0", 8)
    before = heat.physical_ids(name)
    assert set(before) == {("template.yaml", r) for r in ("motd", "app", "secret", "config")} \
        | {("nested/app.yaml", "banner")}

    diff = api(server, "GET", f"/api/v1/templates/{released}/diff",
               params={"from": "1.0.0", "to": "1.1.0"})
    assert diff.status_code == 200, diff.text
    predicted = {(summary["path"], replaced["resource"])
                 for summary in diff.json()["semantic"] for replaced in summary["replaced"]}
    assert predicted == {("template.yaml", "secret"), ("template.yaml", "config")}

    updated = cloud.openstack_json("stack", "update", "--wait", "-t",
                                   f"{server.url}/{released}/raw/1.1.0/template.yaml", name,
                                   user=user)
    assert updated["stack_status"] == "UPDATE_COMPLETE"
    assert heat.outputs(name) == expected_outputs("1.1.0", 12)
    after = heat.physical_ids(name)
    assert set(after) == set(before)
    # Heat replaced (new physical id) exactly what Heater predicted; the
    # rest (a Value whose get_file changed, the nested stack) in place.
    assert {key for key in before if before[key] != after[key]} == predicted


def test_heats_api_creates_from_the_bundle(cloud: Cloud, server: Server,
                                          released: str) -> None:
    heat, name = Heat(cloud, cloud.make_user()), stack_name()
    bundle = api(server, "GET", f"/api/v1/templates/{released}/bundle", params={"ref": "1.0.0"})
    assert bundle.status_code == 200, bundle.text
    stack = heat.create({**bundle.json(), "stack_name": name})
    assert stack["stack_status"] == "CREATE_COMPLETE"
    assert heat.outputs(name) == expected_outputs("1.0.0", 8)


def test_heat_fetches_a_bare_template_url_itself(cloud: Cloud, server: Server, git: Git,
                                                 ns: str, tmp_path: Path,
                                                 released: str) -> None:
    push(server, git, tmp_path / "plain", f"{ns}/plain", server.token("writer", ns),
         {"template.yaml": PLAIN}, tags=("v1.0.0",))
    heat, name = Heat(cloud, cloud.make_user()), stack_name()
    heat.create({"stack_name": name,
                 "template_url": f"{server.url}/{ns}/plain/raw/1.0.0/template.yaml"})
    assert heat.outputs(name) == {"release": "plain 1.0.0", "word_length": 6}
    # Heat's own fetch resolves no relative name (a nested template, a
    # get_file): the client must send the files, as the bundle (or the
    # command line) does.
    refused = heat.call("POST", "/stacks", json={
        "stack_name": stack_name(),
        "template_url": f"{server.url}/{released}/raw/1.0.0/template.yaml"})
    assert refused.status_code == 400, refused.text
    message = refused.json()["error"]["message"]
    # Which relative name Heat trips on first depends on its resource order.
    assert message in (
        'Could not fetch remote template "nested/app.yaml": Invalid URL scheme ',
        "Property error: resources.motd.properties.value: No content found in the "
        '"files" section for get_file path: files/motd.txt',
        "Property error: resources.config.properties.config: No content found in the "
        '"files" section for get_file path: files/boot.sh'), message


def test_a_private_template_through_a_signed_url(cloud: Cloud, server: Server, git: Git,
                                                 ns: str, tmp_path: Path) -> None:
    created = api(server, "POST", "/api/v1/templates", server.token("writer", ns),
                  json={"namespace": ns, "name": "private", "visibility": "private"})
    assert created.status_code == 201, created.text
    private = release(server, git, ns, tmp_path / "private", "private")
    user, name = cloud.make_user(), stack_name()
    # Heat cannot read it unsigned: heatclient's fetch has no credentials.
    refused = cloud.openstack("stack", "create", "-t",
                              f"{server.url}/{private}/raw/1.0.0/template.yaml", name,
                              user=user, check=False)
    assert refused.returncode != 0
    assert "404" in refused.stderr or "Not Found" in refused.stderr, refused.stderr
    signed = subprocess.run(
        [sys.executable, "-m", "heater", "template", "raw-url", private, "--ref", "1.0.0",
         "--expires-in", "600", "--url", server.url, "--token", server.token("reader", ns)],
        capture_output=True, text=True, timeout=60, check=False)
    assert signed.returncode == 0, signed.stderr
    url = signed.stdout.strip()
    assert f"/{private}/signed/" in url and url.endswith("/template.yaml")
    stack = cloud.openstack_json("stack", "create", "--wait", "-t", url, name, user=user)
    assert stack["stack_status"] == "CREATE_COMPLETE"
    assert Heat(cloud, user).outputs(name) == expected_outputs("1.0.0", 8)
