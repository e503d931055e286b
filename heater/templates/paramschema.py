"""A template's parameters as a JSON Schema (draft 2020-12).

What a form or a CI job needs to offer or check a stack's parameters before
Heat sees them: every HOT type mapped to what Heat accepts for it, defaults
as Heat reads them, constraints as JSON Schema keywords where JSON Schema
can say the same, and what it cannot say (custom constraints, a modulo with
an offset, immutability, parameter groups) as ``x-heat-*`` annotations.
Heat's lenient readings of a value (``"42"`` for a number, ``"yes"`` for a
boolean) are not in the schema; :mod:`heater.templates.paramcheck` checks
values exactly as Heat does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from heater.templates.yamlload import jsonable

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Heat's parameter types, as HOT spells them.
STRING, NUMBER, BOOLEAN, LIST, JSON = (
    "string", "number", "boolean", "comma_delimited_list", "json")

# Which constraint applies to which type (Heat's constraints.py valid_types,
# read through the parameter types): another pairing is a broken template,
# which push validation reports, not a value to check.
VALID_CONSTRAINTS: dict[str, frozenset[str]] = {
    STRING: frozenset({"length", "allowed_values", "allowed_pattern", "custom_constraint"}),
    NUMBER: frozenset({"range", "modulo", "allowed_values", "custom_constraint"}),
    BOOLEAN: frozenset({"allowed_values", "custom_constraint"}),
    LIST: frozenset({"length", "allowed_values", "custom_constraint"}),
    JSON: frozenset({"length"}),
}

TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")
FALSE_STRINGS = ("0", "f", "false", "off", "n", "no")


def parameter_definitions(template: Any) -> dict[str, dict[str, Any]]:
    """The template's parameters that are mappings with a known type, by name."""
    section = template.get("parameters") if isinstance(template, dict) else None
    if not isinstance(section, dict):
        return {}
    return {str(name): definition for name, definition in section.items()
            if isinstance(definition, dict) and definition.get("type") in VALID_CONSTRAINTS}


def constraints_of(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The constraints of a parameter that apply to its type, in order."""
    listed = definition.get("constraints")
    valid = VALID_CONSTRAINTS[definition["type"]]
    return [c for c in (listed if isinstance(listed, list) else [])
            if isinstance(c, dict) and any(k in valid for k in c)]


# -- Heat's readings of a value ---------------------------------------------

def str_to_num(value: Any) -> int | float:
    """Heat's ``Schema.str_to_num``: a number, or the ValueError or TypeError
    Python's ``int``/``float`` give (Heat shows their message)."""
    if isinstance(value, (int, float)):
        return value
    try:
        return int(value)
    except ValueError:
        return float(value)


def bool_from_string(value: Any) -> bool:
    """oslo's ``bool_from_string(strict=True)``, which Heat uses for booleans."""
    if isinstance(value, bool):
        return value
    text = str(value)
    lowered = text.strip().lower()
    if lowered in TRUE_STRINGS:
        return True
    if lowered in FALSE_STRINGS:
        return False
    acceptable = ", ".join(f"'{s}'" for s in sorted(TRUE_STRINGS + FALSE_STRINGS))
    raise ValueError(f"Unrecognized value '{text}', acceptable values are: {acceptable}")


def as_heat_value(ptype: str, value: Any) -> Any:
    """``value`` as Heat hands it to the template for ``ptype``; ValueError
    (or TypeError) when Heat cannot read it as that type."""
    if ptype == NUMBER:
        return str_to_num(value)
    if ptype == BOOLEAN:
        return bool_from_string(value)
    if ptype == LIST:
        if isinstance(value, list):
            return [str(item) for item in value]
        if not isinstance(value, str):
            raise ValueError("Value must be a comma-delimited list string: "
                             f"'{type(value).__name__}' object has no attribute 'split'")
        return value.split(",") if value else []
    if ptype == JSON:
        return _parsed_json(value)
    return value if isinstance(value, str) else str(value)


def _parsed_json(value: Any) -> Any:
    if not isinstance(value, str):
        return json.loads(json.dumps(value))
    if not value:
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"Value must be valid JSON: {exc}") from None


# -- the schema ---------------------------------------------------------------

def parameters_schema(template: Any, title: str | None = None) -> dict[str, Any]:
    """The JSON Schema of the stack parameters ``template`` (a loaded HOT
    document) takes: an object whose properties are its parameters,
    ``required`` those without a default, no other property (Heat refuses
    a parameter the template does not define)."""
    definitions = parameter_definitions(template)
    schema: dict[str, Any] = {"$schema": DIALECT, "type": "object"}
    if title:
        schema["title"] = title
    description = template.get("description") if isinstance(template, dict) else None
    if isinstance(description, str):
        schema["description"] = description
    schema["properties"] = {name: parameter_schema(d) for name, d in definitions.items()}
    schema["required"] = [name for name, d in definitions.items() if d.get("default") is None]
    schema["additionalProperties"] = False
    groups = template.get("parameter_groups") if isinstance(template, dict) else None
    if isinstance(groups, list):
        schema["x-heat-parameter-groups"] = [jsonable(g) for g in groups if isinstance(g, dict)]
    version = template.get("heat_template_version") if isinstance(template, dict) else None
    if version is not None:
        schema["x-heat-template-version"] = str(version)
    return schema


def parameter_schema(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one parameter (a mapping with a known ``type``)."""
    ptype = definition["type"]
    schema = _type_schema(ptype)
    for key, keyword in (("label", "title"), ("description", "description")):
        if isinstance(definition.get(key), str):
            schema[keyword] = definition[key]
    if definition.get("default") is not None:
        schema["default"] = _default(ptype, definition["default"])
    if definition.get("hidden") in (True, "true", "True"):
        schema["writeOnly"] = True
    if definition.get("immutable") in (True, "true", "True"):
        schema["x-heat-immutable"] = True
    if isinstance(definition.get("tags"), list):
        schema["x-heat-tags"] = [str(t) for t in definition["tags"]]
    for constraint in constraints_of(definition):
        _add(schema, _constraint_schema(ptype, constraint), constraint.get("description"))
    return schema


def _type_schema(ptype: str) -> dict[str, Any]:
    if ptype == NUMBER:
        return {"type": "number"}
    if ptype == BOOLEAN:
        return {"type": "boolean"}
    if ptype == LIST:
        # Heat takes a list, or a string it splits on every comma.
        return {"type": ["array", "string"], "items": {"type": "string"}}
    if ptype == JSON:
        # Heat takes a map or a list, or a string holding JSON that it parses.
        return {"type": ["object", "array", "string"], "contentMediaType": "application/json"}
    return {"type": "string"}


def _default(ptype: str, value: Any) -> Any:
    """The default as Heat reads it (``"8080"`` for a string parameter whose
    YAML default is the number 8080); as written when Heat cannot read it."""
    try:
        read = as_heat_value(ptype, value)
    except (ValueError, TypeError):
        return jsonable(value)
    return jsonable(read)


def _constraint_schema(ptype: str, constraint: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema keywords saying what one Heat constraint says."""
    if "allowed_values" in constraint:
        allowed = constraint["allowed_values"]
        if not isinstance(allowed, list):
            return {}  # not a constraint Heat can build: the template's problem
        if ptype == LIST:
            # Each item must be allowed, as written (Heat compares without
            # converting); the string form too, item by item.
            alternatives = "|".join(_escape(v) for v in allowed if isinstance(v, str))
            return {"items": {"enum": [jsonable(v) for v in allowed]},
                    "pattern": f"^(?:(?:{alternatives})(?:,(?:{alternatives}))*)?$"}
        return {"enum": [_default(ptype, v) for v in allowed]}
    if "range" in constraint:
        return _bounds(constraint["range"], "minimum", "maximum")
    if "length" in constraint:
        if ptype == LIST:
            return _bounds(constraint["length"], "minItems", "maxItems")
        if ptype == JSON:
            return {**_bounds(constraint["length"], "minProperties", "maxProperties"),
                    **_bounds(constraint["length"], "minItems", "maxItems")}
        return _bounds(constraint["length"], "minLength", "maxLength")
    if "allowed_pattern" in constraint:
        pattern = f"^(?:{constraint['allowed_pattern']})$"
        try:
            re.compile(pattern)
        except re.error:
            return {}  # Heat cannot compile it either: the template's problem
        # Heat's re.match must end at the end of the value: anchored both ways.
        return {"pattern": pattern}
    if "modulo" in constraint:
        spec = constraint["modulo"] if isinstance(constraint["modulo"], dict) else {}
        found: dict[str, Any] = {"x-heat-modulo": jsonable(spec)}
        step, offset = number_of(spec.get("step")), number_of(spec.get("offset"))
        if step is not None and step > 0 and offset == 0:
            found["multipleOf"] = step
        return found
    return {"x-heat-custom-constraint": str(constraint.get("custom_constraint"))}


# Escaped with a backslash, which both Python's and ECMA-262's regular
# expressions (JSON Schema's dialect) read as the character itself.
_SPECIAL = frozenset("\\^$.|?*+()[]{}/")


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if c in _SPECIAL else c for c in text)


def number_of(value: Any) -> int | float | None:
    """A finite number as Heat reads one from a constraint, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = str_to_num(value)
    except (ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None


def _bounds(spec: Any, low: str, high: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, keyword in (("min", low), ("max", high)):
        number = number_of(spec.get(key)) if isinstance(spec, dict) else None
        # Counts must be whole and not negative, or the schema is invalid.
        counts = keyword not in ("minimum", "maximum")
        if number is not None and (not counts or (number >= 0 and number == int(number))):
            found[keyword] = int(number) if counts else number
    return found


def _add(schema: dict[str, Any], keywords: dict[str, Any], description: Any) -> None:
    """Merge one constraint's keywords into ``schema``; a keyword already
    there (a second pattern) or a constraint with its own description goes
    into ``allOf``, so that nothing is overwritten or loses its words."""
    if not keywords:
        return
    if isinstance(description, str) or any(k in schema for k in keywords):
        extra = dict(keywords)
        if isinstance(description, str):
            extra["description"] = description
        schema.setdefault("allOf", []).append(extra)
        return
    schema.update(keywords)


__all__ = ["DIALECT", "VALID_CONSTRAINTS", "as_heat_value", "bool_from_string",
           "constraints_of", "number_of", "parameter_definitions", "parameter_schema",
           "parameters_schema", "str_to_num"]
