"""Property changes that make Heat replace a resource rather than update it.

A change of a resource's properties is normally an update in place. Heat
replaces the resource instead (a new one is created, the old one deleted,
with whatever it held) for properties its schema marks as not updatable.
This is deliberately not a table of every resource type: it covers the
well-known cases that catch people out, and every other property change
counts as an update:

* ``OS::Nova::Server`` ``user_data``, unless ``user_data_update_policy``
  is ``IGNORE`` (Heat's default is ``REPLACE``; a policy set by a function
  such as ``get_param`` cannot be known here and counts as ``REPLACE``).
* Any property of a software config (``OS::Heat::SoftwareConfig``,
  ``StructuredConfig``, ``CloudConfig``, ``MultipartMime``): configs are
  immutable, so Heat replaces the config; the deployments that use it run
  it again, and a server whose ``user_data`` it feeds is replaced.
"""

from __future__ import annotations

from typing import Any

SERVER = "OS::Nova::Server"
_SOFTWARE_CONFIGS = frozenset({"OS::Heat::SoftwareConfig", "OS::Heat::StructuredConfig",
                               "OS::Heat::CloudConfig", "OS::Heat::MultipartMime"})


def replacement(resource_type: Any, prop: Any, properties: dict[str, Any]) -> str | None:
    """Why Heat replaces a resource of ``resource_type`` whose property
    ``prop`` changed, given its new ``properties``; None for an update."""
    if resource_type == SERVER and prop == "user_data":
        if properties.get("user_data_update_policy") == "IGNORE":
            return None
        return ("Heat replaces the server (user_data_update_policy is REPLACE, "
                "Heat's default): a new server, and what the old one held is lost")
    if resource_type in _SOFTWARE_CONFIGS:
        return ("software configs are immutable: Heat replaces the config, the deployments "
                "that use it run it again, and a server whose user_data it feeds is replaced")
    return None
