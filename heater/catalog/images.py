"""Catalog metadata of an image repository: what the listing shows and
searches, read from the manifest of the build the catalog describes (the
latest release, else the newest build: :func:`heater.catalog.indexer.shown_commit`,
as the image's detail shows it).

Full-text search matches the name, the description, the os values and
every package name; ``keyword=`` matches an os value exactly (``ubuntu``,
``22.04``). A commit without a readable manifest is listed with empty
fields rather than hidden, as a broken template is.
"""

from __future__ import annotations

from typing import Any

import pygit2

from heater.catalog.indexer import KindDocument
from heater.catalog.templates import MAX_TEXT, normalise_keywords
from heater.images.repository import manifest_of


def image_document(_git: pygit2.Repository, commit: pygit2.Commit | None) -> KindDocument:
    manifest = (manifest_of(commit) if commit is not None else None) or {}
    os_values = [str(v) for v in _mapping(manifest.get("os")).values()]
    packages = manifest.get("packages")
    names = dict.fromkeys(str(p["name"]) for p in packages if isinstance(p, dict) and "name" in p) \
        if isinstance(packages, list) else {}
    return KindDocument(
        description=_description(manifest),
        keywords=tuple(normalise_keywords(os_values)),
        search_text=(*os_values, *names),
        summary={
            "build_id": manifest.get("image_id"),
            "status": manifest.get("status"),
            "os": manifest.get("os"),
            "disk_format": manifest.get("disk_format"),
            "container_format": manifest.get("container_format"),
            "size": manifest.get("size"),
            "package_count": len(packages) if isinstance(packages, list) else 0,
        },
    )


def _description(manifest: dict[str, Any]) -> str:
    """The manifest's description, else the ``description`` property
    (where Glance keeps one)."""
    for value in (manifest.get("description"),
                  _mapping(manifest.get("properties")).get("description")):
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_TEXT]
    return ""


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
