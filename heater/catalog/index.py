"""The catalog index contract: what every backend (SQLite, later PostgreSQL)
stores and answers.

The index is a cache derived from the repositories (see
:mod:`heater.catalog.indexer`); a backend never reads git. It holds one
:class:`Entry` per repository, whatever its kind, and answers
:class:`Query` with a :class:`Page`. Every backend must pass the shared
suite in ``tests/catalog/test_index.py``.

Contract of a backend (:class:`CatalogIndex`):

- ``upsert(entry)`` stores ``entry``, replacing the one with the same
  namespace and name, atomically: a concurrent query sees the old or the
  new entry, never a mixture. Safe from many threads and processes.
- ``upsert_many(entries)`` is ``upsert`` of each, in as few transactions
  as the backend likes (for rebuilds).
- ``remove(namespace, name)`` forgets that entry; removing an absent entry
  is not an error.
- ``get(namespace, name)`` returns the stored entry or ``None``; it applies
  no visibility rule (callers check access to a single repository first).
- ``query(query)`` returns at most ``query.limit`` entries of
  ``query.kind`` that ``query.scope`` may read and that match every filter,
  in ``query.sort`` order, with total order on ties (namespace, name), and a
  ``next_marker`` when more follow. A marker from one page continues
  exactly after that page's last entry, also when entries were added or
  removed in between. Each entry comes as :class:`Listed`: its name and
  :func:`listing_document` as JSON text, which a backend may store ready
  made (a listing page is then spliced together, never decoded and
  encoded again). A malformed marker, or one made for another sort,
  raises :class:`~heater.errors.InvalidMarker`.
- ``keys()`` lists the (namespace, name) of every stored entry.
- ``is_built()`` / ``set_built()`` record that a full rebuild completed, so
  that a missing or reset index is rebuilt on start.
- ``query_built(query)`` is ``query(query)`` if ``is_built()``, else raises
  :class:`IndexUnavailable` (:data:`NOT_BUILT`): what serving asks for, so
  that a backend behind a network may answer both in one round trip.
- ``exclusive()`` is a context manager that holds the backend's lock
  against concurrent rebuilds, across every process and node that uses
  this store: while one caller holds it, another waits. A rebuild, and
  ``repair()``, run only inside it; upserts and queries never take it.
- ``repair()`` makes the store usable for a rebuild: a missing or damaged
  store is discarded and created empty (not built); it returns what was
  wrong ("missing", "damaged") or None. Only rebuilds call it, inside
  ``exclusive()``.
- A store that is missing, damaged or replaced under a running server makes
  every method raise :class:`IndexUnavailable`; it never answers from a
  copy that other processes no longer see, and never creates itself again
  outside ``repair()``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from heater.errors import InvalidMarker, Unavailable

SORT_KEYS = ("name", "updated", "created")
# The default direction when a sort key is given without one: names read
# A to Z, times newest first.
DEFAULT_DIRECTION = {"name": "asc", "updated": "desc", "created": "desc"}
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


# Why a listing is refused while no rebuild has completed.
NOT_BUILT = "it is empty or being rebuilt"


class IndexUnavailable(Unavailable):
    """The index cannot answer: missing, damaged, busy or not built yet.
    Git still holds everything: reads by name and writes keep working."""

    code = "index_unavailable"

    def __init__(self, reason: str, action: str = "run `heater reindex` to rebuild it "
                 "from the repositories (or restart `heater serve`)") -> None:
        super().__init__(f"the catalog index is unavailable: {reason}; {action}")
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    """One repository as the catalog lists it.

    The common fields are filled by the indexer for every kind; the
    kind-specific ones (``description``, ``keywords``, ``search_text``,
    ``summary``) by that kind's extractor. ``search_text`` is free text that
    full-text search matches but listings do not show (parameter names,
    resource types, package names...); ``summary`` is JSON shown in listings.
    Times are UTC ISO 8601 (``2024-05-01T12:00:00+00:00``), so that they sort
    as text.
    """

    namespace: str
    name: str
    kind: str
    private: bool
    deprecated: bool
    created_at: str
    updated_at: str
    latest_version: str | None = None
    description: str = ""
    keywords: tuple[str, ...] = ()
    search_text: tuple[str, ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)
    # The deprecation as listings show it (``Deprecation``), replacement
    # included: a listing hides it from callers who cannot read it.
    deprecation: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace, "name": self.name, "kind": self.kind,
            "private": self.private, "deprecated": self.deprecated,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "latest_version": self.latest_version, "description": self.description,
            "keywords": list(self.keywords), "search_text": list(self.search_text),
            "summary": dict(self.summary),
            "deprecation": dict(self.deprecation) if self.deprecation is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        entry = object.__new__(cls)
        # Filled in one step: a frozen dataclass's __init__ sets each field
        # through object.__setattr__, which is most of the cost of reading a
        # listing page of 50 entries.
        entry.__dict__.update(
            namespace=data["namespace"], name=data["name"], kind=data["kind"],
            private=bool(data["private"]), deprecated=bool(data["deprecated"]),
            created_at=data["created_at"], updated_at=data["updated_at"],
            latest_version=data.get("latest_version"),
            description=data.get("description", ""),
            keywords=tuple(data.get("keywords", ())),
            search_text=tuple(data.get("search_text", ())),
            summary=data.get("summary", {}),
            deprecation=data.get("deprecation"),
        )
        return entry


def listing_document(entry: Entry) -> dict[str, Any]:
    """What a listing shows of ``entry`` (the web layer adds its URLs).
    Backends may store it: the SQLite index's SCHEMA_VERSION changes with it."""
    return {
        "namespace": entry.namespace,
        "name": entry.name,
        "repository_kind": entry.kind,
        "visibility": "private" if entry.private else "public",
        "description": entry.description,
        "keywords": list(entry.keywords),
        "latest_version": entry.latest_version,
        "deprecated": entry.deprecation,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        **entry.summary,
    }


@dataclass(frozen=True, slots=True)
class Listed:
    """One entry of a listing page: ``shown`` is :func:`listing_document`
    as compact JSON text (an object)."""

    namespace: str
    name: str
    shown: str


@dataclass(frozen=True)
class ReadScope:
    """Which private repositories a caller may see in listings: public ones
    always; private ones in ``namespaces``, or in every namespace when
    ``all_private``."""

    all_private: bool = False
    namespaces: frozenset[str] = frozenset()

    @classmethod
    def public(cls) -> ReadScope:
        return cls()


@dataclass(frozen=True)
class Sort:
    key: str = "name"
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.key}:{'desc' if self.descending else 'asc'}"


@dataclass(frozen=True)
class Query:
    kind: str
    scope: ReadScope = ReadScope()
    text: str | None = None
    keywords: tuple[str, ...] = ()
    namespace: str | None = None
    deprecated: bool | None = None
    sort: Sort = Sort()
    limit: int = DEFAULT_LIMIT
    marker: str | None = None


@dataclass(frozen=True)
class Page:
    entries: list[Listed]
    next_marker: str | None


class CatalogIndex(Protocol):
    def upsert(self, entry: Entry) -> None: ...

    def upsert_many(self, entries: Iterable[Entry]) -> None: ...

    def remove(self, namespace: str, name: str) -> None: ...

    def get(self, namespace: str, name: str) -> Entry | None: ...

    def query(self, query: Query) -> Page: ...

    def query_built(self, query: Query) -> Page: ...

    def keys(self) -> set[tuple[str, str]]: ...

    def is_built(self) -> bool: ...

    def set_built(self) -> None: ...

    def exclusive(self) -> AbstractContextManager[object]: ...

    def repair(self) -> str | None: ...


# -- markers: shared by backends so that they are interchangeable --------------

MAX_MARKER_LENGTH = 1024


def encode_marker(sort: Sort, position: tuple[str, ...]) -> str:
    """An opaque marker for "after ``position`` in ``sort`` order"."""
    raw = json.dumps({"s": str(sort), "p": list(position)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_marker(marker: str, sort: Sort) -> tuple[str, ...]:
    """The position a marker made by :func:`encode_marker` for ``sort`` holds."""
    if not marker or len(marker) > MAX_MARKER_LENGTH:
        raise InvalidMarker("empty or too long")
    try:
        raw = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidMarker("not a marker this server made") from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), list):
        raise InvalidMarker("not a marker this server made")
    if data.get("s") != str(sort):
        raise InvalidMarker(f"it was made for sort {data.get('s')!r}, not {sort}")
    position = data["p"]
    expected = 2 if sort.key == "name" else 3
    if len(position) != expected or not all(isinstance(p, str) for p in position):
        raise InvalidMarker("not a marker this server made")
    return tuple(position)
