"""Catalog listings over HTTP, shared by every kind's listing endpoint
(``GET /api/v1/templates``, ``GET /api/v1/images``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, request

from heater.catalog.index import Entry
from heater.catalog.listing import parse_listing
from heater.names import RepoId
from heater.repositories import Kind
from heater.web.context import base_url, caller, catalog, clone_url


def entry_json(entry: Entry, api_prefix: str) -> dict[str, Any]:
    """An entry as listings show it; ``api_prefix`` is the kind's collection
    path (``/api/v1/templates``)."""
    return {
        "namespace": entry.namespace,
        "name": entry.name,
        "kind": entry.kind,
        "description": entry.description,
        "keywords": list(entry.keywords),
        "latest_version": entry.latest_version,
        "deprecated": entry.deprecated,
        "visibility": "private" if entry.private else "public",
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        **entry.summary,
        "url": f"{base_url()}{api_prefix}/{entry.namespace}/{entry.name}",
        "clone_url": clone_url(RepoId(entry.namespace, entry.name)),
    }


def listing(kind: Kind, key: str, api_prefix: str) -> Response:
    """The listing page the request asks for: ``{key: [...], "next": url|null}``."""
    args = request.args.to_dict(flat=False)
    page = catalog().index.query(parse_listing(kind.value, caller(), args))
    next_url = None
    if page.next_marker is not None:
        args["marker"] = [page.next_marker]
        next_url = f"{request.base_url}?{urlencode(args, doseq=True)}"
    return jsonify({key: [entry_json(e, api_prefix) for e in page.entries], "next": next_url})
