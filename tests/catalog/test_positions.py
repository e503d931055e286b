"""The SQLite index numbers entries in name order, so that a search streams
its matches in listing order; these tests squeeze the id space until new
entries no longer fit between their neighbours and ids must be renumbered."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from heater.catalog import sqlite as catalog_sqlite
from heater.catalog.index import Entry, Query, ReadScope, Sort
from heater.catalog.sqlite import SqliteIndex


def _entry(namespace: str, name: str) -> Entry:
    return Entry(namespace=namespace, name=name, kind="template", private=False,
                 deprecated=False, created_at="2024-01-01T00:00:00+00:00",
                 updated_at="2024-01-01T00:00:00+00:00", description=f"common {name}x",
                 keywords=("k",))


def _walk(index: SqliteIndex, **fields: object) -> list[str]:
    """Every page of a query, two entries at a time."""
    seen: list[str] = []
    marker = None
    while True:
        page = index.query(Query("template", ReadScope(all_private=True), limit=2,
                                 marker=marker, **fields))  # type: ignore[arg-type]
        seen += [f"{e.namespace}/{e.name}" for e in page.entries]
        if page.next_marker is None:
            return seen
        marker = page.next_marker


@pytest.fixture
def squeezed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A tiny id space; returns the list that records each renumbering."""
    monkeypatch.setattr(catalog_sqlite, "MAX_POSITION", 256)
    monkeypatch.setattr(catalog_sqlite, "NEW_POSITION_STEP", 4)
    renumbered: list[int] = []
    renumber = catalog_sqlite._renumber

    def counting(conn: sqlite3.Connection) -> None:
        renumbered.append(1)
        renumber(conn)

    monkeypatch.setattr(catalog_sqlite, "_renumber", counting)
    return renumbered


def test_entries_added_into_one_gap_stay_in_name_order(tmp_path: Path,
                                                       squeezed: list[int]) -> None:
    index = SqliteIndex(tmp_path / "index.sqlite")
    index.upsert(_entry("n", "a"))
    index.upsert(_entry("n", "z"))
    # Each new name falls between the previous one and "z": the gap halves
    # every time, so the ids run out and are renumbered (more than once).
    added = [f"b{i:02d}" for i in range(20)] + ["a0", "a00", "a000"]
    for name in added:
        index.upsert(_entry("n", name))
        index.upsert(_entry("m", name))  # the same name in another namespace
    assert len(squeezed) >= 2
    keys = [f"n/{n}" for n in ["a", "z", *added]] + [f"m/{n}" for n in added]
    expected = sorted(keys, key=lambda key: key.split("/")[::-1])  # by name, then namespace

    conn = sqlite3.connect(tmp_path / "index.sqlite")
    ids = [r[0] for r in conn.execute("SELECT id FROM entries ORDER BY name, namespace")]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(0 < i <= 256 for i in ids)
    # The full-text rows moved with their entries.
    assert conn.execute("SELECT count(*) FROM entries e JOIN search s ON s.rowid = e.id "
                        "WHERE s.name = e.name").fetchone()[0] == len(ids)
    conn.close()

    assert _walk(index) == expected
    assert _walk(index, sort=Sort("name", descending=True)) == expected[::-1]
    assert _walk(index, text="common") == expected
    assert _walk(index, keywords=("k",), sort=Sort("name", descending=True)) == expected[::-1]
    for name in added:
        assert _walk(index, text=f"{name}x") == [f"m/{name}", f"n/{name}"]


def test_a_marker_survives_a_renumbering(tmp_path: Path, squeezed: list[int]) -> None:
    index = SqliteIndex(tmp_path / "index.sqlite")
    for name in ("a", "c", "e", "z"):
        index.upsert(_entry("n", name))
    first = index.query(Query("template", text="common", limit=2))
    assert [e.name for e in first.entries] == ["a", "c"]
    for i in range(12):  # squeezed in after "c": renumbers
        index.upsert(_entry("n", f"c{i:02d}"))
    index.remove("n", "c")
    assert squeezed
    rest = index.query(Query("template", text="common", limit=50, marker=first.next_marker))
    assert [e.name for e in rest.entries] == [*(f"c{i:02d}" for i in range(12)), "e", "z"]
