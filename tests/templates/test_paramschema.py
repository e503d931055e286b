"""A template's parameters as JSON Schema: every HOT type and constraint
mapped, the result valid under the 2020-12 metaschema, and corpus
templates' schemas accepting their own defaults."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from heater.templates.paramschema import DIALECT, parameters_schema
from heater.templates.yamlload import load_yaml
from tests.conftest import CORPUS

TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "description": "Every type and constraint",
    "parameter_groups": [{"label": "Server", "description": "the VM",
                          "parameters": ["name", "count"]}],
    "parameters": {
        "name": {"type": "string", "label": "Server name", "description": "its name",
                 "constraints": [{"length": {"min": 1, "max": 8}},
                                 {"allowed_pattern": "[a-z]+"},
                                 {"allowed_pattern": "a.*", "description": "starts with a"}]},
        "port": {"type": "string", "default": 8080,
                 "constraints": [{"allowed_values": [8080, "http"]}]},
        "count": {"type": "number", "default": "2",
                  "constraints": [{"range": {"min": 1, "max": 10}},
                                  {"modulo": {"step": 2, "offset": 0}}]},
        "odd": {"type": "number", "default": 3,
                "constraints": [{"modulo": {"step": 2, "offset": 1}}]},
        "debug": {"type": "boolean", "default": "yes", "immutable": True},
        "nets": {"type": "comma_delimited_list", "default": "a,b",
                 "constraints": [{"allowed_values": ["a", "b", "c.d"]},
                                 {"length": {"min": 1, "max": 3}}]},
        "meta": {"type": "json", "hidden": True, "constraints": [{"length": {"max": 4}}]},
        "image": {"type": "string", "default": "cirros",
                  "constraints": [{"custom_constraint": "glance.image"}]},
        "tagged": {"type": "string", "default": "x", "tags": ["role"]},
    },
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    built = parameters_schema(TEMPLATE, "acme/web parameters")
    Draft202012Validator.check_schema(built)
    return built


def test_the_document_is_a_2020_12_object_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["title"] == "acme/web parameters"
    assert schema["description"] == "Every type and constraint"
    assert schema["required"] == ["name", "meta"]
    assert schema["x-heat-parameter-groups"] == TEMPLATE["parameter_groups"]
    assert schema["x-heat-template-version"] == "2018-08-31"


def test_types_map_to_what_heat_accepts(schema: dict[str, Any]) -> None:
    props = schema["properties"]
    assert props["name"]["type"] == "string"
    assert props["count"]["type"] == "number"
    assert props["debug"]["type"] == "boolean"
    assert props["nets"]["type"] == ["array", "string"]
    assert props["nets"]["items"] == {"type": "string"}
    assert props["meta"]["type"] == ["object", "array", "string"]
    assert props["meta"]["contentMediaType"] == "application/json"


def test_defaults_are_what_heat_reads(schema: dict[str, Any]) -> None:
    props = schema["properties"]
    assert props["port"]["default"] == "8080"
    assert props["count"]["default"] == 2
    assert props["debug"]["default"] is True
    assert props["nets"]["default"] == ["a", "b"]
    assert "default" not in props["name"] and "default" not in props["meta"]


def test_annotations(schema: dict[str, Any]) -> None:
    props = schema["properties"]
    assert props["name"]["title"] == "Server name"
    assert props["name"]["description"] == "its name"
    assert props["meta"]["writeOnly"] is True
    assert props["debug"]["x-heat-immutable"] is True
    assert props["image"]["x-heat-custom-constraint"] == "glance.image"
    assert props["tagged"]["x-heat-tags"] == ["role"]


def test_constraints_map_to_keywords(schema: dict[str, Any]) -> None:
    props = schema["properties"]
    name = props["name"]
    assert (name["minLength"], name["maxLength"]) == (1, 8)
    assert name["pattern"] == "^(?:[a-z]+)$"
    # A second pattern, and one with its own words, go to allOf.
    assert name["allOf"] == [{"pattern": "^(?:a.*)$", "description": "starts with a"}]
    assert props["port"]["enum"] == ["8080", "http"]
    count = props["count"]
    assert (count["minimum"], count["maximum"], count["multipleOf"]) == (1, 10, 2)
    assert count["x-heat-modulo"] == {"step": 2, "offset": 0}
    assert props["odd"]["x-heat-modulo"] == {"step": 2, "offset": 1}
    assert "multipleOf" not in props["odd"]
    nets = props["nets"]
    assert (nets["minItems"], nets["maxItems"]) == (1, 3)
    listed = nets["allOf"][0]
    assert listed["items"] == {"enum": ["a", "b", "c.d"]}
    assert listed["pattern"] == r"^(?:(?:a|b|c\.d)(?:,(?:a|b|c\.d))*)?$"
    assert (props["meta"]["maxProperties"], props["meta"]["maxItems"]) == (4, 4)


@pytest.mark.parametrize(("value", "valid"), [
    ({"name": "abc", "meta": {}}, True),
    ({"name": "abc", "meta": "{}", "nets": "a,c.d"}, True),
    ({"name": "abc", "meta": [], "nets": ["a", "b"]}, True),
    ({"name": "Abc", "meta": {}}, False),           # pattern, anchored
    ({"name": "bc", "meta": {}}, False),            # the second pattern
    ({"name": "abcdefghi", "meta": {}}, False),     # maxLength
    ({"name": "abc", "meta": {}, "nets": "a,x"}, False),
    ({"name": "abc", "meta": {}, "nets": ["x"]}, False),
    ({"name": "abc", "meta": {}, "count": 3}, False),     # multipleOf
    ({"name": "abc", "meta": {}, "count": 12}, False),    # maximum
    ({"name": "abc", "meta": {}, "debug": "yes"}, False),  # JSON booleans only
    ({"name": "abc", "meta": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}}, False),
    ({"name": "abc"}, False),                       # required
    ({"name": "abc", "meta": {}, "other": 1}, False),  # unknown
])
def test_values_against_the_schema(schema: dict[str, Any], value: dict[str, Any],
                                   valid: bool) -> None:
    assert Draft202012Validator(schema).is_valid(value) is valid


def test_constraints_heat_could_not_build_are_left_out() -> None:
    broken = {"heat_template_version": "2018-08-31", "parameters": {
        "a": {"type": "string", "constraints": [{"allowed_pattern": "("},
                                                {"length": {"min": -1, "max": 1.5}},
                                                {"allowed_values": "abc"}]},
        "b": {"type": "number", "constraints": [{"modulo": {"step": "x", "offset": 0}},
                                                {"range": {"min": "low"}}]},
        "c": "not a mapping",
        "d": {"type": "strin"},
    }}
    built = parameters_schema(broken)
    Draft202012Validator.check_schema(built)
    assert built["properties"] == {"a": {"type": "string"},
                                   "b": {"type": "number",
                                         "x-heat-modulo": {"step": "x", "offset": 0}}}


def _corpus_templates() -> list[Any]:
    found = []
    for path in sorted((CORPUS / "heat-templates").rglob("*.yaml")):
        data = load_yaml(path.read_bytes(), str(path)).data
        if isinstance(data, dict) and "heat_template_version" in data \
                and isinstance(data.get("parameters"), dict):
            found.append(pytest.param(data, id=str(path.relative_to(CORPUS))))
    return found


@pytest.mark.parametrize("template", _corpus_templates())
def test_corpus_schemas_are_valid_and_take_their_own_defaults(template: Any) -> None:
    built = parameters_schema(template)
    Draft202012Validator.check_schema(built)
    defaults = {name: prop["default"] for name, prop in built["properties"].items()
                if "default" in prop}
    assert set(built["required"]) == set(built["properties"]) - set(defaults)
    errors = [e.message for e in Draft202012Validator(built).iter_errors(defaults)
              if e.validator != "required"]
    assert errors == []
