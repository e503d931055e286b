"""Checking stack parameter values against a template, as Heat does.

The request body mirrors what Heat's ``POST /stacks`` takes: ``parameters``
(name to value), and either an ``environment`` (a parsed environment) or
``environment_files`` (file name to YAML text, merged in the order given).
Heat's order is kept: the request's ``parameters`` go over the
environment's, then each environment file's ``parameters`` and
``parameter_defaults`` go over what came before (Heat's ``overwrite``
strategy; ``parameter_merge_strategies`` are not modelled).

Every problem is reported, not only the first as Heat does, each with the
message Heat gives for it: an unknown parameter, one not provided, a value
Heat cannot read as the parameter's type, a value that breaks a constraint
(the constraint's own ``description`` when it has one). Custom constraints
need the cloud and are not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heater.errors import InvalidValue
from heater.templates.paramschema import (
    BOOLEAN,
    LIST,
    NUMBER,
    STRING,
    as_heat_value,
    constraints_of,
    number_of,
    parameter_definitions,
    str_to_num,
)
from heater.templates.yamlload import YamlError, jsonable, load_yaml

BODY_FIELDS = ("parameters", "environment", "environment_files")
# Heat's environment sections (environment_format.SECTIONS).
ENVIRONMENT_SECTIONS = ("parameters", "resource_registry", "parameter_defaults",
                        "encrypted_param_names", "event_sinks", "parameter_merge_strategies")
# A stack takes a handful of environment files; python-heatclient sends
# them all in one request, whose body is bounded anyway.
MAX_ENVIRONMENT_FILES = 32
MAX_FILE_NAME = 255


@dataclass(frozen=True)
class ValueProblem:
    """One wrong value or file: ``parameter`` and/or ``file`` say which."""

    message: str
    parameter: str | None = None
    file: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "file": self.file, "message": self.message}


@dataclass(frozen=True)
class _Merged:
    """The parameters and parameter defaults after merging, with where each
    value came from (``parameters``, ``environment`` or a file name)."""

    values: dict[str, Any]
    defaults: dict[str, Any]
    sources: dict[str, str]


def check_parameter_values(template: Any, body: Mapping[str, Any]) -> list[ValueProblem]:
    """Every problem with the values ``body`` gives for ``template``'s
    parameters; empty when Heat would take them (custom constraints aside).
    A body that is not of the documented shape is InvalidValue."""
    parameters = _object_field(body, "parameters")
    environment = _object_field(body, "environment")
    files = _object_field(body, "environment_files")
    if body.get("environment") is not None and body.get("environment_files") is not None:
        raise InvalidValue("environment_files",
                           "give either 'environment' or 'environment_files', not both "
                           "(Heat ignores 'environment' when files are given)")
    if len(files) > MAX_ENVIRONMENT_FILES:
        raise InvalidValue("environment_files",
                           f"at most {MAX_ENVIRONMENT_FILES} environment files")
    problems: list[ValueProblem] = []
    start = _environment_section(environment, "environment", problems) if environment else {}
    merged = _merge(start, parameters, files, set(parameter_definitions(template)), problems)
    problems.extend(_check_values(template, merged))
    return problems


def _object_field(body: Mapping[str, Any], field: str) -> dict[str, Any]:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(field, f"{field!r} must be a JSON object")
    if field == "environment_files":
        for name, text in value.items():
            if not isinstance(text, str) or not name or len(name) > MAX_FILE_NAME:
                raise InvalidValue(field, "'environment_files' maps a file name (1 to "
                                   f"{MAX_FILE_NAME} characters) to its YAML text")
    return value


def _environment_section(env: Any, source: str,
                         problems: list[ValueProblem]) -> dict[str, dict[str, Any]]:
    """The ``parameters`` and ``parameter_defaults`` of one environment, with
    Heat's refusals of a malformed one as problems of ``source``."""
    if not isinstance(env, dict):
        problems.append(ValueProblem("The environment is not a valid YAML mapping data type.",
                                     file=source))
        return {}
    found: dict[str, dict[str, Any]] = {}
    for section, value in env.items():
        if section not in ENVIRONMENT_SECTIONS:
            problems.append(ValueProblem(f'environment has wrong section "{section}"',
                                         file=source))
        elif value is None:
            problems.append(ValueProblem(f'environment has empty section "{section}"',
                                         file=source))
        elif section in ("parameters", "parameter_defaults"):
            if isinstance(value, dict):
                found[section] = {str(k): v for k, v in value.items()}
            else:
                problems.append(ValueProblem(f'environment section "{section}" must be '
                                             "a mapping", file=source))
    return found


def _merge(start: dict[str, dict[str, Any]], parameters: dict[str, Any],
           files: dict[str, str], defined: set[str],
           problems: list[ValueProblem]) -> _Merged:
    values = dict(start.get("parameters", {}))
    sources = dict.fromkeys(values, "environment")
    values.update(parameters)
    sources.update(dict.fromkeys(parameters, "parameters"))
    defaults = dict(start.get("parameter_defaults", {}))
    default_sources = dict.fromkeys(defaults, "environment")
    for name, text in files.items():
        try:
            # A lone surrogate (valid in JSON text) is then refused as bad UTF-8.
            loaded = load_yaml(text.encode("utf-8", "surrogatepass"), name).data
        except YamlError as exc:
            problems.append(ValueProblem(str(exc), file=name))
            continue
        env = _environment_section({} if loaded is None else loaded, name, problems)
        for section, target, where in (("parameters", values, sources),
                                       ("parameter_defaults", defaults, default_sources)):
            new = env.get(section, {})
            # Heat's merge_parameters: the first values are taken whole;
            # later ones only for parameters the template has.
            keep = new if not target else {k: v for k, v in new.items()
                                           if k in defined and v is not None}
            target.update(keep)
            where.update(dict.fromkeys(keep, name))
    return _Merged(values, defaults, {**{k: v for k, v in default_sources.items()
                                         if k not in sources}, **sources})


def _check_values(template: Any, merged: _Merged) -> list[ValueProblem]:
    definitions = parameter_definitions(template)
    problems = [ValueProblem(f"The Parameter ({name}) was not defined in template.",
                             parameter=name, file=_file(merged.sources.get(name)))
                for name in merged.values if name not in definitions]
    for name, definition in definitions.items():
        value = merged.values.get(name)
        source = name
        if value is None:
            value = merged.defaults.get(name)
            if value is None:
                value = definition.get("default")
                source = ""
        if value is None:
            problems.append(ValueProblem(f"The Parameter ({name}) was not provided.",
                                         parameter=name))
            continue
        reason = value_problem(definition, value)
        if reason is not None:
            problems.append(ValueProblem(f"Parameter '{name}' is invalid: {reason}",
                                         parameter=name,
                                         file=_file(merged.sources.get(source))))
    return problems


def _file(source: str | None) -> str | None:
    return None if source in (None, "parameters") else source


def value_problem(definition: Mapping[str, Any], value: Any) -> str | None:
    """Why Heat refuses ``value`` for a parameter defined as ``definition``
    (in Heat's words), or None."""
    reason = type_problem(definition["type"], value)
    if reason is not None:
        return reason
    broken = broken_constraint(definition, value)
    if broken is None:
        return None
    constraint, checked = broken
    description = constraint.get("description")
    return description if isinstance(description, str) else \
        _constraint_message(constraint, checked)


def type_problem(ptype: str, value: Any) -> str | None:
    """Why Heat cannot read ``value`` as a parameter of type ``ptype`` (in
    Heat's words), or None."""
    if ptype == STRING and isinstance(value, (dict, list)):
        # Heat would take the text of a Python object: never what was meant.
        return f"Value must be a string, not a {'map' if isinstance(value, dict) else 'list'}"
    try:
        as_heat_value(ptype, value)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def broken_constraint(definition: Mapping[str, Any],
                      value: Any) -> tuple[dict[str, Any], Any] | None:
    """The first constraint of ``definition`` that ``value`` (one Heat reads
    as the parameter's type: see :func:`type_problem`) breaks, and the value
    as Heat hands it to the constraint; None when it meets them all."""
    ptype = definition["type"]
    checked = value if ptype in (NUMBER, BOOLEAN) else as_heat_value(ptype, value)
    for constraint in constraints_of(definition):
        if not satisfies(ptype, constraint, checked):
            return constraint, checked
    return None


def satisfies(ptype: str, constraint: Mapping[str, Any], value: Any) -> bool:
    """Whether ``value`` (as Heat passes it to constraints) meets one
    constraint of a parameter of type ``ptype``; one Heat cannot evaluate
    offline is met. The one check of a value against a constraint: push
    validation's (:mod:`heater.templates.heatcheck`) uses it too."""
    try:
        if "allowed_values" in constraint:
            allowed = constraint["allowed_values"]
            if not isinstance(allowed, list):
                return True
            if ptype == LIST:
                return all(item in allowed for item in value)
            return as_heat_value(ptype, value) in [as_heat_value(ptype, a) for a in allowed]
        if "range" in constraint or "length" in constraint:
            spec = constraint.get("range", constraint.get("length"))
            measured = str_to_num(value) if "range" in constraint else len(value)
            low, high = (_num(spec, "min"), _num(spec, "max"))
            return (low is None or measured >= low) and (high is None or measured <= high)
        if "allowed_pattern" in constraint:
            return matches_pattern(str(constraint["allowed_pattern"]), str(value)) is not False
        if "modulo" in constraint:
            step, offset = _num(constraint["modulo"], "step"), _num(constraint["modulo"], "offset")
            if not step or offset is None:
                return True
            return bool(str_to_num(value) % step == offset)
    except (ValueError, TypeError):
        return True  # Heat's own schema check refuses the template first
    return True


def matches_pattern(pattern: str, value: str) -> bool | None:
    """Heat anchors allowed_pattern at both ends; None when the pattern is
    not one Python's re can compile (Heat's is the same engine)."""
    try:
        return re.match(f"(?:{pattern})\\Z", value) is not None
    except re.error:
        return None


def _num(spec: Any, key: str) -> int | float | None:
    return number_of(spec.get(key)) if isinstance(spec, dict) else None


def _constraint_message(constraint: Mapping[str, Any], value: Any) -> str:
    """Heat's own message for a broken constraint (constraints.py ``_err_msg``)."""
    if "allowed_values" in constraint:
        allowed = ", ".join(json.dumps(jsonable(a)) for a in constraint["allowed_values"])
        return f"{json.dumps(jsonable(value))} is not an allowed value [{allowed}]"
    if "range" in constraint or "length" in constraint:
        spec = constraint.get("range", constraint.get("length"))
        bounds = f"(min: {_num(spec, 'min')}, max: {_num(spec, 'max')})"
        if "length" in constraint:
            return f"length ({len(value)}) is out of range {bounds}"
        return f"{value} is out of range {bounds}"
    if "allowed_pattern" in constraint:
        return f'"{value}" does not match pattern "{constraint["allowed_pattern"]}"'
    spec = constraint["modulo"]
    return (f"{value} is not a multiple of {_num(spec, 'step')} "
            f"with an offset of {_num(spec, 'offset')}")


__all__ = ["BODY_FIELDS", "MAX_ENVIRONMENT_FILES", "ValueProblem", "broken_constraint",
           "check_parameter_values", "matches_pattern", "satisfies", "type_problem",
           "value_problem"]
