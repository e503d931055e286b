"""``heater.yaml``: a repository's own settings, versioned with it.

The one place that names the file, the default entry point and how the
``entrypoint`` setting is read; validation, the catalog and the diff all
read them from here.
"""

from __future__ import annotations

from typing import Any

import pygit2

from heater.errors import InvalidInput
from heater.hotyaml import YamlError, load_yaml
from heater.names import check_repo_path

METADATA_FILE = "heater.yaml"
DEFAULT_ENTRYPOINT = "template.yaml"


def read_metadata(tree: pygit2.Tree) -> dict[str, Any]:
    """``heater.yaml`` at ``tree`` as a mapping; empty when it is missing or
    unreadable (validation reports that; the diff carries on without it)."""
    try:
        entry = tree[METADATA_FILE]
    except KeyError:
        return {}
    if not isinstance(entry, pygit2.Blob):
        return {}
    try:
        data = load_yaml(entry.data, METADATA_FILE).data
    except YamlError:
        return {}
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}


def parse_entrypoint(value: Any) -> str:
    """The entry point named by an ``entrypoint`` setting, or InvalidInput
    saying why it cannot be one."""
    if not isinstance(value, str):
        raise InvalidInput("entrypoint must be a file path", code="invalid_entrypoint")
    return check_repo_path(value)


def entrypoint(tree: pygit2.Tree) -> str:
    """The path of the template callers deploy, per ``heater.yaml``."""
    value = read_metadata(tree).get("entrypoint")
    if value is None:
        return DEFAULT_ENTRYPOINT
    try:
        return parse_entrypoint(value)
    except InvalidInput:
        return DEFAULT_ENTRYPOINT
