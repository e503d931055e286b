"""Catalog listings over HTTP, shared by every kind's listing endpoint
(``GET /api/v1/templates``, ``GET /api/v1/images``)."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from flask import Response, request

from heater.catalog.index import Listed
from heater.catalog.listing import parse_listing
from heater.http.context import caller, catalog, registry
from heater.http.publicurl import base_url, link
from heater.repos.store import Kind


def listed_json(listed: Listed, collection_url: str, host_url: str) -> str:
    """An entry as listings show it, as JSON text: the index's stored
    document with the URLs of this request's host added. ``collection_url``
    is the kind's collection (``http://host/api/v1/templates``), both
    already JSON-escaped; names need no escaping (see heater.names)."""
    where = f"{listed.namespace}/{listed.name}"
    return (f'{_replacement_hidden(listed.shown)[:-1]},"url":"{collection_url}/{where}",'
            f'"clone_url":"{host_url}/{where}.git"}}')


def next_page_url(marker: str | None) -> str | None:
    """The URL of the page after this request's (its query with ``marker``
    set), None when there is none: for the listings of one repository's
    things (commits, builds)."""
    if marker is None:
        return None
    args = request.args.to_dict(flat=True)
    args["marker"] = marker
    return f"{link(quote(request.path))}?{urlencode(args)}"


def _replacement_hidden(shown: str) -> str:
    """``shown`` with a deprecation's replacement that the caller cannot
    read (made private or deleted since) as null, as details show it. Few
    entries name one, so only those are decoded."""
    if '"replacement":{' not in shown:
        return shown
    document = json.loads(shown)
    replacement = (document.get("deprecated") or {}).get("replacement")
    if replacement is None or registry().sees(
            caller(), f"{replacement['namespace']}/{replacement['name']}") is not None:
        return shown
    document["deprecated"]["replacement"] = None
    return json.dumps(document, separators=(",", ":"))


def listing(kind: Kind, key: str, api_prefix: str) -> Response:
    """The listing page the request asks for: ``{key: [...], "next": url|null}``."""
    args = request.args.to_dict(flat=False)
    page = catalog().query(parse_listing(kind.value, caller(), args))
    next_url = None
    if page.next_marker is not None:
        args["marker"] = [page.next_marker]
        next_url = f"{link(quote(request.path))}?{urlencode(args, doseq=True)}"
    host = json.dumps(base_url())[1:-1]
    collection = host + api_prefix
    # Spliced, not decoded and encoded again: most of a page's cost otherwise.
    items = ",".join(listed_json(e, collection, host) for e in page.entries)
    body = f'{{"{key}":[{items}],"next":{json.dumps(next_url)}}}\n'
    return Response(body, mimetype="application/json")
