"""The HOT-aware summary: each kind of entry, with its path and impact."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from heater.diff.semantic import Entry, constraints_impact, summarize
from heater.diff.structural import MISSING
from heater.diff.verdict import Impact

BASE = yaml.safe_load("""
heat_template_version: 2016-10-14
description: A server
parameter_groups:
  - label: Basics
    parameters: [image]
parameters:
  image:
    type: string
    label: Image
    description: Image to boot
    constraints:
      - custom_constraint: glance.image
  size:
    type: number
    default: 10
    constraints:
      - range: {min: 1, max: 100}
  flavor:
    type: string
    default: m1.small
    constraints:
      - allowed_values: [m1.small, m1.large]
        description: Known flavors
resources:
  server:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      flavor: {get_param: flavor}
      networks:
        - network: private
  volume:
    type: OS::Cinder::Volume
    properties:
      size: {get_param: size}
outputs:
  ip:
    value: {get_attr: [server, first_address]}
conditions:
  big: {equals: [{get_param: flavor}, m1.large]}
""")


def entries(change: Any, *, entrypoint: bool = True) -> list[Entry]:
    new = copy.deepcopy(BASE)
    change(new)
    kind, found = summarize(BASE, new, entrypoint=entrypoint)
    assert kind == "template"
    return found


def one(change: Any, *, entrypoint: bool = True) -> Entry:
    found = entries(change, entrypoint=entrypoint)
    assert len(found) == 1, found
    return found[0]


def test_no_change_no_entries() -> None:
    assert entries(lambda t: None) == []


CASES: list[tuple[str, Any, str, tuple[Any, ...], Impact]] = [
    ("parameter removed", lambda t: t["parameters"].pop("size"),
     "removed", ("parameters", "size"), Impact.MAJOR),
    ("parameter added without default",
     lambda t: t["parameters"].update(key={"type": "string"}),
     "added", ("parameters", "key"), Impact.MAJOR),
    ("parameter added with default",
     lambda t: t["parameters"].update(key={"type": "string", "default": "k"}),
     "added", ("parameters", "key"), Impact.MINOR),
    ("type changed", lambda t: t["parameters"]["size"].update(type="string"),
     "changed", ("parameters", "size", "type"), Impact.MAJOR),
    ("default changed", lambda t: t["parameters"]["size"].update(default=20),
     "changed", ("parameters", "size", "default"), Impact.PATCH),
    ("default removed", lambda t: t["parameters"]["size"].pop("default"),
     "removed", ("parameters", "size", "default"), Impact.MAJOR),
    ("default added", lambda t: t["parameters"]["image"].update(default="cirros"),
     "added", ("parameters", "image", "default"), Impact.MINOR),
    ("hidden added", lambda t: t["parameters"]["image"].update(hidden=True),
     "added", ("parameters", "image", "hidden"), Impact.PATCH),
    ("label changed", lambda t: t["parameters"]["image"].update(label="OS image"),
     "changed", ("parameters", "image", "label"), Impact.PATCH),
    ("description changed", lambda t: t["parameters"]["image"].update(description="x"),
     "changed", ("parameters", "image", "description"), Impact.PATCH),
    ("range narrowed", lambda t: t["parameters"]["size"]["constraints"][0]["range"].update(
        max=50), "changed", ("parameters", "size", "constraints"), Impact.MAJOR),
    ("range widened", lambda t: t["parameters"]["size"]["constraints"][0]["range"].update(
        max=500), "changed", ("parameters", "size", "constraints"), Impact.MINOR),
    ("value allowed", lambda t: t["parameters"]["flavor"]["constraints"][0][
        "allowed_values"].append("m1.xlarge"),
     "changed", ("parameters", "flavor", "constraints"), Impact.MINOR),
    ("value disallowed", lambda t: t["parameters"]["flavor"]["constraints"][0][
        "allowed_values"].remove("m1.large"),
     "changed", ("parameters", "flavor", "constraints"), Impact.MAJOR),
    ("constraint description", lambda t: t["parameters"]["flavor"]["constraints"][0].update(
        description="Flavors"), "changed", ("parameters", "flavor", "constraints"), Impact.PATCH),
    ("constraint added", lambda t: t["parameters"]["image"]["constraints"].append(
        {"length": {"max": 64}}), "changed", ("parameters", "image", "constraints"), Impact.MAJOR),
    ("constraints dropped", lambda t: t["parameters"]["size"].pop("constraints"),
     "removed", ("parameters", "size", "constraints"), Impact.MINOR),
    ("resource added", lambda t: t["resources"].update(port={"type": "OS::Neutron::Port"}),
     "added", ("resources", "port"), Impact.MINOR),
    ("resource removed", lambda t: t["resources"].pop("volume"),
     "removed", ("resources", "volume"), Impact.MAJOR),
    ("outputs added", lambda t: t["outputs"].update(id={"value": {"get_resource": "server"}}),
     "added", ("outputs", "id"), Impact.MINOR),
    ("outputs removed", lambda t: t["outputs"].pop("ip"),
     "removed", ("outputs", "ip"), Impact.MAJOR),
    ("outputs changed", lambda t: t["outputs"]["ip"].update(description="IP"),
     "changed", ("outputs", "ip"), Impact.PATCH),
    ("condition added", lambda t: t["conditions"].update(small={"not": "big"}),
     "added", ("conditions", "small"), Impact.MINOR),
    ("condition removed", lambda t: t.pop("conditions"),
     "removed", ("conditions", "big"), Impact.PATCH),
    ("condition changed", lambda t: t["conditions"].update(big=False),
     "changed", ("conditions", "big"), Impact.PATCH),
    ("parameter group changed", lambda t: t["parameter_groups"][0]["parameters"].append("size"),
     "changed", ("parameter_groups", "Basics", "parameters"), Impact.PATCH),
    ("parameter group added", lambda t: t["parameter_groups"].append(
        {"label": "Advanced", "parameters": ["size"]}),
     "added", ("parameter_groups", "Advanced"), Impact.PATCH),
    ("template version raised", lambda t: t.update(heat_template_version="queens"),
     "changed", ("heat_template_version",), Impact.MINOR),
    ("template version lowered", lambda t: t.update(heat_template_version="2015-04-30"),
     "changed", ("heat_template_version",), Impact.PATCH),
    ("description", lambda t: t.update(description="Two servers"),
     "changed", ("description",), Impact.PATCH),
]


@pytest.mark.parametrize(("name", "change", "kind", "path", "impact"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_kind_of_entry(name: str, change: Any, kind: str, path: tuple[Any, ...],
                            impact: Impact) -> None:
    entry = one(change)
    assert (entry.change, entry.path, entry.impact) == (kind, path, impact), entry.reason
    assert entry.as_json()["path"] == list(path)
    assert entry.as_json()["impact"] == str(impact)


def test_resource_changed_lists_property_paths() -> None:
    def change(t: dict[str, Any]) -> None:
        t["resources"]["server"]["properties"]["flavor"] = "m1.tiny"
        t["resources"]["server"]["properties"]["networks"] = [{"network": "public"}]
        t["resources"]["server"]["depends_on"] = "volume"
    entry = one(change)
    assert (entry.section, entry.name, entry.change, entry.impact) == (
        "resources", "server", "changed", Impact.PATCH)
    assert entry.as_json()["changed_paths"] == [
        ["properties", "flavor"], ["properties", "networks"], ["depends_on"]]
    assert entry.changes[0].path == ("resources", "server", "properties", "flavor")


def test_resource_type_change_is_a_replacement() -> None:
    def change(t: dict[str, Any]) -> None:
        t["resources"]["volume"]["type"] = "OS::Cinder::VolumeV2"
        t["resources"]["volume"]["properties"]["name"] = "data"
    entry = one(change)
    assert (entry.change, entry.impact) == ("replaced", Impact.MAJOR)
    assert (entry.before, entry.after) == ("OS::Cinder::Volume", "OS::Cinder::VolumeV2")
    assert entry.as_json()["changed_paths"] == [["type"], ["properties", "name"]]


def test_nested_templates_cap_interface_changes_at_minor() -> None:
    removed = one(lambda t: t["parameters"].pop("size"), entrypoint=False)
    assert removed.impact is Impact.MINOR and "nested" in removed.reason
    # A replaced resource is replaced wherever it is declared.
    replaced = one(lambda t: t["resources"]["volume"].update(type="OS::Heat::None"),
                   entrypoint=False)
    assert replaced.impact is Impact.MAJOR


def test_environment_entries() -> None:
    old = {"parameter_defaults": {"flavor": "m1.small", "key": "k"},
           "resource_registry": {"My::Server": "server.yaml"}}
    new = {"parameter_defaults": {"flavor": "m1.large", "image": "cirros"},
           "resource_registry": {"My::Server": "server2.yaml"},
           "parameters": {"size": 3}}
    kind, found = summarize(old, new, entrypoint=False)
    assert kind == "environment"
    got = {(e.path, e.change, e.impact) for e in found}
    assert got == {
        (("parameter_defaults", "key"), "removed", Impact.PATCH),
        (("parameter_defaults", "flavor"), "changed", Impact.PATCH),
        (("parameter_defaults", "image"), "added", Impact.MINOR),
        (("resource_registry", "My::Server"), "changed", Impact.PATCH),
        (("parameters", "size"), "added", Impact.MINOR),
    }


def test_files_becoming_or_leaving_templates() -> None:
    _kind, [gone] = summarize(BASE, MISSING, entrypoint=True)
    assert (gone.section, gone.change, gone.impact) == ("file", "removed", Impact.MAJOR)
    _kind, [nested_gone] = summarize(BASE, MISSING, entrypoint=False)
    assert nested_gone.impact is Impact.PATCH
    _kind, [new] = summarize(MISSING, BASE, entrypoint=False)
    assert (new.change, new.impact) == ("added", Impact.MINOR)
    assert summarize({"a": 1}, {"a": 2}, entrypoint=False) == ("other", [])


def test_constraints_that_cannot_be_judged_count_as_narrowing() -> None:
    pattern = [{"allowed_pattern": "[a-z]+"}]
    assert constraints_impact(pattern, [{"allowed_pattern": "[a-z0-9]+"}])[0] is Impact.MAJOR
    assert constraints_impact([{"range": {"min": 1}}],
                              [{"range": {"min": "one"}}])[0] is Impact.MAJOR
    assert constraints_impact([{"length": {"min": 2, "max": 8}}],
                              [{"length": {"min": 1}}])[0] is Impact.MINOR
    assert constraints_impact(pattern, pattern)[0] is Impact.PATCH


def test_properties_heat_replaces_the_resource_for() -> None:
    def user_data(t: dict[str, Any]) -> None:
        t["resources"]["server"]["properties"]["user_data"] = "#!/bin/sh\necho two\n"
        t["resources"]["server"]["properties"]["flavor"] = "m1.large"
    entry = one(user_data)
    assert (entry.path, entry.change, entry.impact) == (
        ("resources", "server"), "replaced", Impact.MAJOR)
    assert entry.reason.startswith("user_data changed: Heat replaces the server")
    assert entry.as_json()["changed_paths"] == [["properties", "flavor"],
                                                ["properties", "user_data"]]

    def ignored(t: dict[str, Any]) -> None:
        user_data(t)
        t["resources"]["server"]["properties"]["user_data_update_policy"] = "IGNORE"
    assert (one(ignored).change, one(ignored).impact) == ("changed", Impact.PATCH)

    # A policy Heat decides at deploy time may be REPLACE.
    def unknown(t: dict[str, Any]) -> None:
        user_data(t)
        t["resources"]["server"]["properties"]["user_data_update_policy"] = {
            "get_param": "policy"}
    assert one(unknown).impact is Impact.MAJOR

    def config(t: dict[str, Any]) -> None:
        t["resources"]["config"] = {"type": "OS::Heat::SoftwareConfig",
                                    "properties": {"config": "two"}}

    def software_config(t: dict[str, Any]) -> None:
        config(t)
        t["resources"]["config"]["properties"] = {"group": "script"}  # config removed
    old = copy.deepcopy(BASE)
    config(old)
    new = copy.deepcopy(BASE)
    software_config(new)
    _kind, [entry] = summarize(old, new, entrypoint=False)
    assert (entry.change, entry.impact) == ("replaced", Impact.MAJOR)
    assert entry.reason.startswith("config, group changed: software configs are immutable")
    # A volume's size is updated in place.
    assert one(lambda t: t["resources"]["volume"]["properties"].update(size=20)).impact \
        is Impact.PATCH
