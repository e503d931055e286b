"""Templates checked as Heat would check them, without a cloud."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from heater.names import closest
from heater.templates.heatcheck import Context, Rule, Severity, check_template
from heater.templates.heatschemas import heat_schemas
from heater.templates.paramcheck import value_problem
from heater.templates.validation import MappingSource, findings, validate
from heater.templates.yamlload import load_yaml
from tests.conftest import CORPUS, HELLO_WORLD


def found(text: str, context: Context | None = None) -> list[str]:
    doc = load_yaml(text.encode(), "t.yaml")
    return [f"{doc.line_of(*f.keys)}: {f.severity}: {f.rule}: {f.message}"
            for f in check_template(doc.data, context=context)]


def template(resources: str, extra: str = "", version: str = "2018-08-31") -> str:
    return f"heat_template_version: {version}\n{extra}resources:\n{resources}"


SERVER = "  server:\n    type: OS::Nova::Server\n    properties:\n      flavor: m1.small\n"


def test_a_valid_template_has_no_findings() -> None:
    assert found(HELLO_WORLD) == []


@pytest.mark.parametrize(("text", "expected"), [
    # The four mistakes a new user made, each accepted before.
    (template(SERVER, "parameters:\n  size:\n    type: strin\n"),
     "4: error: parameter-definition: parameter size: type 'strin' is not one of boolean, "
     "comma_delimited_list, json, number, string (did you mean 'string'?)"),
    (template("  server:\n    type: OS::Nova::Sever\n"),
     "4: error: unknown-resource-type: resource server: type 'OS::Nova::Sever' is neither a "
     "Heat resource type, a nested template, nor mapped in an environment's "
     "resource_registry (did you mean 'OS::Nova::Server'?)"),
    (template(SERVER) + "ouputs:\n  a: {value: 1}\n",
     "7: error: unknown-section: unknown section 'ouputs' for heat_template_version "
     "2018-08-31 (did you mean 'outputs'?)"),
    (template(SERVER + "      name: {get_param: nonexistent}\n"),
     "7: error: undefined-parameter: get_param: 'nonexistent' is not a parameter of this "
     "template"),
    (template(SERVER + "    depends_on: [sever]\n"),
     "7: error: undefined-resource: resource server depends on 'sever', which is not a "
     "resource of this template (did you mean 'server'?)"),
    (template(SERVER) + "outputs:\n  ip: {value: {get_attr: [server, first_adress]}}\n",
     "8: error: unknown-attribute: get_attr: OS::Nova::Server has no attribute "
     "'first_adress' (did you mean 'first_address'?)"),
    (template("  server:\n    type: OS::Nova::Server\n    properties: {image: cirros}\n"),
     "5: error: missing-property: resource server: missing required property 'flavor'"),
    (template(SERVER + "      flavour: m1.small\n"),
     "7: warning: unknown-property: resource server: unknown property 'flavour' "
     "(did you mean 'flavor'?)"),
    (template(SERVER + "      config_drive: maybe\n"),
     "7: warning: property-type: resource server: property config_drive: 'maybe' is not a "
     "boolean (true or false)"),
    (template(SERVER + "      name: {if: [c, a, b]}\n", version="2015-04-30"),
     "7: error: unknown-function: if is not a function of heat_template_version 2015-04-30 "
     "(available from 2016-10-14)"),
    (template(SERVER + "      name: {'Fn::Join': ['', [a, b]]}\n"),
     "7: error: unknown-function: Fn::Join is not a function of heat_template_version "
     "2018-08-31 (removed from HOT)"),
    (template(SERVER, "parameters:\n  n:\n    type: number\n    default: 12\n"
                      "    constraints:\n      - range: {min: 1, max: 10}\n"),
     "5: error: parameter-definition: parameter n: default 12 is out of range [1..10]"),
    (template("  ip:\n    type: OS::Nova::FloatingIP\n"),
     "4: warning: deprecated-type: resource ip: OS::Nova::FloatingIP is hidden; use "
     "OS::Neutron::FloatingIP (Please use OS::Neutron::FloatingIP instead.)"),
    (template("  alarm:\n    type: OS::Ceilometer::Alarm\n"),
     "4: warning: unknown-plugin-type: resource alarm: type 'OS::Ceilometer::Alarm' is "
     "neither a Heat resource type, a nested template, nor mapped in an environment's "
     "resource_registry (did you mean 'OS::Aodh::Alarm'?)"),
    # What Heat 19 refused and Heater accepted (tests/templates/test_heat_agrees.py).
    (template(SERVER + "    deletion_policy: Keep\n"),
     "7: error: resource-definition: resource server: deletion_policy 'Keep' is not one of "
     "Delete, Retain, Snapshot, delete, retain, snapshot"),
    (template(SERVER + "    deletion_policy: retain\n", version="2015-10-15"),
     "7: error: resource-definition: resource server: deletion_policy 'retain' is not one "
     "of Delete, Retain, Snapshot (did you mean 'Retain'?)"),
    (template(SERVER, "parameter_groups:\n  - parameters: [nope]\n"),
     "3: error: parameter-definition: parameter group names 'nope', which is not a "
     "parameter"),
    (template(SERVER) + "outputs:\n  a: {value: {get_attr: server}}\n",
     "8: error: function-arguments: get_attr: the arguments must be a list, not 'server'"),
    (template(SERVER + "      name: {str_replace: {template: $x}}\n"),
     "7: error: function-arguments: str_replace: needs params"),
    (template(SERVER + "      name: {list_join: [',', a]}\n"),
     "7: error: function-arguments: list_join: argument 1 must be a list, not 'a'"),
    (template(SERVER, "conditions:\n  c: {equals: [a]}\n"),
     "3: error: function-arguments: equals: takes 2 arguments, not 1"),
])
def test_each_check(text: str, expected: str) -> None:
    assert found(text) == [expected]


# Parameter definitions and defaults, each refused by Heat or not: push
# validation and POST .../validate must read every one alike.
DEFAULTS = [
    ({"type": "number", "constraints": [{"range": {"min": 1, "max": 10}}]}, 12),
    ({"type": "number", "constraints": [{"modulo": {"step": 2, "offset": 1}}]}, "7"),
    ({"type": "number"}, "many"),
    ({"type": "string", "constraints": [{"allowed_pattern": "[a-z]+"}]}, "Web"),
    ({"type": "string", "constraints": [{"length": {"max": 3}}]}, "four"),
    ({"type": "string", "constraints": [{"allowed_values": ["a", "b"]}]}, "b"),
    ({"type": "boolean"}, "maybe"),
    ({"type": "boolean"}, "yes"),
    # Heat checks every item of a list against allowed_values...
    ({"type": "comma_delimited_list", "constraints": [{"allowed_values": ["a", "b"]}]},
     "a,c"),
    ({"type": "comma_delimited_list", "constraints": [{"length": {"min": 3}}]}, "a,b"),
    # ...and reads a json default as JSON.
    ({"type": "json"}, "{not json"),
    ({"type": "json", "constraints": [{"length": {"max": 1}}]}, {"a": 1, "b": 2}),
]


@pytest.mark.parametrize(("definition", "default"), DEFAULTS)
def test_push_validation_refuses_a_default_as_validate_refuses_the_value(
        definition: dict[str, object], default: object) -> None:
    doc = {"heat_template_version": "2018-08-31", "resources": {},
           "parameters": {"p": {**definition, "default": default}}}
    refused = [f.message for f in check_template(doc) if f.rule == Rule.PARAMETER_DEFINITION]
    heat = value_problem(definition, default)
    assert bool(refused) == (heat is not None), (refused, heat)


def test_a_default_is_refused_in_heaters_words() -> None:
    text = template(SERVER, "parameters:\n"
                    "  names: {type: comma_delimited_list, default: 'a,c',\n"
                    "          constraints: [{allowed_values: [a, b]}]}\n"
                    "  settings: {type: json, default: '{not json'}\n")
    assert found(text) == [
        "3: error: parameter-definition: parameter names: default ['a', 'c'] is not one "
        "of a, b",
        "5: error: parameter-definition: parameter settings: default '{not json' is not a "
        "valid json: Value must be valid JSON: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)"]


def test_older_property_names_heat_translates_still_count() -> None:
    port = template("  port:\n    type: OS::Neutron::Port\n    properties:\n"
                    "      network_id: private\n")
    assert found(port) == []


def test_functions_and_external_resources_are_not_judged_literally() -> None:
    assert found(template(SERVER + "      name: {list_join: [',', {get_param: n}]}\n"
                                   "    deletion_policy: {get_param: p}\n",
                          "parameters:\n  n: {type: comma_delimited_list}\n"
                          "  p: {type: string}\n")) == []
    assert found(template(SERVER + "      config_drive: {get_param: drive}\n",
                          "parameters:\n  drive: {type: boolean}\n")) == []
    assert found(template("  s:\n    type: OS::Nova::Server\n    external_id: abc\n")) == []


def test_an_environment_maps_a_type_and_a_repository_lowers_a_rule() -> None:
    text = template("  thing:\n    type: OS::Acme::Widget\n    properties: {size: 1}\n"
                    "  other:\n    type: OS::Nova::Widget\n")
    assert [f.split(":")[2].strip() for f in found(text)] == [
        "unknown-plugin-type", "unknown-resource-type"]
    mapped = Context(registry={"OS::Acme::*": "widgets/*.yaml", "OS::Nova::Widget":
                               "OS::Nova::Server"})
    assert found(text, mapped) == [
        "6: error: missing-property: resource other: missing required property 'flavor'"]
    lowered = Context(lowered=frozenset({Rule.UNKNOWN_RESOURCE_TYPE}))
    assert {f.split(": ")[1] for f in found(text, lowered)} == {str(Severity.WARNING)}


def test_push_validation_reads_environments_nested_templates_and_heater_yaml() -> None:
    nested = "heat_template_version: 2018-08-31\nparameters:\n  size: {type: number}\n" \
             "resources: {}\n"
    entry = template("  a:\n    type: OS::Acme::Widget\n  b:\n    type: lib/b.yaml\n"
                     "    properties: {size: 1, colour: red}\n")
    files = {"template.yaml": entry.encode(), "lib/b.yaml": nested.encode(),
             "env.yaml": b"resource_registry:\n  OS::Acme::Widget: lib/b.yaml\n"}
    assert [str(p) for p in findings(MappingSource(files))] == [
        "template.yaml:7: warning: resource b: lib/b.yaml has no parameter 'colour' "
        "[unknown-property]"]
    broken = {**files, "template.yaml": entry.replace("OS::Acme", "OS::Nova").encode()}
    assert [str(p) for p in validate(MappingSource(broken))] == [
        "template.yaml:4: resource a: type 'OS::Nova::Widget' is neither a Heat resource "
        "type, a nested template, nor mapped in an environment's resource_registry "
        "(did you mean 'OS::Nova::Quota'?) [unknown-resource-type]"]
    lowered = {**broken, "heater.yaml": b"validation:\n  warn: [unknown-resource-type]\n"}
    assert validate(MappingSource(lowered)) == []
    wrong = {**broken, "heater.yaml": b"validation:\n  warn: [no-such-rule]\n"}
    assert [str(p) for p in validate(MappingSource(wrong))] == [
        "heater.yaml:2: unknown rule 'no-such-rule'; validation must be a mapping "
        "{warn: [rule, ...]} naming rules of the "
        "Heat checks (see the README), such as unknown-resource-type",
        "template.yaml:4: resource a: type 'OS::Nova::Widget' is neither a Heat resource "
        "type, a nested template, nor mapped in an environment's resource_registry "
        "(did you mean 'OS::Nova::Quota'?) [unknown-resource-type]"]
    typo = {**broken, "heater.yaml": b"validation:\n  warn: [missing-property,\n"
                                     b"         unknown-resource-typ]\n"}
    assert str(validate(MappingSource(typo))[0]) == (
        "heater.yaml:3: unknown rule 'unknown-resource-typ' (did you mean "
        "'unknown-resource-type'?); validation must be a mapping {warn: [rule, ...]} naming "
        "rules of the Heat checks (see the README), such as unknown-resource-type")


def test_the_corpus_has_warnings_but_no_error() -> None:
    hot = CORPUS / "heat-templates" / "hot"
    files = {str(p.relative_to(hot)): p.read_bytes() for p in hot.rglob("*") if p.is_file()}
    files["heater.yaml"] = b"entrypoint: hello_world.yaml\n"
    everything = findings(MappingSource(files))
    assert [p for p in everything if not p.warning] == []
    assert len(everything) == 12
    assert all(isinstance(p.path, str) and Path(p.path).suffix == ".yaml" for p in everything)


def test_did_you_mean_answers_as_difflib_does() -> None:
    # The bounded search must pick what get_close_matches picks, ties included.
    types = tuple(sorted(heat_schemas().public_types()))
    names = [t[:i] + t[i + 1:] for t in types[::7] for i in (3, len(t) // 2)]
    names += [t.replace("::", ":") for t in types[::11]]
    names += ["OS::Ceilometer::Alarm", "", "x", "OS::", "Server", *types[:5]]
    for name in names:
        for candidates in (types, types[:2], ("ab", "ba")):
            expected = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
            assert closest(name, candidates) == (
                f" (did you mean {expected[0]!r}?)" if expected else ""), name
