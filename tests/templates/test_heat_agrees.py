"""Heater's verdict on a template agrees with real Heat's: every template of
the corpus (tests/templates/heat_corpus.py) goes through the validation a
push runs and through Heat 19's ``stack create --dry-run``; the table of
both verdicts is printed at the end of the test run.

Where they differ on purpose, :data:`DIFFERENCES` says why (the README's
push validation section says the same); any other difference fails.
"""

from __future__ import annotations

from collections.abc import Callable

from heater.templates.validation import MappingSource, findings
from tests.heat_support import Heat
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
