"""Heat's own resource types and template versions, as data.

``heat_schemas.json`` beside this module is written by
``scripts/heat-schemas`` from Heat's global resource registry (it records the
Heat version it came from); Heater reads it and never imports Heat. What it
holds for each resource type: support status and replacement, properties
(type, required, default, the constraints Heat checks without a cloud,
``update_allowed``, ``immutable``, nested schemas), attributes and update
policies; for each ``heat_template_version``: sections, intrinsic functions,
condition functions and the keys parameters, resources and outputs may have.
"""

from __future__ import annotations

import enum
import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

SCHEMAS_FILE = "heat_schemas.json"
# A nested list schema describes every item under this key, as Heat's API does.
ANY_ITEM = "*"


class SupportStatus(enum.StrEnum):
    SUPPORTED = "SUPPORTED"
    DEPRECATED = "DEPRECATED"
    UNSUPPORTED = "UNSUPPORTED"
    HIDDEN = "HIDDEN"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Support:
    status: SupportStatus
    message: str = ""
    version: str = ""

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> Support:
        if not raw:
            return SUPPORTED
        return cls(SupportStatus(raw["status"]), raw.get("message", ""), raw.get("version", ""))


SUPPORTED = Support(SupportStatus.SUPPORTED)


@dataclass(frozen=True)
class PropertySchema:
    """One property (or nested entry) of a resource type, as Heat defines it."""

    type: str
    required: bool
    update_allowed: bool
    immutable: bool
    default: Any = None
    # Offline-checkable constraints, each a one-key mapping such as
    # {"allowed_values": [...]}, {"range": {"min": 1}}, {"length": {...}},
    # {"modulo": {...}} or {"allowed_pattern": "..."}.
    constraints: tuple[dict[str, Any], ...] = ()
    # Constraints that ask a cloud (nova.flavor, glance.image...), by name.
    custom_constraints: tuple[str, ...] = ()
    schema: dict[str, PropertySchema] = field(default_factory=dict)
    support: Support = SUPPORTED

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> PropertySchema:
        return cls(type=raw["type"], required=raw["required"],
                   update_allowed=raw["update_allowed"], immutable=raw["immutable"],
                   default=raw.get("default"),
                   constraints=tuple(raw.get("constraints", ())),
                   custom_constraints=tuple(raw.get("custom_constraints", ())),
                   schema={name: cls.parse(sub) for name, sub in raw.get("schema", {}).items()},
                   support=Support.parse(raw.get("support_status")))


@dataclass(frozen=True)
class ResourceType:
    name: str
    support: Support
    properties: dict[str, PropertySchema]
    # Attribute name -> its type ("string", "map", "list", ... or "any").
    attributes: dict[str, str]
    update_policies: dict[str, PropertySchema]
    replaced_by: str | None = None
    # Attribute names computed at run time ("resource.0.name", a software
    # deployment's outputs): only the names above are known in advance.
    dynamic_attributes: bool = False

    @classmethod
    def parse(cls, name: str, raw: dict[str, Any]) -> ResourceType:
        return cls(name=name, support=Support.parse(raw["support_status"]),
                   properties={p: PropertySchema.parse(s) for p, s in raw["properties"].items()},
                   attributes={a: s["type"] for a, s in raw["attributes"].items()},
                   update_policies={p: PropertySchema.parse(s)
                                    for p, s in raw.get("update_policies", {}).items()},
                   replaced_by=raw.get("replaced_by"),
                   dynamic_attributes=raw.get("dynamic_attributes", False))


@dataclass(frozen=True)
class TemplateVersion:
    """What one ``heat_template_version`` (or CFN format version) allows."""

    version: str
    key: str
    sections: tuple[str, ...]
    functions: frozenset[str]
    condition_functions: frozenset[str]
    parameter_keys: frozenset[str]
    parameter_types: frozenset[str]
    parameter_constraints: frozenset[str]
    resource_keys: frozenset[str]
    output_keys: frozenset[str]

    @classmethod
    def parse(cls, version: str, raw: dict[str, Any]) -> TemplateVersion:
        def names(key: str) -> frozenset[str]:
            return frozenset(raw.get(key, ()))

        return cls(version=version, key=raw["key"], sections=tuple(raw["sections"]),
                   functions=names("functions"),
                   condition_functions=names("condition_functions"),
                   parameter_keys=names("parameter_keys"),
                   parameter_types=names("parameter_types"),
                   parameter_constraints=names("parameter_constraints"),
                   resource_keys=names("resource_keys"), output_keys=names("output_keys"))


@dataclass(frozen=True)
class HeatSchemas:
    heat_version: str
    resource_types: dict[str, ResourceType]
    # Keyed by the version as written in a template ("2018-08-31", "rocky").
    template_versions: dict[str, TemplateVersion]

    # Derived sets are asked for by every template checked: made once each.

    def hot_versions(self) -> frozenset[str]:
        """Every ``heat_template_version`` value Heat accepts."""
        return frozenset(v for v, t in self.template_versions.items()
                         if t.key == "heat_template_version")

    def namespaces(self) -> frozenset[str]:
        """``OS::Nova``, ``AWS::EC2``...: the prefixes of Heat's types."""
        return self._namespaces

    def public_types(self) -> frozenset[str]:
        """Resource types Heat lists (every one but the hidden)."""
        return self._public_types

    @functools.cached_property
    def hot_functions(self) -> frozenset[str]:
        """Every intrinsic function of any ``heat_template_version``."""
        return frozenset().union(*(v.functions for v in self.template_versions.values()
                                   if v.key == "heat_template_version"))

    @functools.cached_property
    def _namespaces(self) -> frozenset[str]:
        return frozenset(name.rpartition("::")[0] for name in self.resource_types)

    @functools.cached_property
    def _public_types(self) -> frozenset[str]:
        return frozenset(name for name, t in self.resource_types.items()
                         if t.support.status is not SupportStatus.HIDDEN)


@functools.cache
def heat_schemas() -> HeatSchemas:
    """The schemas shipped with Heater (parsed once per process)."""
    text = resources.files(__package__).joinpath(SCHEMAS_FILE).read_text(encoding="utf-8")
    raw = json.loads(text)
    return HeatSchemas(
        heat_version=raw["heat_version"],
        resource_types={name: ResourceType.parse(name, body)
                        for name, body in raw["resource_types"].items()},
        template_versions={version: TemplateVersion.parse(version, body)
                           for version, body in raw["template_versions"].items()})
