"""Whether Heat updates a resource in place, replaces it, or refuses the
update, for a change of one of its properties; from Heat's own schemas
(:mod:`heater.templates.heatschemas`).

Heat's rule (``Resource.update_template_diff_properties``), for a
resource whose type is unchanged:

* a changed property the schema marks ``immutable`` cannot change at all:
  Heat refuses the update and the stack update fails;
* a resource type may replace itself for some changes whatever the schema
  says (``needs_replace_with_prop_diff``): an ``OS::Nova::Server`` whose
  ``flavor``, ``image`` or ``user_data`` changed is replaced when the
  matching ``*_update_policy`` property is ``REPLACE`` (Heat's default for
  ``user_data``; ``RESIZE`` and ``REBUILD`` for the others), read from the
  new properties or else the schema's default. A policy set by a function
  such as ``get_param`` cannot be known here and counts as ``REPLACE``.
  An ``OS::Neutron::Port`` with ``replacement_policy: REPLACE_ALWAYS`` is
  replaced on every update;
* a changed property that is not ``update_allowed`` replaces the resource
  (every property of a software config: configs are immutable, so their
  deployments run again, and a server whose ``user_data`` they feed is
  replaced);
* any other change is an update in place.

A changed resource ``type`` is a replacement (Heat builds the resource of
the new type and deletes the old one), except from a deprecated type to
the one Heat substitutes for it (its ``support_status.substitute_class``),
which Heat updates in place. A nested template (a ``type`` that
names a template file) is updated in place: its properties are its
parameters, and the nested template's own diff decides what changes in
it. A type Heat's schemas do not describe (a plugin's, or one mapped in an
environment) counts as an update, as does a property its type lacks.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heater.templates.heatschemas import ResourceType, heat_schemas
from heater.templates.hot import TEMPLATE_TYPE_SUFFIXES

SERVER = "OS::Nova::Server"
PORT = "OS::Neutron::Port"
# The server properties whose policy property Heat's code reads when they
# change (the schema has the policies' defaults, not what they govern).
_SERVER_POLICIES = {"flavor": "flavor_update_policy", "image": "image_update_policy",
                    "user_data": "user_data_update_policy"}
# Deprecated type -> the type Heat updates it into in place. Heat's code
# says so (support_status.substitute_class), not the schemas' data.
_SUBSTITUTES = {"OS::Heat::SoftwareDeployments": "OS::Heat::SoftwareDeploymentGroup",
                "OS::Heat::StructuredDeployments": "OS::Heat::StructuredDeploymentGroup",
                "OS::Magnum::BayModel": "OS::Magnum::ClusterTemplate"}
_SOFTWARE_CONFIGS = frozenset({"OS::Heat::SoftwareConfig", "OS::Heat::StructuredConfig",
                               "OS::Heat::CloudConfig", "OS::Heat::MultipartMime"})


class Outcome(enum.StrEnum):
    UPDATE = "update"
    REPLACE = "replace"
    REFUSE = "refuse"


@dataclass(frozen=True)
class UpdateImpact:
    """What Heat does about one change, and why."""

    outcome: Outcome
    because: str


def type_change(old_type: Any, new_type: Any) -> UpdateImpact:
    """What Heat does when a resource's type changes from ``old_type``."""
    if isinstance(old_type, str) and _SUBSTITUTES.get(old_type) == new_type:
        return UpdateImpact(Outcome.UPDATE, f"type changed from {old_type} to {new_type}, "
                                            "which Heat substitutes for it: Heat updates the "
                                            "resource in place")
    return UpdateImpact(Outcome.REPLACE, f"type changed from {old_type} to {new_type}: "
                                         "Heat replaces the resource")


def property_change(resource_type: Any, prop: Any, old: Mapping[str, Any],
                    new: Mapping[str, Any]) -> UpdateImpact:
    """What Heat does when property ``prop`` of a resource of
    ``resource_type`` changes, its properties going from ``old`` to ``new``."""
    known = heat_schemas().resource_types.get(resource_type) \
        if isinstance(resource_type, str) else None
    if known is None:
        return UpdateImpact(Outcome.UPDATE, _unknown_type(resource_type))
    schema = known.properties.get(str(prop))
    if schema is None:
        return UpdateImpact(Outcome.UPDATE, f"{known.name} has no property {prop}")
    if schema.immutable:
        return UpdateImpact(Outcome.REFUSE,
                            f"property {prop} of {known.name} is immutable: Heat refuses the "
                            "update, and the stack update fails")
    replaced = _replaced_by_policy(known, str(prop), new)
    if replaced is not None:
        return replaced
    if not schema.update_allowed:
        if known.name in _SOFTWARE_CONFIGS:
            return UpdateImpact(Outcome.REPLACE, (
                "software configs are immutable (no property is update_allowed): Heat "
                "replaces the config, the deployments that use it run it again, and a "
                "server whose user_data it feeds is replaced"))
        return UpdateImpact(Outcome.REPLACE, (
            f"property {prop} is not update_allowed: Heat replaces the resource (creates a "
            "new one, then deletes the old one with what it held)"))
    return UpdateImpact(Outcome.UPDATE, "Heat updates the resource in place")


def _unknown_type(resource_type: Any) -> str:
    if isinstance(resource_type, str) and (resource_type.endswith(TEMPLATE_TYPE_SUFFIXES)
                                           or "://" in resource_type):
        return ("a nested template: Heat updates its stack in place, and the nested "
                "template's own changes decide the rest")
    return (f"Heat's schemas do not describe type {resource_type}: counted as an update "
            "in place")


def _replaced_by_policy(known: ResourceType, prop: str,
                        new: Mapping[str, Any]) -> UpdateImpact | None:
    """The replacements a type's code decides beside its schema."""
    if known.name == PORT and new.get("replacement_policy") == "REPLACE_ALWAYS":
        return UpdateImpact(Outcome.REPLACE, "replacement_policy is REPLACE_ALWAYS: Heat "
                                             "replaces the port on every update")
    policy = _SERVER_POLICIES.get(prop) if known.name == SERVER else None
    if policy is None:
        return None
    value = new.get(policy)
    source = ""
    if value is None:
        schema = known.properties.get(policy)
        value, source = (schema.default if schema else None), ", Heat's default"
    if not isinstance(value, str):
        return UpdateImpact(Outcome.REPLACE, (
            f"Heat may replace the server ({policy} is set by a function, which may say "
            "REPLACE): a new server, and what the old one held is lost"))
    if value == "REPLACE":
        return UpdateImpact(Outcome.REPLACE, (
            f"Heat replaces the server ({policy} is REPLACE{source}): a new server, and "
            "what the old one held is lost"))
    return UpdateImpact(Outcome.UPDATE,
                        f"Heat updates the server in place ({policy} is {value}{source})")

