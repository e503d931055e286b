"""The contract every catalog index backend must pass (see heater.catalog.index).

A new backend adds its factory to BACKENDS; nothing else here changes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from heater.catalog.index import (
    CatalogIndex,
    Entry,
    IndexUnavailable,
    Query,
    ReadScope,
    Sort,
    encode_marker,
)
from heater.catalog.postgres import PostgresIndex
from heater.catalog.sqlite import SqliteIndex
from heater.errors import InvalidMarker
from tests.services.postgres import database_for

BACKENDS: dict[str, Callable[[Path], CatalogIndex]] = {
    "sqlite": lambda tmp: SqliteIndex(tmp / "index.sqlite"),
    "postgresql": lambda tmp: _repaired(PostgresIndex(database_for(tmp))),
}


def _repaired(index: PostgresIndex) -> PostgresIndex:
    """A store with its tables (made by a rebuild in service, as SQLite's
    file is made by opening it here)."""
    with index.exclusive():
        index.repair()
    return index


@pytest.fixture(params=sorted(BACKENDS))
def index(request: pytest.FixtureRequest, tmp_path: Path) -> CatalogIndex:
    return BACKENDS[request.param](tmp_path)


def entry(namespace: str, name: str, **fields: object) -> Entry:
    values: dict[str, object] = {
        "kind": "template", "private": False, "deprecated": False,
        "created_at": "2024-01-01T00:00:00+00:00", "updated_at": "2024-01-01T00:00:00+00:00",
    }
    values.update(fields)
    return Entry(namespace=namespace, name=name, **values)  # type: ignore[arg-type]


def names(index: CatalogIndex, **query: object) -> list[str]:
    fields: dict[str, object] = {"kind": "template", "scope": ReadScope(all_private=True)}
    fields.update(query)
    page = index.query(Query(**fields))  # type: ignore[arg-type]
    return [f"{e.namespace}/{e.name}" for e in page.entries]


def test_upsert_get_roundtrip(index: CatalogIndex) -> None:
    stored = entry("a", "web", description="A web server", keywords=("web", "nginx"),
                   search_text=("OS::Nova::Server",), latest_version="1.2.0",
                   summary={"heat_template_version": "2018-08-31", "icon": None})
    index.upsert(stored)
    assert index.get("a", "web") == stored
    assert index.get("a", "nope") is None
    assert index.keys() == {("a", "web")}


def test_upsert_replaces_everything_searchable(index: CatalogIndex) -> None:
    index.upsert(entry("a", "web", description="apache", keywords=("old",)))
    index.upsert(entry("a", "web", description="nginx", keywords=("new",)))
    assert names(index, text="apache") == []
    assert names(index, keywords=("old",)) == []
    assert names(index, text="nginx") == ["a/web"]
    assert names(index, keywords=("new",)) == ["a/web"]
    assert index.keys() == {("a", "web")}


def test_remove(index: CatalogIndex) -> None:
    index.upsert(entry("a", "web", description="nginx", keywords=("k",)))
    index.remove("a", "web")
    index.remove("a", "never-there")
    assert index.get("a", "web") is None
    assert names(index) == []
    assert names(index, text="nginx") == []
    assert names(index, keywords=("k",)) == []


def test_kind_namespace_and_deprecated_filters(index: CatalogIndex) -> None:
    index.upsert(entry("a", "t1"))
    index.upsert(entry("a", "t2", deprecated=True))
    index.upsert(entry("b", "t3"))
    index.upsert(entry("a", "img", kind="image"))
    assert names(index) == ["a/t1", "a/t2", "b/t3"]
    assert names(index, kind="image") == ["a/img"]
    assert names(index, namespace="a") == ["a/t1", "a/t2"]
    assert names(index, deprecated=True) == ["a/t2"]
    assert names(index, deprecated=False) == ["a/t1", "b/t3"]


def test_visibility_scope(index: CatalogIndex) -> None:
    index.upsert(entry("a", "public"))
    index.upsert(entry("a", "secret-a", private=True))
    index.upsert(entry("b", "secret-b", private=True))
    assert names(index, scope=ReadScope.public()) == ["a/public"]
    assert names(index, scope=ReadScope(namespaces=frozenset({"b"}))) == [
        "a/public", "b/secret-b"]
    assert names(index, scope=ReadScope(all_private=True)) == [
        "a/public", "a/secret-a", "b/secret-b"]


def test_keywords_must_all_match(index: CatalogIndex) -> None:
    index.upsert(entry("a", "one", keywords=("web", "db")))
    index.upsert(entry("a", "two", keywords=("web",)))
    assert names(index, keywords=("web",)) == ["a/one", "a/two"]
    assert names(index, keywords=("web", "db")) == ["a/one"]
    assert names(index, keywords=("db", "cache")) == []


def test_a_keyword_page_follows_every_change(index: CatalogIndex) -> None:
    """A keyword's page as entries gain and lose the keyword, change
    visibility or deprecation, and are removed (one by one and in bulk)."""
    for i in range(6):
        index.upsert(entry("a" if i % 2 else "b", f"t{i}", keywords=("web", "db")[: 1 + i % 2]))
    public = ReadScope.public()
    assert names(index, keywords=("web",)) == ["b/t0", "a/t1", "b/t2", "a/t3", "b/t4", "a/t5"]
    index.upsert(entry("a", "t1", keywords=("db",)))
    index.upsert(entry("b", "t2", keywords=("web",), private=True))
    index.upsert(entry("a", "t3", keywords=("web", "web"), deprecated=True))
    index.remove("b", "t4")
    index.upsert_many([entry("a", "t5", keywords=()), entry("c", "t0", keywords=("web",))])
    assert names(index, keywords=("web",)) == ["b/t0", "c/t0", "b/t2", "a/t3"]
    assert names(index, keywords=("web",), scope=public) == ["b/t0", "c/t0", "a/t3"]
    assert names(index, keywords=("web",), scope=ReadScope(namespaces=frozenset({"b"})),
                 deprecated=False, sort=Sort("name", True)) == ["b/t2", "c/t0", "b/t0"]
    assert names(index, keywords=("web",), deprecated=True) == ["a/t3"]
    assert names(index, keywords=("db",)) == ["a/t1"]
    first = index.query(Query("template", keywords=("web",), limit=2))
    assert [e.name for e in first.entries] == ["t0", "t0"] and first.next_marker
    rest = index.query(Query("template", keywords=("web",), limit=2, marker=first.next_marker))
    assert [(e.namespace, e.name) for e in rest.entries] == [("a", "t3")]


def test_full_text_fields(index: CatalogIndex) -> None:
    index.upsert(entry("a", "wordpress", description="Blog on a single server"))
    index.upsert(entry("a", "lb", keywords=("loadbalancer",),
                       search_text=("OS::Octavia::LoadBalancer", "vip_subnet")))
    assert names(index, text="wordpress") == ["a/wordpress"]
    assert names(index, text="blog server") == ["a/wordpress"]
    assert names(index, text="blog octavia") == []
    assert names(index, text="loadbalancer") == ["a/lb"]
    assert names(index, text="OS::Octavia::LoadBalancer") == ["a/lb"]
    assert names(index, text="vip_subnet") == ["a/lb"]
    assert names(index, text="Blög") == ["a/wordpress"]


@pytest.mark.parametrize("text", ['"', "AND", "OR x", "foo*", "NEAR(a b)", "-x", "a:b",
                                  "col:value", "^start", "(", "'", "*"])
def test_full_text_syntax_is_never_interpreted(index: CatalogIndex, text: str) -> None:
    index.upsert(entry("a", "web", description="web"))
    assert names(index, text=text) in ([], ["a/web"])


def test_sort_orders_with_ties(index: CatalogIndex) -> None:
    index.upsert(entry("b", "x", updated_at="2024-03-01T00:00:00+00:00"))
    index.upsert(entry("a", "x", updated_at="2024-03-01T00:00:00+00:00"))
    index.upsert(entry("a", "y", updated_at="2024-05-01T00:00:00+00:00",
                       created_at="2023-01-01T00:00:00+00:00"))
    assert names(index) == ["a/x", "b/x", "a/y"]
    assert names(index, sort=Sort("name", True)) == ["a/y", "b/x", "a/x"]
    assert names(index, sort=Sort("updated", True)) == ["a/y", "b/x", "a/x"]
    assert names(index, sort=Sort("updated")) == ["a/x", "b/x", "a/y"]
    assert names(index, sort=Sort("created")) == ["a/y", "a/x", "b/x"]


@pytest.mark.parametrize("sort", [Sort("name"), Sort("name", True), Sort("updated", True),
                                  Sort("created")])
def test_markers_walk_every_entry_once(index: CatalogIndex, sort: Sort) -> None:
    for i in range(23):
        index.upsert(entry(f"n{i % 3}", f"t{i:02d}",
                           updated_at=f"2024-01-{1 + i % 5:02d}T00:00:00+00:00"))
    everything = names(index, sort=sort, limit=500)
    seen: list[str] = []
    marker = None
    while True:
        page = index.query(Query("template", ReadScope(all_private=True), sort=sort,
                                 limit=5, marker=marker))
        seen += [f"{e.namespace}/{e.name}" for e in page.entries]
        marker = page.next_marker
        if marker is None:
            break
    assert seen == everything
    assert len(seen) == 23


def test_marker_survives_changes_before_it(index: CatalogIndex) -> None:
    for name in ("b", "d", "f"):
        index.upsert(entry("n", name))
    first = index.query(Query("template", limit=2))
    assert [e.name for e in first.entries] == ["b", "d"]
    index.upsert(entry("n", "a"))
    index.remove("n", "b")
    rest = index.query(Query("template", limit=2, marker=first.next_marker))
    assert [e.name for e in rest.entries] == ["f"]
    assert rest.next_marker is None


@pytest.mark.parametrize("marker", ["", "!!!", "bm90IGpzb24", "e30",
                                    encode_marker(Sort("updated", True), ("x", "y", "z")),
                                    encode_marker(Sort("name"), ("only-one",))])
def test_bad_markers(index: CatalogIndex, marker: str) -> None:
    with pytest.raises(InvalidMarker):
        index.query(Query("template", sort=Sort("name"), marker=marker))


def test_built_flag(index: CatalogIndex) -> None:
    assert not index.is_built()
    index.set_built()
    assert index.is_built()


@pytest.mark.parametrize("text", [None, "nothing-matches-this"])
def test_query_built_refuses_until_built(index: CatalogIndex, text: str | None) -> None:
    index.upsert(entry("n", "a"))
    index.upsert(entry("n", "b"))
    query = Query("template", text=text, limit=1)
    with pytest.raises(IndexUnavailable, match="empty or being rebuilt"):
        index.query_built(query)
    index.set_built()
    assert index.query_built(query) == index.query(query)
    if text is None:
        assert [e.name for e in index.query_built(query).entries] == ["a"]


def _writer(factory_name: str, tmp: str, worker: int) -> None:
    index = BACKENDS[factory_name](Path(tmp))
    for i in range(40):
        index.upsert(entry(f"w{worker}", f"t{i}", keywords=("k",)))
        # Every worker inserts the same new entry at about the same time.
        index.upsert(entry("shared", f"t{i}", description=f"w{worker} {i}"))


@pytest.mark.e2e  # starts processes
def test_concurrent_processes(tmp_path: Path) -> None:
    for backend in BACKENDS:
        BACKENDS[backend](tmp_path)  # the store, made here: the processes share it
        context = multiprocessing.get_context("spawn")
        workers = [context.Process(target=_writer, args=(backend, str(tmp_path), w))
                   for w in range(3)]
        for process in workers:
            process.start()
        for process in workers:
            process.join(60)
            assert process.exitcode == 0
        index = BACKENDS[backend](tmp_path)
        assert len(names(index, keywords=("k",), limit=500)) == 120
        assert index.keys() >= {("shared", f"t{i}") for i in range(40)}


def test_upsert_many_is_upsert_of_each(index: CatalogIndex) -> None:
    index.upsert(entry("a", "t0", keywords=("old",)))
    index.upsert_many(entry("a", f"t{i}", keywords=("k",)) for i in range(450))
    assert names(index, keywords=("old",)) == []
    assert len(names(index, keywords=("k",), limit=500)) == 450
    index.upsert_many([])
    assert len(index.keys()) == 450


@pytest.mark.parametrize("sort", [Sort("name"), Sort("updated", True)])
def test_markers_with_several_filters(index: CatalogIndex, sort: Sort) -> None:
    for i in range(30):
        keywords = ("a", "b") if i % 3 else ("a",)
        index.upsert(entry(f"n{i % 2}", f"t{i:02d}", keywords=keywords,
                           description="blue" if i % 5 else "red", private=i == 7,
                           updated_at=f"2024-01-{1 + i % 4:02d}T00:00:00+00:00"))
    expected = names(index, sort=sort, keywords=("a",), limit=500)
    expected = [n for n in expected
                if int(n.split("/t")[1]) % 3 and int(n.split("/t")[1]) % 5 and n != "n1/t07"]
    seen: list[str] = []
    marker = None
    while True:
        page = index.query(Query("template", sort=sort, keywords=("a", "b"), text="blue",
                                 limit=4, marker=marker))
        seen += [f"{e.namespace}/{e.name}" for e in page.entries]
        marker = page.next_marker
        if marker is None:
            break
    assert seen == expected
    assert len(seen) == 15


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_exclusive_admits_one_holder_at_a_time(tmp_path: Path, backend: str) -> None:
    # Two stores on the same data, as two processes have.
    first, second = BACKENDS[backend](tmp_path), BACKENDS[backend](tmp_path)
    entered = threading.Event()
    with first.exclusive():
        waiter = threading.Thread(target=lambda: _enter(second, entered))
        waiter.start()
        assert not entered.wait(0.3)  # waits while the first holds it
    assert entered.wait(10)
    waiter.join()


def _enter(index: CatalogIndex, entered: threading.Event) -> None:
    with index.exclusive():
        entered.set()
