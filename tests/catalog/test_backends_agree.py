"""SQLite and PostgreSQL give the same answer to the same query: the same
entries, in the same order, on the same pages, with interchangeable
markers, over entries made from the corpus's templates and a corpus of
queries (listing, keywords, full text, sort, paging, access filters)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from heater.catalog.index import CatalogIndex, Entry, Query, ReadScope, Sort
from heater.catalog.postgres import PostgresIndex
from heater.catalog.sqlite import SqliteIndex
from heater.catalog.words import words
from tests.conftest import CORPUS
from tests.services.postgres import database_for

KEYWORDS = ["web", "database", "web server", "ha", "prod", "dev", "ubuntu", "kubernetes"]
NAMESPACES = ["acme", "beta", "corp"]
SORTS = [Sort("name"), Sort("name", True), Sort("updated", True), Sort("created")]
SCOPES = [ReadScope.public(), ReadScope(namespaces=frozenset({"beta"})),
          ReadScope(all_private=True)]


def _templates() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((CORPUS / "heat-templates").rglob("*.yaml")):
        try:
            document = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            continue
        if isinstance(document, dict) and "heat_template_version" in document:
            found.append((path.stem, document))
    return found


def _entries() -> Iterator[Entry]:
    templates = _templates()
    assert len(templates) > 40, "the corpus is missing"
    counter = itertools.count()
    for namespace in NAMESPACES:
        for stem, document in templates:
            i = next(counter)
            slug = stem.lower().replace("_", "-")
            parameters = document.get("parameters") or {}
            resources = document.get("resources") or {}
            types = [str(r.get("type")) for r in resources.values() if isinstance(r, dict)]
            description = document.get("description")
            yield Entry(
                namespace=namespace, name=f"{slug}-{i % 4}" if i % 5 else slug,
                kind="image" if i % 13 == 0 else "template",
                private=i % 4 == 1, deprecated=i % 7 == 3,
                # Few distinct times: ties are broken by the name columns.
                created_at=f"2024-0{1 + i % 3}-01T00:00:00+00:00",
                updated_at=f"2024-05-{1 + i % 9:02d}T12:00:00+00:00",
                latest_version=f"1.{i % 3}.0" if i % 2 else None,
                description=description if isinstance(description, str) else "",
                keywords=tuple(KEYWORDS[(i + k) % len(KEYWORDS)] for k in range(i % 3)),
                search_text=tuple(map(str, parameters)) + tuple(types),
                summary={"heat_template_version": str(document["heat_template_version"])})


def _texts(entries: list[Entry]) -> list[str]:
    """Common and rare words, phrases, case, diacritics and punctuation."""
    counts: dict[str, int] = {}
    for entry in entries:
        for word in set(words(" ".join([entry.name, entry.description, *entry.search_text]))):
            counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    # Phrases across two fields (name, then description): FTS5 matches a
    # phrase within one column only.
    across = [f"{words(e.name)[-1]}-{words(e.description)[0]}"
              for e in entries[::20] if words(e.description)]
    return [*across, *ranked[:12], *ranked[len(ranked) // 2:][:: max(1, len(ranked) // 40)][:12],
            "OS::Nova::Server", "OS::Neutron::Port", "key_name", "floating ip", "SERVER",
            "sérver", "server wordpress", "Server::Nova", "_", "::", "no-such-word",
            "os nova server", "image flavor key_name", "1", "-"]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> tuple[CatalogIndex, CatalogIndex]:
    tmp = tmp_path_factory.mktemp("agree")
    entries = list(_entries())
    sqlite = SqliteIndex(tmp / "index.sqlite")
    postgres = PostgresIndex(database_for(tmp))
    for index in (sqlite, postgres):
        with index.exclusive():
            index.repair()
        index.upsert_many(entries)
        index.set_built()
    return sqlite, postgres


def _walk(index: CatalogIndex, query: Query) -> list[list[tuple[str, str, str]]]:
    """Every page of ``query``, each as its entries."""
    pages = []
    marker = None
    while True:
        page = index.query(Query(**{**query.__dict__, "marker": marker}))
        pages.append([(e.namespace, e.name, e.shown) for e in page.entries])
        marker = page.next_marker
        if marker is None:
            return pages


def _queries(texts: list[str]) -> Iterator[Query]:
    for text, sort in itertools.product([None, *texts], SORTS):
        yield Query("template", ReadScope(all_private=True), text=text, sort=sort, limit=500)
    for scope, sort in itertools.product(SCOPES, SORTS):
        yield Query("template", scope, sort=sort, limit=17)
        yield Query("image", scope, sort=sort, limit=3)
        yield Query("template", scope, text=texts[0], keywords=("web",), sort=sort, limit=5)
    for keywords in [("web",), ("web server",), ("web", "ha"), ("server",), ("ha", "dev")]:
        for sort in SORTS[:3]:
            yield Query("template", keywords=keywords, sort=sort, limit=9)
    for scope, deprecated, sort in itertools.product(SCOPES, [None, True, False], SORTS[:2]):
        yield Query("template", scope, keywords=("ha",), deprecated=deprecated, sort=sort,
                    limit=7)
    for namespace, deprecated in itertools.product(["beta", "nope"], [None, True, False]):
        yield Query("template", ReadScope(namespaces=frozenset({"beta"})), text=texts[1],
                    namespace=namespace, deprecated=deprecated, limit=4)


def test_every_query_gets_the_same_answer(
        indexes: tuple[CatalogIndex, CatalogIndex]) -> None:
    sqlite, postgres = indexes
    texts = _texts(list(_entries()))
    compared = matched = 0
    for query in _queries(texts):
        expected = _walk(sqlite, query)
        assert _walk(postgres, query) == expected, query
        compared += 1
        matched += bool(expected[0])
    assert compared > 150 and matched > 100  # the corpus of queries finds things


def test_markers_are_interchangeable(indexes: tuple[CatalogIndex, CatalogIndex]) -> None:
    sqlite, postgres = indexes
    for sort in SORTS:
        query = Query("template", sort=sort, text="server", limit=6)
        first = sqlite.query(query)
        assert first.next_marker is not None
        rest = Query("template", sort=sort, text="server", limit=6, marker=first.next_marker)
        assert postgres.query(rest) == sqlite.query(rest)


def test_entries_read_back_equal(indexes: tuple[CatalogIndex, CatalogIndex],
                                 tmp_path: Path) -> None:
    sqlite, postgres = indexes
    assert sqlite.keys() == postgres.keys()
    for namespace, name in sorted(sqlite.keys())[::25]:
        assert postgres.get(namespace, name) == sqlite.get(namespace, name)


def test_a_common_word_is_a_filter_a_rare_one_an_index_lookup(
        indexes: tuple[CatalogIndex, CatalogIndex]) -> None:
    """A word in most entries is checked on the rows the order yields (not
    looked up in the words index, whose posting list for it is most of the
    table); a rare word is looked up. Both answer as SQLite does."""
    sqlite, postgres = indexes
    assert isinstance(postgres, PostgresIndex)
    counts: dict[str, int] = {}
    for entry in _entries():
        for word in set(words(" ".join([entry.name, entry.description, *entry.search_text]))):
            counts[word] = counts.get(word, 0) + 1
    common = max(counts, key=lambda w: counts[w])
    rare = min(counts, key=lambda w: (counts[w], w))
    for text, form in [(common, "ts_match_vq(words"), (rare, "words @@")]:
        query = Query("template", text=text, keywords=("web",), limit=5)
        with postgres.db.read() as conn:
            sql, _ = postgres._page_statement(conn, query, "")
        assert form in sql, text
        assert postgres.query(query) == sqlite.query(query)
