"""Components of the OpenAPI document taken from the schemas the code
itself validates with, so that the document cannot drift from them.

The YAML fragments refer to these by name like to any other component.
"""

from __future__ import annotations

import copy
from typing import Any

from heater.images import schema


def _embedded(schema: dict[str, Any]) -> dict[str, Any]:
    """A standalone JSON Schema made fit to sit under ``components``: a
    copy (the document is served as built), without ``$schema``, which
    JSON Schema allows only at the root of a document."""
    result = copy.deepcopy(schema)
    result.pop("$schema", None)
    return result


def fragment() -> dict[str, Any]:
    """A fragment, as the YAML files are, holding the derived components."""
    return {"components": {"schemas": {
        "ImageManifest": _embedded(schema.SCHEMA),
        "StoredManifest": _embedded(schema.STORED_SCHEMA),
        "Hashes": copy.deepcopy(schema.STORED_SCHEMA["properties"]["hashes"]),
    }}}
