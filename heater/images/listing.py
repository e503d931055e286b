"""Listing image repositories, read straight from git.

A stopgap until the catalog index (heater.catalog) covers images: every
call reads the current manifest of every image repository the caller may
see, so its cost grows with the number of images. The parameters are the
templates listing's: ``q``, ``keyword``, ``namespace``, ``sort``,
``limit``, ``marker``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from heater.auth import Caller, can_read
from heater.errors import InvalidInput
from heater.images import manifests
from heater.names import check_name
from heater.registry import Registry
from heater.repositories import Kind, RepoInfo

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
SORTS = ("name", "-name", "created", "-created")


@dataclass(frozen=True)
class Query:
    q: str | None = None
    keyword: str | None = None
    namespace: str | None = None
    sort: str = "name"
    limit: int = DEFAULT_LIMIT
    marker: str | None = None

    @classmethod
    def parse(cls, args: dict[str, str]) -> Query:
        sort = args.get("sort") or "name"
        if sort not in SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", code="invalid_sort")
        try:
            limit = int(args.get("limit") or DEFAULT_LIMIT)
        except ValueError:
            raise InvalidInput("limit must be an integer", code="invalid_limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}",
                               code="invalid_limit")
        namespace = args.get("namespace") or None
        return cls(args.get("q") or None, args.get("keyword") or None,
                   check_name(namespace, "namespace") if namespace is not None else None,
                   sort, limit, args.get("marker") or None)


def _summary(info: RepoInfo, current: manifests.ManifestAt | None) -> dict[str, Any]:
    manifest = current.manifest if current else {}
    return {
        "namespace": info.repo.namespace,
        "name": info.repo.name,
        "visibility": info.visibility.value,
        "created_at": info.created_at,
        "version": current.version if current else None,
        "commit": current.commit if current else None,
        "image_id": manifest.get("image_id"),
        "status": manifest.get("status"),
        "description": manifest.get("description")
        or (manifest.get("properties") or {}).get("description"),
        "os": manifest.get("os"),
        "disk_format": manifest.get("disk_format"),
        "packages": len(manifest.get("packages") or []),
    }


def _matches(query: Query, summary: dict[str, Any], manifest: dict[str, Any]) -> bool:
    packages = [str(p.get("name", "")) for p in manifest.get("packages") or []
                if isinstance(p, dict)]
    os_values = [str(v) for v in (manifest.get("os") or {}).values()]
    if query.keyword and query.keyword not in (*packages, *os_values):
        return False
    if query.q:
        needle = query.q.lower()
        haystack = [summary["name"], str(summary["description"] or ""), *os_values, *packages]
        if not any(needle in text.lower() for text in haystack):
            return False
    return True


def list_images(registry: Registry, caller: Caller, query: Query) -> dict[str, Any]:
    """One page of images: ``{"images": [...], "next_marker": ...}``."""
    found: list[dict[str, Any]] = []
    for repo in registry.repos:
        if query.namespace and repo.namespace != query.namespace:
            continue
        info = registry.repos.info(repo)
        if info.kind is not Kind.IMAGE or not can_read(caller, info):
            continue
        git = registry.repos.open(repo)
        try:
            current = manifests.current(git)
        finally:
            git.free()
        summary = _summary(info, current)
        if _matches(query, summary, current.manifest if current else {}):
            found.append(summary)
    key = "created_at" if query.sort.lstrip("-") == "created" else "name"
    found.sort(key=lambda s: (s[key], s["namespace"], s["name"]),
               reverse=query.sort.startswith("-"))
    if query.marker:
        names = [f"{s['namespace']}/{s['name']}" for s in found]
        found = found[names.index(query.marker) + 1:] if query.marker in names else []
    page = found[: query.limit]
    more = len(found) > query.limit
    return {"images": page,
            "next_marker": f"{page[-1]['namespace']}/{page[-1]['name']}" if more else None}
