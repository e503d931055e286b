"""Reading ``heater.yaml``, the repository's own settings, at a commit."""

from __future__ import annotations

from typing import Any

import pygit2

from heater.hotyaml import YamlError, load_yaml

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


def entrypoint(tree: pygit2.Tree) -> str:
    """The path of the template callers deploy, per ``heater.yaml``."""
    value = read_metadata(tree).get("entrypoint")
    return value if isinstance(value, str) and value else DEFAULT_ENTRYPOINT
