"""The catalog pages: templates at ``/``, images at ``/ui/images``; the
API's listing (full text, keywords, namespace, sort, paging) as HTML.

Each entry's card is rendered once and kept under the entry's listing
document (the index's own JSON text, which changes whenever the entry
does), so a page costs about what the JSON listing costs: one query and
a join. Its keyword links carry the page's own filters, spliced in per
request where the kept card has a marker.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode

from flask import Response, render_template, request
from markupsafe import Markup, escape

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
    kept = {k: v for k, v in args.items() if k in ("q", "namespace", "sort", "keyword")}
    prefix = urlencode(kept, doseq=True)
    cards = "".join(_card(listed.shown) for listed in found.entries).replace(
        _SENTINEL, escape(prefix + "&" if prefix else ""))
    next_url = None
    if found.next_marker is not None:
        more = {k: v for k, v in args.items() if k != "limit"}
        more["marker"] = [found.next_marker]
        next_url = f"{request.path}?{urlencode(more, doseq=True)}"
    return page(template, title=title, cards=Markup(cards),  # noqa: S704 - escaped cards
                next_url=next_url,
                query=query, sorts=SORTS, q=request.args.get("q", ""),
                sort=request.args.get("sort", "name:asc"),
                keywords=request.args.getlist("keyword"),
                namespace=request.args.get("namespace", ""),
                paged=bool(request.args.get("marker")))


# Cards kept per process, by listing document; cleared when full (a card
# is a few hundred bytes).
MAX_CARDS = 8192
_CARDS: dict[tuple[str, str], str] = {}
# Where a card's keyword links take the page's filters: a word no escaped
# content can contain.
_SENTINEL = f"filters{secrets.token_hex(8)}"


def _card(shown: str) -> str:
    key = (request.path, shown)
    card = _CARDS.get(key)
    if card is None:
        if len(_CARDS) >= MAX_CARDS:
            _CARDS.clear()
        card = render_template("_card.html", e=json.loads(shown), path=request.path,
                               sentinel=_SENTINEL)
        _CARDS[key] = card
    return card


@bp.get("/")
def catalog_page() -> Response:
    return _listing(Kind.TEMPLATE, "catalog.html", "Templates")


@bp.get("/ui/images")
def images_page() -> Response:
    return _listing(Kind.IMAGE, "catalog.html", "Images")
