"""Checking a template as Heat would, offline, from Heat's own schemas.

What Heat refuses at ``stack create`` without asking any other service is
refused here at push time: unknown sections and resource keys, parameter
definitions that break their own rules, references to parameters,
resources and conditions that are not defined, functions the template's
version does not have, resource types Heat does not know (and no
environment maps), unknown or missing properties, literal values of the
wrong type, and attributes a type does not have. Deprecated and hidden
types are warnings that name their replacement.

Findings name the place as keys into the document, so that the caller turns
them into ``file:line`` with the document's positions; each has a rule id
that a repository may lower to a warning (``heater.yaml``), for resource
types that a plugin provides on the operator's cloud.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from heater.names import closest
from heater.templates.heatschemas import (
    ANY_ITEM,
    HeatSchemas,
    PropertySchema,
    SupportStatus,
    TemplateVersion,
    heat_schemas,
)
from heater.templates.hot import TEMPLATE_TYPE_SUFFIXES
from heater.templates.paramcheck import broken_constraint, satisfies, type_problem
from heater.templates.paramschema import BOOLEAN, JSON, LIST, NUMBER, STRING

Keys = tuple[str | int, ...]

# Heat's pseudo parameters, readable with get_param in every template.
PSEUDO_PARAMETERS = frozenset({"OS::stack_name", "OS::stack_id", "OS::project_id"})
# heat_template_version from which deletion_policy may be written lower-case.
LOWER_CASE_POLICIES_SINCE = "2016-10-14"

class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Rule(enum.StrEnum):
    """Every check, by the id a repository names to lower it to a warning."""

    UNKNOWN_SECTION = "unknown-section"
    UNKNOWN_FUNCTION = "unknown-function"
    FUNCTION_ARGUMENTS = "function-arguments"
    PARAMETER_DEFINITION = "parameter-definition"
    UNDEFINED_PARAMETER = "undefined-parameter"
    UNDEFINED_RESOURCE = "undefined-resource"
    UNDEFINED_CONDITION = "undefined-condition"
    RESOURCE_DEFINITION = "resource-definition"
    OUTPUT_DEFINITION = "output-definition"
    UNKNOWN_RESOURCE_TYPE = "unknown-resource-type"
    UNKNOWN_PLUGIN_TYPE = "unknown-plugin-type"
    UNKNOWN_PROPERTY = "unknown-property"
    MISSING_PROPERTY = "missing-property"
    PROPERTY_TYPE = "property-type"
    PROPERTY_CONSTRAINT = "property-constraint"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    DEPRECATED_TYPE = "deprecated-type"


# Warnings, not refusals (the README lists them): a deprecated type still
# works; a property Heat's schemas lack may come with a newer Heat release
# than the one they were taken from; Heat's translation rules (not known
# offline) may rewrite a literal before it is checked; and a type in a
# namespace Heat does not know may come from a plugin on the operator's cloud.
WARNINGS_BY_DEFAULT = frozenset({Rule.DEPRECATED_TYPE, Rule.UNKNOWN_PROPERTY,
                                 Rule.PROPERTY_TYPE, Rule.PROPERTY_CONSTRAINT,
                                 Rule.UNKNOWN_PLUGIN_TYPE})


@dataclass(frozen=True)
class Finding:
    keys: Keys
    rule: Rule
    message: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class Context:
    """What a template is checked against beyond Heat's schemas.

    ``registry`` maps resource types to what an environment of the
    repository maps them to (a file, or another type; ``*`` wildcards as
    Heat allows them); ``nested`` holds the parameters of nested templates
    found in the repository, by resolved path, for their properties.
    """

    registry: Mapping[str, str] = field(default_factory=dict)
    nested_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lowered: frozenset[str] = frozenset()




def check_template(data: Mapping[str, Any], nested_path: Any = None,
                   context: Context | None = None,
                   schemas: HeatSchemas | None = None) -> list[Finding]:
    """Every finding about the template ``data`` (a loaded HOT document).

    ``nested_path`` resolves a nested template ``type:`` to the key of
    ``context.nested_parameters`` (None when it leaves the repository)."""
    schemas = schemas or heat_schemas()
    version = schemas.template_versions.get(str(data.get("heat_template_version")))
    if version is None:
        return []  # an unknown version is the validator's own refusal
    checker = _Checker(data, version, schemas, context or Context(), nested_path)
    checker.run()
    lowered = checker.context.lowered
    return [Finding(f.keys, f.rule, f.message, Severity.WARNING)
            if f.rule in lowered or f.rule in WARNINGS_BY_DEFAULT else f
            for f in checker.findings]


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


class _Checker:
    def __init__(self, data: Mapping[str, Any], version: TemplateVersion,
                 schemas: HeatSchemas, context: Context, nested_path: Any) -> None:
        self.data = data
        self.version = version
        self.schemas = schemas
        self.context = context
        self.nested_path = nested_path
        self.findings: list[Finding] = []
        self.parameters = _mapping(data.get("parameters"))
        self.resources = _mapping(data.get("resources"))
        self.conditions = _mapping(data.get("conditions"))
        self.namespaces = schemas.namespaces()
        self.all_functions = schemas.hot_functions

    def add(self, keys: Keys, rule: Rule, message: str) -> None:
        self.findings.append(Finding(keys, rule, message))

    def run(self) -> None:
        self.check_sections()
        for name, definition in self.parameters.items():
            self.check_parameter(name, definition)
        self.check_parameter_groups(self.data.get("parameter_groups"))
        for name, definition in self.resources.items():
            if isinstance(definition, dict):
                self.check_resource(name, _mapping(definition))
        for name, definition in _mapping(self.data.get("outputs")).items():
            self.check_output(name, definition)
        self.check_functions()

    # -- sections ---------------------------------------------------------

    def check_sections(self) -> None:
        for section in self.data:
            if str(section) not in self.version.sections:
                self.add((str(section),), Rule.UNKNOWN_SECTION,
                         f"unknown section {section!r} for heat_template_version "
                         f"{self.version.version}{closest(str(section), self.version.sections)}")

    # -- parameters -------------------------------------------------------

    def check_parameter(self, name: str, definition: Any) -> None:
        where: Keys = ("parameters", name)
        if not isinstance(definition, dict):
            self.add(where, Rule.PARAMETER_DEFINITION,
                     f"parameter {name} must be a mapping with at least a type")
            return
        for key in definition:
            if str(key) not in self.version.parameter_keys:
                self.add((*where, str(key)), Rule.PARAMETER_DEFINITION,
                         f"parameter {name}: unknown key {key!r}"
                         f"{closest(str(key), self.version.parameter_keys)}")
        ptype = definition.get("type")
        if not isinstance(ptype, str) or ptype not in self.version.parameter_types:
            self.add((*where, "type"), Rule.PARAMETER_DEFINITION,
                     f"parameter {name}: type {ptype!r} is not one of "
                     f"{', '.join(sorted(self.version.parameter_types))}"
                     f"{closest(str(ptype), self.version.parameter_types)}")
            return
        constraints = definition.get("constraints", [])
        if not isinstance(constraints, list):
            self.add((*where, "constraints"), Rule.PARAMETER_DEFINITION,
                     f"parameter {name}: constraints must be a list")
            constraints = []
        for index, constraint in enumerate(constraints):
            self.check_parameter_constraint(name, (*where, "constraints", index), constraint)
        if "default" in definition and definition["default"] is not None \
                and not self.has_function(definition["default"]):
            reason = _parameter_value_problem(ptype, definition["default"], constraints)
            if reason:
                self.add((*where, "default"), Rule.PARAMETER_DEFINITION,
                         f"parameter {name}: default {reason}")

    def check_parameter_groups(self, groups: Any) -> None:
        """As Heat's ParameterGroups: a list of groups, each with a list of
        parameters, each a parameter of the template and in one group only."""
        if groups is None:
            return
        where: Keys = ("parameter_groups",)
        if not isinstance(groups, list):
            self.add(where, Rule.PARAMETER_DEFINITION, "parameter_groups must be a list")
            return
        grouped: set[str] = set()
        for index, group in enumerate(groups):
            names = group.get("parameters") if isinstance(group, dict) else None
            if not isinstance(names, list):
                self.add((*where, index), Rule.PARAMETER_DEFINITION,
                         "a parameter group needs a list of parameters")
                continue
            for position, name in enumerate(names):
                keys: Keys = (*where, index, "parameters", position)
                if name in grouped:
                    self.add(keys, Rule.PARAMETER_DEFINITION,
                             f"parameter {name} is in more than one parameter group")
                elif str(name) not in self.parameters and name not in PSEUDO_PARAMETERS:
                    self.add(keys, Rule.PARAMETER_DEFINITION,
                             f"parameter group names {name!r}, which is not a parameter"
                             f"{closest(str(name), self.parameters)}")
                grouped.add(str(name))

    def check_parameter_constraint(self, name: str, where: Keys, constraint: Any) -> None:
        if not isinstance(constraint, dict):
            self.add(where, Rule.PARAMETER_DEFINITION,
                     f"parameter {name}: a constraint must be a mapping")
            return
        for key in constraint:
            if key != "description" and str(key) not in self.version.parameter_constraints:
                self.add((*where, str(key)), Rule.PARAMETER_DEFINITION,
                         f"parameter {name}: unknown constraint {key!r}"
                         f"{closest(str(key), self.version.parameter_constraints)}")

    # -- resources --------------------------------------------------------

    def check_resource(self, name: str, definition: dict[str, Any]) -> None:
        where: Keys = ("resources", name)
        for key in definition:
            if key not in self.version.resource_keys:
                self.add((*where, key), Rule.RESOURCE_DEFINITION,
                         f"resource {name}: unknown key {key!r}"
                         f"{closest(key, self.version.resource_keys)}")
        depends = definition.get("depends_on")
        for index, target in enumerate(depends if isinstance(depends, list) else [depends]):
            if isinstance(target, str) and target not in self.resources:
                keys: Keys = (*where, "depends_on") if not isinstance(depends, list) \
                    else (*where, "depends_on", index)
                self.add(keys, Rule.UNDEFINED_RESOURCE,
                         f"resource {name} depends on {target!r}, which is not a resource "
                         f"of this template{closest(target, self.resources)}")
        policy = definition.get("deletion_policy")
        allowed = self.deletion_policies()
        if isinstance(policy, str) and policy not in allowed:
            self.add((*where, "deletion_policy"), Rule.RESOURCE_DEFINITION,
                     f"resource {name}: deletion_policy {policy!r} is not one of "
                     f"{', '.join(allowed)}{closest(policy, allowed)}")
        condition = definition.get("condition")
        if isinstance(condition, str) and condition not in self.conditions:
            self.add((*where, "condition"), Rule.UNDEFINED_CONDITION,
                     f"resource {name}: condition {condition!r} is not defined"
                     f"{closest(condition, self.conditions)}")
        rtype = definition.get("type")
        if not isinstance(rtype, str) or self.has_function(rtype):
            return
        properties = definition.get("properties")
        self.check_type(name, rtype, where, properties)

    def deletion_policies(self) -> tuple[str, ...]:
        """Heat's policies; lower-case aliases from 2016-10-14 (every named version)."""
        policies = ("Delete", "Retain", "Snapshot")
        dated = self.version.version[:1].isdigit()
        if dated and self.version.version < LOWER_CASE_POLICIES_SINCE:
            return policies
        return (*policies, *(p.lower() for p in policies))

    def check_type(self, name: str, rtype: str, where: Keys, properties: Any) -> None:
        mapped = self.mapped(rtype, name)
        if mapped is not None and not mapped.endswith(TEMPLATE_TYPE_SUFFIXES):
            rtype = mapped  # an alias of another type
        elif mapped is not None or rtype.endswith(TEMPLATE_TYPE_SUFFIXES) or "://" in rtype:
            self.check_nested(name, mapped or rtype, where, properties)
            return
        known = self.schemas.resource_types.get(rtype)
        if known is None:
            # A typo inside a namespace Heat has (OS::Nova::Sever) is an error;
            # a namespace Heat lacks may be a plugin's or a retired service's.
            namespace = rtype.rpartition("::")[0]
            rule = Rule.UNKNOWN_RESOURCE_TYPE if namespace in self.namespaces \
                else Rule.UNKNOWN_PLUGIN_TYPE
            self.add((*where, "type"), rule,
                     f"resource {name}: type {rtype!r} is neither a Heat resource type, "
                     "a nested template, nor mapped in an environment's resource_registry"
                     f"{closest(rtype, self.schemas.public_types())}")
            return
        if known.support.status in (SupportStatus.DEPRECATED, SupportStatus.HIDDEN):
            replacement = f"; use {known.replaced_by}" if known.replaced_by else ""
            detail = f" ({known.support.message})" if known.support.message else ""
            self.findings.append(Finding(
                (*where, "type"), Rule.DEPRECATED_TYPE,
                f"resource {name}: {rtype} is {known.support.status.lower()}{replacement}"
                f"{detail}", Severity.WARNING))
            if known.support.status is SupportStatus.HIDDEN:
                return  # removed from Heat: its schema no longer says anything
        if "external_id" in self.resources[name]:
            return  # Heat adopts an existing resource and ignores its properties
        self.check_properties(f"resource {name}", (*where, "properties"),
                              known.properties, properties)

    def check_nested(self, name: str, target: str, where: Keys, properties: Any) -> None:
        path = self.nested_path(target) if self.nested_path is not None else None
        parameters = self.context.nested_parameters.get(path) if path else None
        if parameters is None or not isinstance(properties, dict):
            return
        for prop in properties:
            if str(prop) not in parameters:
                self.add((*where, "properties", str(prop)), Rule.UNKNOWN_PROPERTY,
                         f"resource {name}: {target} has no parameter {prop!r}"
                         f"{closest(str(prop), parameters)}")

    def mapped(self, rtype: str, resource: str) -> str | None:
        registry = self.context.registry
        found = registry.get(f"resources.{resource}.{rtype}") or registry.get(rtype)
        if found is not None:
            return found
        for pattern, target in registry.items():
            if pattern.endswith("*") and rtype.startswith(pattern[:-1]):
                return target[:-1] + rtype[len(pattern) - 1:] if target.endswith("*") \
                    else target
        return None

    def check_properties(self, owner: str, where: Keys,
                         schema: Mapping[str, PropertySchema], given: Any) -> None:
        if given is None:
            given = {}
        if not isinstance(given, dict):
            if not self.has_function(given):
                self.add(where, Rule.PROPERTY_TYPE, f"{owner}: properties must be a mapping")
            return
        for prop, value in given.items():
            prop = str(prop)
            if prop not in schema:
                self.add((*where, prop), Rule.UNKNOWN_PROPERTY,
                         f"{owner}: unknown property {prop!r}{closest(prop, schema)}")
            elif value is not None:
                self.check_value(f"{owner}: property {prop}", (*where, prop),
                                 schema[prop], value)
        for prop, spec in schema.items():
            if spec.required and given.get(prop) is None \
                    and not _replaced_by_given(prop, schema, given):
                self.add(where, Rule.MISSING_PROPERTY,
                         f"{owner}: missing required property {prop!r}")

    def check_value(self, label: str, where: Keys, spec: PropertySchema, value: Any) -> None:
        if isinstance(value, dict) and len(value) == 1 and self.has_function(value):
            return  # computed by Heat; nothing literal to check
        # A literal list or map may hold functions: what is literal is checked.
        reason = _property_type_problem(spec.type, value)
        if reason:
            self.add(where, Rule.PROPERTY_TYPE, f"{label}: {reason}")
            return
        if not self.has_function(value):
            for constraint in spec.constraints:
                problem = _constraint_problem(constraint, value, spec.type)
                if problem:
                    self.add(where, Rule.PROPERTY_CONSTRAINT, f"{label}: {problem}")
        if spec.type == "map" and spec.schema and ANY_ITEM not in spec.schema:
            self.check_properties(label, where, spec.schema, value)
        elif spec.type == "list" and ANY_ITEM in spec.schema and isinstance(value, list):
            item = spec.schema[ANY_ITEM]
            for index, entry in enumerate(value):
                if entry is not None:
                    self.check_value(f"{label}[{index}]", (*where, index), item, entry)

    # -- outputs ----------------------------------------------------------

    def check_output(self, name: str, definition: Any) -> None:
        if not isinstance(definition, dict):
            return  # the validator reports a non-mapping output
        for key in definition:
            if str(key) not in self.version.output_keys:
                self.add(("outputs", name, str(key)), Rule.OUTPUT_DEFINITION,
                         f"output {name}: unknown key {key!r}"
                         f"{closest(str(key), self.version.output_keys)}")

    # -- functions --------------------------------------------------------

    def has_function(self, value: Any) -> bool:
        """Whether ``value`` is, or holds, a function call Heat evaluates."""
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if len(item) == 1 and str(next(iter(item))) in self.all_functions:
                    return True
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return False

    def is_call(self, value: Any) -> bool:
        """Whether ``value`` itself is a function call (not one inside it)."""
        return isinstance(value, dict) and len(value) == 1 \
            and str(next(iter(value))) in self.all_functions

    def check_functions(self) -> None:
        for section in ("resources", "outputs"):
            for keys, call, args in _calls(self.data.get(section), (section,),
                                           self.all_functions | self.version.functions):
                self.check_call(keys, call, args)
        for keys, call, args in _calls(self.data.get("conditions"), ("conditions",),
                                       self.all_functions | self.version.condition_functions):
            if call not in self.version.condition_functions:
                self.add(keys, Rule.UNKNOWN_FUNCTION,
                         f"{call} cannot be used in conditions with heat_template_version "
                         f"{self.version.version}")
            else:
                self.check_arguments(keys, call, args)

    def check_call(self, keys: Keys, call: str, args: Any) -> None:
        if call not in self.version.functions:
            since = self.first_version_with(call)
            hint = f" (available from {since})" if since else " (removed from HOT)"
            self.add(keys, Rule.UNKNOWN_FUNCTION,
                     f"{call} is not a function of heat_template_version "
                     f"{self.version.version}{hint}")
            return
        self.check_arguments(keys, call, args)

    def check_arguments(self, keys: Keys, call: str, args: Any) -> None:
        """The shape of a call's arguments, and the names it refers to."""
        problem = _argument_problem(call, args, self.is_call)
        if problem:
            self.add(keys, Rule.FUNCTION_ARGUMENTS, f"{call}: {problem}")
            return
        if call == "get_param":
            name = args[0] if isinstance(args, list) and args else args
            if isinstance(name, str) and name not in self.parameters \
                    and name not in PSEUDO_PARAMETERS:
                self.add(keys, Rule.UNDEFINED_PARAMETER,
                         f"get_param: {name!r} is not a parameter of this template"
                         f"{closest(name, self.parameters)}")
        elif call in ("get_resource", "get_attr"):
            name = args[0] if call == "get_attr" and isinstance(args, list) and args else args
            if isinstance(name, str) and name not in self.resources:
                self.add(keys, Rule.UNDEFINED_RESOURCE,
                         f"{call}: {name!r} is not a resource of this template"
                         f"{closest(name, self.resources)}")
            elif call == "get_attr" and isinstance(args, list) and len(args) > 1:
                self.check_attribute(keys, str(name), args[1])

    def check_attribute(self, keys: Keys, resource: str, attribute: Any) -> None:
        if not isinstance(attribute, str):
            return
        rtype = _mapping(self.resources.get(resource)).get("type")
        if not isinstance(rtype, str):
            return
        mapped = self.mapped(rtype, resource)
        known = self.schemas.resource_types.get(mapped or rtype)
        if known is None or known.dynamic_attributes or attribute in known.attributes \
                or known.support.status is SupportStatus.HIDDEN:
            return
        self.add(keys, Rule.UNKNOWN_ATTRIBUTE,
                 f"get_attr: {rtype} has no attribute {attribute!r}"
                 f"{closest(attribute, known.attributes)}")

    def first_version_with(self, call: str) -> str | None:
        dated = sorted(v.version for v in self.schemas.template_versions.values()
                       if v.key == "heat_template_version" and call in v.functions
                       and v.version[:1].isdigit())
        newer = [v for v in dated if v > self.version.version]
        return newer[0] if newer and self.version.version[:1].isdigit() else None


def _replaced_by_given(prop: str, schema: Mapping[str, PropertySchema],
                       given: Mapping[str, Any]) -> bool:
    """Whether a required ``prop`` is given under the older name Heat still
    translates to it (``network_id`` for ``network``): such names stay in the
    schema, no longer supported, and start with the new name."""
    return any(other.startswith(prop) and other != prop and value is not None
               and schema[other].support.status is not SupportStatus.SUPPORTED
               for other, value in given.items() if other in schema)


# The shape Heat requires of a function's arguments before it makes a
# stack: a list of so many items (at most None: any number), or a mapping
# with these keys. Arguments computed by another function are not judged.
_ARGUMENTS: dict[str, tuple[int, int | None] | tuple[str, ...]] = {
    "get_attr": (1, None),  # one item: every attribute, from 2015-10-15
    "list_join": (2, None),
    "digest": (2, 2),
    "str_split": (2, 3),
    "equals": (2, 2),
    "contains": (2, 2),
    "filter": (2, 2),
    "and": (2, None),
    "or": (2, None),
    "if": (2, 3),
    "map_merge": (0, None),
    "list_concat": (0, None),
    "list_concat_unique": (0, None),
    "str_replace": ("template", "params"),
    "str_replace_strict": ("template", "params"),
    "str_replace_vstrict": ("template", "params"),
    "repeat": ("for_each", "template"),
    "yaql": ("expression",),
}


def _argument_problem(call: str, args: Any, is_call: Callable[[Any], bool]) -> str | None:
    """What is wrong with the literal ``args`` of ``call``, if anything."""
    shape = _ARGUMENTS.get(call)
    if shape is None or is_call(args):
        return None
    if isinstance(shape[0], str):
        if not isinstance(args, dict):
            return f"the arguments must be a mapping, not {_shape(args)}"
        missing = [str(key) for key in shape if key not in args]
        return f"needs {' and '.join(missing)}" if missing else None
    least, most = shape
    if not isinstance(args, list):
        return f"the arguments must be a list, not {_shape(args)}"
    if len(args) < least or (most is not None and len(args) > most):
        count = str(least) if least == most else \
            f"at least {least}" if most is None else f"{least} to {most}"
        return f"takes {count} arguments, not {len(args)}"
    if call == "list_join":
        for index, joined in enumerate(args[1:], 1):
            if not isinstance(joined, list) and not is_call(joined):
                return f"argument {index} must be a list, not {_shape(joined)}"
    return None


def _calls(node: Any, keys: Keys, names: frozenset[str]) -> Iterator[tuple[Keys, str, Any]]:
    """``(keys, function, arguments)`` for every call under ``node``."""
    stack: list[tuple[Any, Keys]] = [(node, keys)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            if len(value) == 1 and str(next(iter(value))) in names:
                call, args = next(iter(value.items()))
                yield (*where, str(call)), str(call), args
                stack.append((args, (*where, str(call))))
                continue
            stack.extend((v, (*where, str(k))) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((v, (*where, i)) for i, v in reversed(list(enumerate(value))))


def _property_type_problem(ptype: str, value: Any) -> str | None:
    """Heat's own conversion of a literal property value, as a reason."""
    if ptype == "string":
        ok = isinstance(value, (str, int)) and not isinstance(value, float)
        return None if ok else f"must be a string, not {_shape(value)}"
    if ptype == "integer":
        return None if _as_int(value) is not None else f"{value!r} is not an integer"
    if ptype == "number":
        return None if _as_number(value) is not None else f"{value!r} is not a number"
    if ptype == "boolean":
        ok = isinstance(value, bool) or (isinstance(value, str)
                                         and value.lower() in ("true", "false"))
        return None if ok else f"{value!r} is not a boolean (true or false)"
    if ptype == "map":
        return None if isinstance(value, dict) else f"must be a map, not {_shape(value)}"
    if ptype == "list":
        return None if isinstance(value, list) else f"must be a list, not {_shape(value)}"
    return None


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, (dict, list)):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, (dict, list)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


# What a property's value is read as when checked against a constraint: the
# parameter type that Heat reads alike (properties and parameters share
# Heat's constraint classes).
_PROPERTY_AS_PARAMETER = {"string": STRING, "integer": NUMBER, "number": NUMBER,
                          "boolean": BOOLEAN, "map": JSON, "list": LIST}


def _constraint_problem(constraint: Mapping[str, Any], value: Any,
                        ptype: str) -> str | None:
    """Why ``value``, of property type ``ptype``, breaks one offline
    constraint (in Heater's words), or None; whether it does is
    :func:`~heater.templates.paramcheck.satisfies`' to say."""
    if satisfies(_PROPERTY_AS_PARAMETER.get(ptype, STRING), constraint, value):
        return None
    return _constraint_wording(constraint, value)


def _constraint_wording(constraint: Mapping[str, Any], value: Any) -> str:
    """How Heater says that ``value`` breaks ``constraint``."""
    if "allowed_values" in constraint:
        allowed = constraint["allowed_values"]
        return f"{value!r} is not one of {', '.join(map(str, allowed))}"
    if "range" in constraint:
        return f"{value!r} is out of range {_bounds(constraint['range'])}"
    if "length" in constraint:
        return f"length {len(value)} is out of range {_bounds(constraint['length'])}"
    if "allowed_pattern" in constraint:
        return f"{value!r} does not match pattern {constraint['allowed_pattern']!r}"
    spec = constraint["modulo"]
    return f"{value!r} is not {spec.get('offset', 0)} modulo {spec['step']}"


def _bounds(bounds: Mapping[str, Any]) -> str:
    return f"[{bounds.get('min', '')}..{bounds.get('max', '')}]"


def _parameter_value_problem(ptype: str, value: Any, constraints: list[Any]) -> str | None:
    """Why a parameter's ``default`` breaks its type or its own constraints,
    in Heater's words; whether it does is :mod:`heater.templates.paramcheck`'s
    (Heat's) reading, as ``POST .../validate`` checks a value."""
    definition = {"type": ptype, "constraints": constraints}
    reason = type_problem(ptype, value)
    if reason is not None:
        if ptype == STRING:
            return f"must be a string, not {_shape(value)}"
        if ptype in (NUMBER, BOOLEAN):
            return f"{value!r} is not a {ptype}"
        return f"{value!r} is not a valid {ptype}: {reason}"
    broken = broken_constraint(definition, value)
    return None if broken is None else _constraint_wording(*broken)
