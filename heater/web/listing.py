"""Catalog listings over HTTP, shared by every kind's listing endpoint
(``GET /api/v1/templates``, ``GET /api/v1/images``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, request

from heater.catalog.index import Entry
from heater.catalog.listing import parse_listing
from heater.repositories import Kind
from heater.web.context import base_url, caller, catalog


def entry_json(entry: Entry, collection_url: str, host_url: str) -> dict[str, Any]:
    """An entry as listings show it; ``collection_url`` is the kind's
    collection (``http://host/api/v1/templates``)."""
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
        "url": f"{collection_url}/{entry.namespace}/{entry.name}",
        # clone_url() without re-validating names the index already holds.
        "clone_url": f"{host_url}/{entry.namespace}/{entry.name}.git",
    }


def listing(kind: Kind, key: str, api_prefix: str) -> Response:
    """The listing page the request asks for: ``{key: [...], "next": url|null}``."""
    args = request.args.to_dict(flat=False)
    page = catalog().query(parse_listing(kind.value, caller(), args))
    next_url = None
    if page.next_marker is not None:
        args["marker"] = [page.next_marker]
        next_url = f"{request.base_url}?{urlencode(args, doseq=True)}"
    host = base_url()
    items = [entry_json(e, host + api_prefix, host) for e in page.entries]
    return jsonify({key: items, "next": next_url})
