"""Parameter values checked as Heat checks them, with Heat's messages, and
environments merged in Heat's order."""

from __future__ import annotations

from typing import Any

import pytest

from heater.errors import InvalidInput
from heater.templates.paramcheck import MAX_ENVIRONMENT_FILES, check_parameter_values
from tests.templates.test_paramschema import TEMPLATE

# Every parameter given a value that Heat takes.
GOOD: dict[str, Any] = {"name": "abc", "meta": {"a": 1}}


def _messages(body: dict[str, Any], template: Any = TEMPLATE) -> list[tuple[str | None, str]]:
    return [(p.parameter or p.file, p.message) for p in check_parameter_values(template, body)]


def test_values_heat_takes_are_valid() -> None:
    assert _messages({"parameters": GOOD}) == []
    lenient = {**GOOD, "count": "4", "debug": "Off", "nets": ["a", "c.d"], "port": "http",
               "meta": '{"a": [1]}', "image": "anything: custom constraints need the cloud"}
    assert _messages({"parameters": lenient}) == []


def test_unknown_and_missing_parameters() -> None:
    assert _messages({"parameters": {"nmae": "x"}}) == [
        ("nmae", "The Parameter (nmae) was not defined in template."),
        ("name", "The Parameter (name) was not provided."),
        ("meta", "The Parameter (meta) was not provided."),
    ]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("count", "abc", "could not convert string to float: 'abc'"),
    ("count", [1], "int() argument must be a string, a bytes-like object or a real number, "
                   "not 'list'"),
    ("debug", "maybe", "Unrecognized value 'maybe', acceptable values are: '0', '1', 'f', "
                       "'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"),
    ("nets", 5, "Value must be a comma-delimited list string: 'int' object has no "
                "attribute 'split'"),
    ("meta", "{bad", "Value must be valid JSON: Expecting property name enclosed in double "
                     "quotes: line 1 column 2 (char 1)"),
    ("name", ["a"], "Value must be a string, not a list"),
])
def test_type_errors(name: str, value: Any, message: str) -> None:
    assert _messages({"parameters": {**GOOD, name: value}}) == [
        (name, f"Parameter '{name}' is invalid: {message}")]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("name", "abcdefghi", "length (9) is out of range (min: 1, max: 8)"),
    ("name", "Abc", '"Abc" does not match pattern "[a-z]+"'),
    ("name", "bc", "starts with a"),  # the constraint's own description
    ("port", "ftp", '"ftp" is not an allowed value [8080, "http"]'),
    ("count", "12", "12 is out of range (min: 1, max: 10)"),
    ("count", 3, "3 is not a multiple of 2 with an offset of 0"),
    ("nets", "a,x", '["a", "x"] is not an allowed value ["a", "b", "c.d"]'),
    ("nets", "", "length (0) is out of range (min: 1, max: 3)"),
    ("meta", [1, 2, 3, 4, 5], "length (5) is out of range (min: None, max: 4)"),
])
def test_constraint_violations(name: str, value: Any, message: str) -> None:
    assert _messages({"parameters": {**GOOD, name: value}}) == [
        (name, f"Parameter '{name}' is invalid: {message}")]


def test_environment_parameters_and_defaults_merge_as_heat_merges() -> None:
    body = {"parameters": {"name": "abc"},
            "environment": {"parameters": {"name": "NOPE", "count": 4},
                            "parameter_defaults": {"meta": {"a": 1}}}}
    # The request's parameters go over the environment's.
    assert _messages(body) == []
    files = {"first.yaml": "parameters:\n  count: 12\n",
             "second.yaml": "parameter_defaults:\n  meta: []\n  unknown: 1\n"}
    problems = check_parameter_values(TEMPLATE, {"parameters": {"name": "abc"},
                                                 "environment_files": files})
    # A later file goes over the request; a default is checked, and named by its file.
    assert [(p.parameter, p.file, p.message) for p in problems] == [
        ("count", "first.yaml", "Parameter 'count' is invalid: 12 is out of range "
                                "(min: 1, max: 10)"),
    ]
    # meta's default [] from second.yaml satisfies it; "unknown" only as a default is ignored.


def test_the_first_environment_file_is_taken_whole() -> None:
    files = {"env.yaml": "parameters:\n  name: abc\n  stray: 1\nparameter_defaults:\n"
                         "  meta: {a: 1}\n"}
    assert [(p.parameter, p.file, p.message)
            for p in check_parameter_values(TEMPLATE, {"environment_files": files})] == [
        ("stray", "env.yaml", "The Parameter (stray) was not defined in template.")]


def test_malformed_environments_name_their_file() -> None:
    files = {"a.yaml": "paramters: {}\n", "b.yaml": "- a list\n", "c.yaml": "event_sinks:\n",
             "d.yaml": "parameters: [1]\n", "e.yaml": "parameters: {a: [\n"}
    problems = check_parameter_values(TEMPLATE, {"parameters": GOOD,
                                                 "environment_files": files})
    assert [(p.file, p.message) for p in problems][:4] == [
        ("a.yaml", 'environment has wrong section "paramters"'),
        ("b.yaml", "The environment is not a valid YAML mapping data type."),
        ("c.yaml", 'environment has empty section "event_sinks"'),
        ("d.yaml", 'environment section "parameters" must be a mapping'),
    ]
    assert problems[4].file == "e.yaml" and problems[4].message.startswith("e.yaml:2: invalid YAML")
    assert len(problems) == 5
    inline = check_parameter_values(TEMPLATE, {"parameters": GOOD,
                                               "environment": {"resource_registr": {}}})
    assert [(p.file, p.message) for p in inline] == [
        ("environment", 'environment has wrong section "resource_registr"')]


@pytest.mark.parametrize(("body", "code"), [
    ({"parameters": ["a"]}, "invalid_value"),
    ({"environment": "parameters: {}"}, "invalid_value"),
    ({"environment_files": {"a.yaml": 5}}, "invalid_value"),
    ({"environment_files": {"": "{}"}}, "invalid_value"),
    ({"environment": {}, "environment_files": {}}, "invalid_value"),
    ({"environment_files": {f"{i}.yaml": "{}" for i in range(MAX_ENVIRONMENT_FILES + 1)}},
     "invalid_value"),
])
def test_bodies_of_the_wrong_shape_are_refused(body: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_parameter_values(TEMPLATE, body)
    assert refused.value.code == code


def test_odd_input_is_a_problem_not_a_crash() -> None:
    surrogate = check_parameter_values(TEMPLATE, {"parameters": GOOD,
                                                  "environment_files": {"x.yaml": "a: \ud800"}})
    assert [(p.file, p.message) for p in surrogate] == [("x.yaml", "x.yaml:1: is not valid UTF-8")]
    binary = {"heat_template_version": "2018-08-31", "parameters": {
        "s": {"type": "string", "constraints": [{"allowed_values": [b"\x01", 2]}]}}}
    assert _messages({"parameters": {"s": "z"}}, binary) == [
        ("s", "Parameter 's' is invalid: \"z\" is not an allowed value [\"AQ==\", 2]")]
