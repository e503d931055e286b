"""Update or replace, from Heat's schemas: real Heat types, one property
change at a time, then the entries and JSON the summary makes of them."""

from __future__ import annotations

from typing import Any

import pytest

from heater.diff.replacement import Outcome, property_change
from heater.diff.semantic import FileSummary, summarize
from heater.diff.verdict import Impact

CASES: list[tuple[str, str, dict[str, Any], Outcome, str]] = [
    ("OS::Cinder::Volume", "size", {}, Outcome.UPDATE, "Heat updates the resource in place"),
    ("OS::Cinder::Volume", "image", {}, Outcome.REPLACE,
     "property image is not update_allowed: Heat replaces the resource"),
    ("OS::Neutron::Port", "network", {}, Outcome.REPLACE,
     "property network is not update_allowed"),
    ("OS::Neutron::Port", "name", {}, Outcome.UPDATE, "Heat updates the resource in place"),
    ("OS::Neutron::Port", "name", {"replacement_policy": "REPLACE_ALWAYS"}, Outcome.REPLACE,
     "replacement_policy is REPLACE_ALWAYS"),
    ("OS::Nova::Server", "flavor", {}, Outcome.UPDATE,
     "Heat updates the server in place (flavor_update_policy is RESIZE, Heat's default)"),
    ("OS::Nova::Server", "flavor", {"flavor_update_policy": "RESIZE"}, Outcome.UPDATE,
     "Heat updates the server in place (flavor_update_policy is RESIZE)"),
    ("OS::Nova::Server", "flavor", {"flavor_update_policy": "REPLACE"}, Outcome.REPLACE,
     "Heat replaces the server (flavor_update_policy is REPLACE)"),
    ("OS::Nova::Server", "image", {}, Outcome.UPDATE,
     "Heat updates the server in place (image_update_policy is REBUILD, Heat's default)"),
    ("OS::Nova::Server", "image", {"image_update_policy": {"get_param": "p"}}, Outcome.REPLACE,
     "Heat may replace the server (image_update_policy is set by a function"),
    ("OS::Nova::Server", "user_data", {}, Outcome.REPLACE,
     "Heat replaces the server (user_data_update_policy is REPLACE, Heat's default)"),
    ("OS::Nova::Server", "user_data", {"user_data_update_policy": "IGNORE"}, Outcome.UPDATE,
     "Heat updates the server in place (user_data_update_policy is IGNORE)"),
    ("OS::Nova::Server", "key_name", {}, Outcome.REPLACE,
     "property key_name is not update_allowed"),
    ("OS::Heat::SoftwareConfig", "config", {}, Outcome.REPLACE,
     "software configs are immutable (no property is update_allowed)"),
    ("OS::Neutron::Trunk", "port", {}, Outcome.REFUSE,
     "property port of OS::Neutron::Trunk is immutable: Heat refuses the update"),
    ("OS::Neutron::Trunk", "sub_ports", {}, Outcome.UPDATE, "Heat updates the resource"),
    ("nested/web.yaml", "anything", {}, Outcome.UPDATE,
     "a nested template: Heat updates its stack in place"),
    ("Acme::Plugin::Thing", "size", {}, Outcome.UPDATE,
     "Heat's schemas do not describe type Acme::Plugin::Thing"),
    ("OS::Cinder::Volume", "sise", {}, Outcome.UPDATE, "OS::Cinder::Volume has no property sise"),
]


@pytest.mark.parametrize(("rtype", "prop", "new", "outcome", "because"), CASES,
                         ids=[f"{c[0]}.{c[1]}{'+' if c[2] else ''}" for c in CASES])
def test_what_heat_does_for_one_changed_property(rtype: str, prop: str, new: dict[str, Any],
                                                 outcome: Outcome, because: str) -> None:
    impact = property_change(rtype, prop, {}, new)
    assert impact.outcome is outcome
    assert impact.because.startswith(because), impact.because


def _template(resources: dict[str, Any]) -> dict[str, Any]:
    return {"heat_template_version": "2018-08-31", "resources": resources}


def _summary(old: dict[str, Any], new: dict[str, Any]) -> FileSummary:
    kind, entries = summarize(_template(old), _template(new), entrypoint=True)
    return FileSummary("template.yaml", "template.yaml", kind, "entrypoint", entries)


VOLUME = {"type": "OS::Cinder::Volume", "properties": {"size": 10, "image": "cirros"}}
TRUNK = {"type": "OS::Neutron::Trunk", "properties": {"port": "p1"}}


def test_replaced_resources_and_why_in_the_json() -> None:
    resized = {"type": "OS::Cinder::Volume", "properties": {"size": 20, "image": "cirros"}}
    reimaged = {"type": "OS::Cinder::Volume", "properties": {"size": 10, "image": "fedora"}}
    summary = _summary({"data": VOLUME, "logs": VOLUME, "tmp": VOLUME},
                       {"data": resized, "logs": reimaged, "tmp": {**VOLUME,
                                                                   "type": "OS::Heat::None"}})
    body = summary.as_json()
    assert body["impact"] == "major"
    assert [(e["name"], e["change"], e["impact"]) for e in body["entries"]] == [
        ("data", "changed", "patch"), ("logs", "replaced", "major"), ("tmp", "replaced", "major")]
    assert body["replaced"] == [
        {"resource": "logs", "path": ["resources", "logs", "properties", "image"],
         "because": "property image is not update_allowed: Heat replaces the resource "
                    "(creates a new one, then deletes the old one with what it held)"},
        {"resource": "tmp", "path": ["resources", "tmp", "type"],
         "because": "type changed from OS::Cinder::Volume to OS::Heat::None: "
                    "Heat replaces the resource"}]
    assert body["refused"] == []
    assert body["entries"][1]["reason"].startswith("image changed: property image is not")


def test_an_immutable_property_is_refused_and_major() -> None:
    moved = {"type": "OS::Neutron::Trunk", "properties": {"port": "p2", "name": "t"}}
    summary = _summary({"trunk": TRUNK}, {"trunk": moved})
    [entry] = summary.entries
    assert (entry.change, entry.impact) == ("refused", Impact.MAJOR)
    assert entry.reason.startswith("port changed: property port of OS::Neutron::Trunk is "
                                   "immutable: Heat refuses the update")
    assert summary.as_json()["refused"] == [
        {"resource": "trunk", "path": ["resources", "trunk", "properties", "port"],
         "because": entry.causes[0].because}]
    assert summary.as_json()["replaced"] == []


def test_a_removed_property_counts_as_changed() -> None:
    # Heat compares the new value (the default, here none) with the old.
    bare = {"type": "OS::Cinder::Volume", "properties": {"size": 10}}
    [entry] = _summary({"data": VOLUME}, {"data": bare}).entries
    assert (entry.change, entry.impact) == ("replaced", Impact.MAJOR)
    assert [c.path for c in entry.causes] == [("resources", "data", "properties", "image")]


def test_nested_template_resources_are_updated() -> None:
    old = {"type": "nested/web.yaml", "properties": {"port": 80}}
    new = {"type": "nested/web.yaml", "properties": {"port": 8080}}
    [entry] = _summary({"web": old}, {"web": new}).entries
    assert (entry.change, entry.impact) == ("changed", Impact.PATCH)
    assert "a nested template: Heat updates its stack in place" in entry.reason


def test_a_type_heat_substitutes_is_updated_in_place() -> None:
    old = {"type": "OS::Heat::SoftwareDeployments", "properties": {"config": "c", "servers": {}}}
    new = {**old, "type": "OS::Heat::SoftwareDeploymentGroup"}
    [entry] = _summary({"deploy": old}, {"deploy": new}).entries
    assert (entry.change, entry.impact) == ("changed", Impact.PATCH)
    assert "which Heat substitutes for it: Heat updates the resource in place" in entry.reason
    # The other way round, it is a type Heat replaces.
    [back] = _summary({"deploy": new}, {"deploy": old}).entries
    assert (back.change, back.impact) == ("replaced", Impact.MAJOR)


def test_every_changed_property_says_what_heat_does_with_it() -> None:
    server: dict[str, Any] = {
        "type": "OS::Nova::Server",
        "properties": {"flavor": "m1.small", "name": "a", "key_name": "k1"}}
    changed = {**server, "properties": {"flavor": "m1.large", "name": "b", "key_name": "k2"}}
    resized = {**server, "properties": {"flavor": "m1.large", "name": "a", "key_name": "k1"}}
    body = _summary({"web": server, "db": server, "tmp": VOLUME},
                    {"web": changed, "db": resized,
                     "tmp": {**VOLUME, "type": "OS::Heat::None"}}).as_json()
    web, db, tmp = body["entries"]
    assert (web["change"], db["change"], tmp["change"]) == ("replaced", "changed", "replaced")
    assert web["updates"] == [
        {"path": ["resources", "web", "properties", "flavor"], "outcome": "update",
         "because": "Heat updates the server in place (flavor_update_policy is RESIZE, "
                    "Heat's default)"},
        {"path": ["resources", "web", "properties", "name"], "outcome": "update",
         "because": "Heat updates the resource in place"},
        {"path": ["resources", "web", "properties", "key_name"], "outcome": "replace",
         "because": "property key_name is not update_allowed: Heat replaces the resource "
                    "(creates a new one, then deletes the old one with what it held)"}]
    assert db["updates"] == [web["updates"][0] | {
        "path": ["resources", "db", "properties", "flavor"]}]
    assert db["reason"] == ("resource definition changed: Heat updates the server in place "
                            "(flavor_update_policy is RESIZE, Heat's default)")
    assert tmp["updates"] == [
        {"path": ["resources", "tmp", "type"], "outcome": "replace",
         "because": "type changed from OS::Cinder::Volume to OS::Heat::None: "
                    "Heat replaces the resource"}]
