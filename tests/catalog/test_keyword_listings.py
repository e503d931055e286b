"""PostgreSQL reads a keyword's page from its own table, in name order: a
page reads about one page of rows however rare the keyword; the table is
filled when a database holding entries gains it, and is part of what a
repair checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heater.catalog.index import IndexUnavailable, Query, ReadScope
from heater.catalog.postgres import MIGRATIONS, PostgresIndex, page_statement
from heater.pgdb import apply_migrations
from tests.catalog.test_bulk_load import found, some_entries
from tests.catalog.test_index import BACKENDS, entry
from tests.services.postgres import database_for


@pytest.fixture
def index(tmp_path: Path) -> PostgresIndex:
    made = BACKENDS["postgresql"](tmp_path)
    assert isinstance(made, PostgresIndex)
    return made


def plan(index: PostgresIndex, query: Query) -> dict[str, Any]:
    sql, args = page_statement(query, "")
    with psycopg.connect(index.dsn) as conn:
        row = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, args).fetchone()
    assert row is not None
    return dict(row[0][0]["Plan"])


def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The scans of a plan, each with the rows it read."""
    found = [node] if "Relation Name" in node else []
    for child in node.get("Plans", []):
        found += scans(child)
    return found


def test_a_keyword_page_reads_one_page_of_rows(index: PostgresIndex) -> None:
    # One entry in ten has the keyword: walking the entries in name order
    # would read ten rows for each one shown.
    index.upsert_many(entry(f"n{i % 3}", f"t{i:04d}", keywords=("web",) if i % 10 else ("db",))
                      for i in range(2000))
    index.set_built()
    query = Query("template", ReadScope.public(), keywords=("db",), limit=20)
    [scan] = scans(plan(index, query))
    assert scan["Relation Name"] == "catalog_keyword_listings"
    assert scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0) <= query.limit + 1
    page = index.query(query)
    assert len(page.entries) == 20
    assert all(json.loads(e.shown)["keywords"] == ["db"] for e in page.entries)


def test_a_database_of_the_steps_before_gains_a_filled_table(tmp_path: Path) -> None:
    dsn = database_for(tmp_path)
    with psycopg.connect(dsn) as conn:
        apply_migrations(conn, "catalog", MIGRATIONS[:2])
    index = PostgresIndex(dsn)
    index.upsert_many(some_entries(30))  # written without the keyword table
    with index.exclusive():
        assert index.repair() is None  # a newer step, not damage
    assert not index.is_built()  # built under fewer steps: rebuilt before serving
    assert found(index, keywords=("web",)) == 15
    assert found(index, keywords=("db",), namespace="n1") == 5


def test_a_dropped_keyword_table_is_damage_a_repair_mends(index: PostgresIndex) -> None:
    index.upsert_many(some_entries(10))
    index.set_built()
    with psycopg.connect(index.dsn) as conn:
        conn.execute("DROP TABLE catalog_keyword_listings")
    with pytest.raises(IndexUnavailable, match="missing"):
        index.is_built()
    with pytest.raises(IndexUnavailable, match="missing"):  # a write that changes a row
        index.upsert_many(some_entries(12))
    with index.exclusive():
        assert index.repair() == "damaged"
    index.upsert_many(some_entries(10))
    assert found(index, keywords=("web",)) == 5
