"""The catalog pages: templates at ``/``, images at ``/ui/images``; the
API's listing (full text, keywords, namespace, sort, paging) as HTML."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Response, request

from heater.catalog.index import SORT_KEYS
from heater.catalog.listing import parse_listing
from heater.http.context import catalog
from heater.http.web.base import bp, page, web_caller
from heater.repos.store import Kind

SORTS = {f"{key}:{direction}": f"{label}" for key, direction, label in (
    ("name", "asc", "Name, A to Z"), ("updated", "desc", "Recently updated"),
    ("created", "desc", "Newest"), ("name", "desc", "Name, Z to A"))}
assert {s.partition(":")[0] for s in SORTS} == set(SORT_KEYS)
PAGE_SIZE = "24"


def _listing(kind: Kind, template: str, title: str) -> Response:
    # A form sends its empty fields too: an empty filter is no filter.
    args = {key: [v for v in values if v]
            for key, values in request.args.to_dict(flat=False).items()}
    args = {key: values for key, values in args.items() if values}
    args.setdefault("limit", [PAGE_SIZE])
    query = parse_listing(kind.value, web_caller(), args)
    found = catalog().query(query)
    entries = [json.loads(listed.shown) for listed in found.entries]
    next_url = None
    if found.next_marker is not None:
        more = {k: v for k, v in args.items() if k != "limit"}
        more["marker"] = [found.next_marker]
        next_url = f"{request.path}?{urlencode(more, doseq=True)}"
    return page(template, title=title, entries=entries, next_url=next_url,
                query=query, sorts=SORTS, q=request.args.get("q", ""),
                sort=request.args.get("sort", "name:asc"),
                keywords=request.args.getlist("keyword"),
                namespace=request.args.get("namespace", ""),
                paged=bool(request.args.get("marker")))


@bp.get("/")
def catalog_page() -> Response:
    return _listing(Kind.TEMPLATE, "catalog.html", "Templates")


@bp.get("/ui/images")
def images_page() -> Response:
    return _listing(Kind.IMAGE, "catalog.html", "Images")
