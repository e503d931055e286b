"""A rebuild into an empty PostgreSQL index: the GIN indexes are dropped
for the load and built once at the end, never lost if the load dies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from heater.catalog import postgres
from heater.catalog.index import Entry, Query, ReadScope
from heater.catalog.postgres import PostgresIndex
from tests.catalog.test_index import BACKENDS, entry


def gin_indexes(index: PostgresIndex) -> list[tuple[str, str]]:
    with psycopg.connect(index.dsn) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_entries' "
            "AND indexdef LIKE '% USING gin %' ORDER BY indexname")]


def some_entries(count: int) -> Iterator[Entry]:
    for i in range(count):
        yield entry(f"n{i % 3}", f"t{i:03d}", description=f"server number {i}",
                    keywords=("web",) if i % 2 else ("db",))


@pytest.fixture
def index(tmp_path: Path) -> PostgresIndex:
    made = BACKENDS["postgresql"](tmp_path)
    assert isinstance(made, PostgresIndex)
    return made


def found(index: PostgresIndex, **query: object) -> int:
    page = index.query(Query("template", ReadScope(all_private=True), limit=500,
                             **query))  # type: ignore[arg-type]
    return len(page.entries)


def test_a_load_into_an_empty_table_ends_with_the_same_indexes(index: PostgresIndex) -> None:
    before = gin_indexes(index)
    assert len(before) == 2
    index.upsert_many(some_entries(120))
    assert gin_indexes(index) == before
    assert found(index, text="server") == 120
    assert found(index, keywords=("web",)) == 60
    index.set_built()
    assert index.is_built()


def test_a_load_that_dies_leaves_the_indexes_to_repair(
        index: PostgresIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "UPSERT_BATCH", 10)  # three batches land before it dies
    before = gin_indexes(index)
    index.set_built()

    def dies_half_way() -> Iterator[Entry]:
        yield from some_entries(30)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        index.upsert_many(dies_half_way())
    # The process would be gone here: indexes missing, the index not built.
    assert gin_indexes(index) == []
    assert not index.is_built()
    with index.exclusive():
        assert index.repair() is None
    assert gin_indexes(index) == before
    assert found(index, text="server") == 30


def test_a_load_into_a_full_table_keeps_its_indexes(index: PostgresIndex) -> None:
    index.upsert(entry("n0", "first"))
    before = gin_indexes(index)
    seen: list[list[tuple[str, str]]] = []

    def watched() -> Iterator[Entry]:
        for item in some_entries(10):
            seen.append(gin_indexes(index))
            yield item

    index.upsert_many(watched())
    assert seen == [before] * 10
    assert found(index, text="server") == 10
