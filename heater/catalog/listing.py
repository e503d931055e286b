"""Listing parameters as users send them (``?q=&keyword=&sort=...``), checked
and turned into a :class:`~heater.catalog.index.Query`; shared by every
listing endpoint (templates, images).

``sort`` is ``<key>[:<direction>]``: key ``name``, ``updated`` or
``created``; direction ``asc`` or ``desc`` (default ``asc`` for ``name``,
``desc`` for the times).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from heater.auth.tokens import Caller
from heater.catalog.index import (
    DEFAULT_DIRECTION,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_MARKER_LENGTH,
    SORT_KEYS,
    Query,
    ReadScope,
    Sort,
)
from heater.catalog.templates import MAX_KEYWORD_LENGTH, normalise_keywords
from heater.errors import InvalidMarker, InvalidValue
from heater.names import check_name

MAX_FILTER_KEYWORDS = 16


class InvalidListing(InvalidValue):
    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(parameter, f"{parameter}: {reason}")
        self.parameter = parameter


def scope_for(caller: Caller) -> ReadScope:
    """The private repositories ``caller`` may see (the rules of
    :func:`heater.auth.policy.can_read`, as a filter)."""
    if caller is None:
        return ReadScope.public()
    if caller.namespace is None:
        return ReadScope(all_private=True)
    return ReadScope(namespaces=frozenset({caller.namespace}))


def parse_sort(value: str) -> Sort:
    key, _, direction = value.partition(":")
    if key not in SORT_KEYS:
        raise InvalidListing("sort", f"{key!r} is not one of {', '.join(SORT_KEYS)}")
    direction = direction or DEFAULT_DIRECTION[key]
    if direction not in ("asc", "desc"):
        raise InvalidListing("sort", f"direction must be asc or desc, not {direction!r}")
    return Sort(key, direction == "desc")


def parse_limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidListing("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def parse_bool(parameter: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise InvalidListing(parameter, "must be true or false")
    return value == "true"


def _single(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = args.get(name) or []
    if len(values) > 1:
        raise InvalidListing(name, "give it at most once")
    return values[0] if values else None


def parse_listing(kind: str, caller: Caller,
                  args: Mapping[str, Sequence[str]]) -> Query:
    """The query that ``args`` (each parameter with its values) asks for,
    as ``caller`` may see it; :class:`InvalidListing` for bad input."""
    keywords = list(args.get("keyword") or [])
    if len(keywords) > MAX_FILTER_KEYWORDS:
        raise InvalidListing("keyword", f"at most {MAX_FILTER_KEYWORDS} keywords")
    if any(len(k) > MAX_KEYWORD_LENGTH or not k.strip() for k in keywords):
        raise InvalidListing("keyword", f"each must be 1 to {MAX_KEYWORD_LENGTH} characters")
    marker = _single(args, "marker")
    if marker is not None and not 0 < len(marker) <= MAX_MARKER_LENGTH:
        raise InvalidMarker(f"must be 1 to {MAX_MARKER_LENGTH} characters")
    text = _single(args, "q")
    sort = _single(args, "sort")
    limit = _single(args, "limit")
    namespace = _single(args, "namespace")
    deprecated = _single(args, "deprecated")
    return Query(
        kind=kind,
        scope=scope_for(caller),
        text=text if text and text.strip() else None,
        keywords=tuple(normalise_keywords(keywords)),
        namespace=check_name(namespace, "namespace") if namespace is not None else None,
        deprecated=parse_bool("deprecated", deprecated) if deprecated is not None else None,
        sort=parse_sort(sort) if sort is not None else Sort(),
        limit=parse_limit(limit) if limit is not None else DEFAULT_LIMIT,
        marker=marker,
    )
