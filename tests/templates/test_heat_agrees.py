"""Heater's verdict on a template agrees with real Heat's: every template of
the corpus (tests/templates/heat_corpus.py) goes through the validation a
push runs and through Heat 19's ``stack create --dry-run``; the table of
both verdicts is printed at the end of the test run.

Where they differ on purpose, :data:`DIFFERENCES` says why (the README's
push validation section says the same); any other difference fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from heatclient.common import template_format

from heater.templates.paramcheck import check_parameter_values
from heater.templates.validation import MappingSource, findings
from tests.heat_support import Heat, stack_name
from tests.services.openstack import Cloud
from tests.templates.heat_corpus import CASES

_SCHEMAS_RELEASE = ("a warning, not a refusal, by default: Heat's schemas in Heater come "
                    "from one Heat release and the cloud may run another (properties come "
                    "and go), and Heat's translation rules may rewrite a value before "
                    "checking it; a repository can not rely on it offline")
DIFFERENCES = {
    "unknown property": _SCHEMAS_RELEASE,
    "property of the wrong type": _SCHEMAS_RELEASE,
    "property outside its constraint": _SCHEMAS_RELEASE,
    "function of a later version": (
        "Heater refuses on purpose: Heat takes the unknown function's mapping as plain "
        "data, so the stack silently gets {'list_concat': ...} instead of a list; "
        "'validation: {warn: [unknown-function]}' in heater.yaml lowers it"),
}


def heaters_verdict(template: str) -> tuple[str, str]:
    """``refuses``, ``warns`` or ``accepts``, and the first problem."""
    problems = findings(MappingSource({"template.yaml": template.encode()}))
    errors = [str(p) for p in problems if not p.warning]
    if errors:
        return "refuses", errors[0]
    if problems:
        return "warns", str(problems[0])
    return "accepts", ""


def table(rows: list[tuple[str, str, str, str]]) -> str:
    width = max(len(name) for name, *_ in rows)
    lines = [f"{'template':<{width}}  {'heat':<8} {'heater':<8} agree",
             f"{'-' * width}  {'-' * 8} {'-' * 8} -----"]
    for name, heat, heater, agree in rows:
        lines.append(f"{name:<{width}}  {heat:<8} {heater:<8} {agree}")
    return "\n".join(lines)


def test_heater_refuses_what_heat_refuses_and_accepts_what_it_accepts(
        cloud: Cloud, record_property: Callable[[str, object], None]) -> None:
    heat = Heat(cloud, cloud.make_user())
    rows, disagree = [], {}
    for name, template in CASES.items():
        refusal = heat.refusal(template)
        heater, problem = heaters_verdict(template)
        agree = (refusal is not None) == (heater == "refuses")
        rows.append((name, "refuses" if refusal else "accepts", heater,
                     "yes" if agree else "DOCUMENTED" if name in DIFFERENCES else "NO"))
        if not agree:
            disagree[name] = f"Heat: {refusal or 'accepts'} / Heater: {problem or 'accepts'}"
    record_property("report:Heater's verdict and Heat 19's stack create --dry-run",
                    table(rows))
    assert set(disagree) == set(DIFFERENCES), (table(rows), disagree)
    # The corpus covers both ways: templates Heat accepts, and refuses.
    assert {row[1] for row in rows} == {"accepts", "refuses"}


VALUES_TEMPLATE = """heat_template_version: 2018-08-31
parameters:
  name:
    type: string
    constraints: [{allowed_pattern: "[a-z][a-z0-9-]*"}]
  flavor:
    type: string
    default: m1.small
    constraints: [{allowed_values: [m1.small, m1.large]}]
  count:
    type: number
    default: 1
    constraints: [{range: {min: 1, max: 5}}]
  debug: {type: boolean, default: false}
  settings: {type: json, default: {}}
  zones:
    type: comma_delimited_list
    default: a
    constraints: [{length: {max: 2}}]
resources:
  nothing: {type: OS::Heat::None}
"""
# Parameter values and environment files, each with at most one mistake
# (Heat stops at the first): POST .../validate's answer against Heat's.
VALUE_CASES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "values Heat takes": ({"name": "web", "count": "3", "debug": "yes", "zones": "a,b"}, {}),
    "a parameter not provided": ({}, {}),
    "a parameter not defined": ({"name": "web", "colour": "red"}, {}),
    "a pattern not matched": ({"name": "Web"}, {}),
    "a value not allowed": ({"name": "web", "flavor": "m1.huge"}, {}),
    "a number out of range": ({"name": "web", "count": "9"}, {}),
    "not a number": ({"name": "web", "count": "many"}, {}),
    "not a boolean": ({"name": "web", "debug": "maybe"}, {}),
    "not JSON": ({"name": "web", "settings": "{not json"}, {}),
    "a list too long": ({"name": "web", "zones": "a,b,c"}, {}),
    "a file's value out of range": ({"name": "web"}, {"prod.yaml": "parameters:\n  count: 9\n"}),
    "a file's default out of range": (
        {"name": "web"}, {"prod.yaml": "parameter_defaults:\n  count: 0\n"}),
    "a file's wrong section": ({"name": "web"}, {"typo.yaml": "paramters: {}\n"}),
}


def test_heat_refuses_the_values_heater_refuses_in_the_same_words(cloud: Cloud) -> None:
    heat = Heat(cloud, cloud.make_user())
    template = template_format.parse(VALUES_TEMPLATE)
    differ = {}
    for name, (values, files) in VALUE_CASES.items():
        answer = heat.call("POST", "/stacks/preview", json={
            "stack_name": stack_name(), "template": template, "parameters": values,
            "files": files, "environment_files": list(files), "environment": {}})
        assert answer.status_code in (200, 400), (name, answer.text)
        error = answer.json()["error"] if answer.status_code == 400 else {}
        refusal = error.get("message") if error else None
        if error and refusal is None:
            # Heat's API leaves out a ValueError's message: Heater says what
            # Heat's environment parser raised (a file's wrong section).
            assert error["type"] == "ValueError", (name, error)
            refusal = 'environment has wrong section "paramters"'
        body: dict[str, Any] = {"parameters": values}
        if files:
            body["environment_files"] = files
        ours = [p.message for p in check_parameter_values(template, body)]
        # One mistake, one message, word for word inside Heat's.
        agree = (refusal is None and ours == []) or (
            refusal is not None and len(ours) == 1 and ours[0] in refusal)
        if not agree:
            differ[name] = f"Heat: {refusal} / Heater: {ours}"
    assert differ == {}
