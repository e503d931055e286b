"""Write Heat's own resource and template schemas as data (run by
``scripts/heat-schemas`` inside a throwaway environment with openstack-heat).

Heat's global resource registry and template plugins are loaded the way
``heat-engine`` loads them, then described in plain JSON: for each resource
type its support status (and what replaces a deprecated or hidden one), its
properties (type, required, default, the constraints Heat checks without a
cloud, update_allowed, immutable, nested schemas), its attributes and update
policies; for each template version its sections, intrinsic functions,
condition functions and the keys a parameter, resource and output may have.

Heater reads the file (``heater/templates/heat_schemas.json``); it never
imports Heat.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import warnings
from importlib import metadata
from typing import Any

# Constraints Heat evaluates from the template alone; custom constraints
# (nova.flavor, glance.image, ...) ask a cloud and are recorded by name only.
OFFLINE_CONSTRAINTS = {
    "AllowedValues": lambda c: {"allowed_values": list(c.allowed)},
    "AllowedPattern": lambda c: {"allowed_pattern": c.pattern},
    "Range": lambda c: {"range": _bounds(c)},
    "Length": lambda c: {"length": _bounds(c)},
    "Modulo": lambda c: {"modulo": {"step": c.step, "offset": c.offset}},
}
TYPE_NAME = re.compile(r"\b(?:OS|AWS)::[A-Za-z0-9]+(?:::[A-Za-z0-9]+)+\b")


def _bounds(constraint: Any) -> dict[str, Any]:
    return {key: getattr(constraint, key) for key in ("min", "max")
            if getattr(constraint, key, None) is not None}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _status(support: Any) -> dict[str, Any]:
    found = support.to_dict()
    status = {"status": found["status"]}
    for key in ("version", "message"):
        if found.get(key):
            status[key] = str(found[key])
    previous = support.previous_status
    if previous is not None:
        status["previous"] = _status(previous)
    return status


def _constraints(schema: Any) -> tuple[list[dict[str, Any]], list[str]]:
    offline: list[dict[str, Any]] = []
    custom: list[str] = []
    for constraint in schema.constraints:
        kind = type(constraint).__name__
        if kind in OFFLINE_CONSTRAINTS:
            described = OFFLINE_CONSTRAINTS[kind](constraint)
            if constraint.description:
                described["description"] = str(constraint.description)
            offline.append(_jsonable(described))
        elif kind == "CustomConstraint":
            custom.append(constraint.name)
    return offline, custom


def _property(schema: Any) -> dict[str, Any]:
    described: dict[str, Any] = {
        "type": schema.type.lower(),
        "required": bool(schema.required),
        "update_allowed": bool(schema.update_allowed),
        "immutable": bool(schema.immutable),
    }
    if schema.default is not None:
        described["default"] = _jsonable(schema.default)
    offline, custom = _constraints(schema)
    if offline:
        described["constraints"] = offline
    if custom:
        described["custom_constraints"] = custom
    if schema.support_status.status != "SUPPORTED":
        described["support_status"] = _status(schema.support_status)
    nested = schema.schema
    # A list's item schema comes wrapped in Heat's AnyIndexDict (a mapping
    # that answers every index with the same schema).
    if type(nested).__name__ == "AnyIndexDict":
        described["schema"] = {"*": _property(nested.value)}
    elif isinstance(nested, dict) and nested:
        described["schema"] = {name: _property(sub) for name, sub in sorted(nested.items())}
    elif nested is not None and not isinstance(nested, dict):
        # A list's items share one schema; Heat's API shows it under "*".
        described["schema"] = {"*": _property(nested)}
    return described


def _replacement(status: dict[str, Any], known: set[str], own: str) -> str | None:
    for name in TYPE_NAME.findall(status.get("message", "")):
        if name in known and name != own:
            return name
    return None


def resource_types(env: Any, resource_class: Any) -> dict[str, Any]:
    registry = env.registry._registry
    names = sorted(name for name, info in registry.items() if not isinstance(info, dict))
    known = set(names)
    described: dict[str, Any] = {}
    for name in names:
        cls = env.get_class(name)
        status = _status(cls.support_status)
        entry: dict[str, Any] = {"support_status": status}
        replacement = _replacement(status, known, name)
        if replacement and status["status"] != "SUPPORTED":
            entry["replaced_by"] = replacement
        entry["properties"] = {prop: _property(schema)
                               for prop, schema in sorted(cls.properties_schema.items())}
        attributes = {**resource_class.base_attributes_schema, **cls.attributes_schema}
        entry["attributes"] = {
            attr: {"type": (schema.type or "any").lower() if isinstance(schema.type, str)
                   else "any",
                   **({"support_status": _status(schema.support_status)}
                      if schema.support_status.status != "SUPPORTED" else {})}
            for attr, schema in sorted(attributes.items())}
        # Types that compute attribute names at run time (a group's
        # "resource.0.name", a deployment's config outputs) override this.
        if cls.get_attribute is not resource_class.get_attribute:
            entry["dynamic_attributes"] = True
        policies = getattr(cls, "update_policy_schema", {}) or {}
        if policies:
            entry["update_policies"] = {policy: _property(schema)
                                        for policy, schema in sorted(policies.items())}
        described[name] = entry
    return described


def template_versions(manager: Any) -> dict[str, Any]:
    from heat.engine.cfn import functions as cfn_functions
    from heat.engine.hot import functions as hot_functions
    from heat.engine.hot import parameters as hot_parameters

    refused = (hot_functions.Removed, cfn_functions.Invalid) if hasattr(
        cfn_functions, "Invalid") else (hot_functions.Removed,)
    versions: dict[str, Any] = {}
    for entry in sorted(manager.names()):
        key, _, version = entry.partition(".")
        cls = manager[entry].plugin
        functions = sorted(name for name, impl in cls.functions.items()
                           if not (isinstance(impl, type) and issubclass(impl, refused)))
        described: dict[str, Any] = {
            "key": key,
            "class": cls.__name__,
            "sections": [s for s in cls.SECTIONS if not s.startswith("__")],
            "functions": functions,
        }
        conditions = getattr(cls, "condition_functions", None)
        if conditions:
            described["condition_functions"] = sorted(conditions)
        params = getattr(cls, "param_schema_class", None)
        if params is not None:
            described["parameter_keys"] = sorted(params.PARAMETER_KEYS)
            described["parameter_types"] = sorted(t.lower() for t in params.TYPES)
            if issubclass(params, hot_parameters.HOTParamSchema):
                described["parameter_constraints"] = sorted(
                    key for key in hot_parameters.PARAM_CONSTRAINTS if key != "description"
                    # modulo arrived with 2017-02-24 (Ocata)
                    and (key != "modulo"
                         or issubclass(params, hot_parameters.HOTParamSchema20170224)))
        for attr, name in (("_RESOURCE_KEYS", "resource_keys"),
                           ("OUTPUT_KEYS", "output_keys")):
            if hasattr(cls, attr):
                described[name] = sorted(getattr(cls, attr))
        policies = getattr(cls, "deletion_policies", None)
        if policies:
            described["deletion_policies"] = sorted(policies)
        versions[version] = described
    return versions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="where to write the JSON")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)  # Heat logs every hidden type at load
    from oslo_config import cfg

    cfg.CONF([], project="heat", default_config_files=[])
    from heat.common import config  # noqa: F401  (registers Heat's options)
    from heat.engine import resource, resources, template

    # Heat's own types only: a Heat installed on this machine (its
    # environment.d maps OS::Quantum* and more, its plugin directories add
    # types) must neither change the file nor break its making.
    with tempfile.TemporaryDirectory() as nothing:
        cfg.CONF.set_override("environment_dir", nothing)
        cfg.CONF.set_override("plugin_dirs", [])
        resources.initialise()
    env = resources.global_env()
    document = {
        "generated_by": "scripts/heat-schemas",
        "heat_version": metadata.version("openstack-heat"),
        "resource_types": resource_types(env, resource.Resource),
        "template_versions": template_versions(template._get_template_extension_manager()),
    }
    with open(args.output, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=1, sort_keys=True, ensure_ascii=False)
        out.write("\n")
    print(f"{len(document['resource_types'])} resource types, "
          f"{len(document['template_versions'])} template versions from "
          f"openstack-heat {document['heat_version']} -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
