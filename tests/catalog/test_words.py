"""The tokenizer full-text search shares between backends splits text into
the very words SQLite's FTS5 ``unicode61 remove_diacritics 2`` makes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest

from heater.catalog.words import SearchTooLong, search_terms, words
from tests.conftest import CORPUS

TRICKY = [
    "OS::Nova::Server vip_subnet key-name 1.2.3 v2 x86_64",
    "Blög café naïve Ærø straße İstanbul Łódź Øresund",
    "日本語のテキスト 中文 한국어",
    "Ελληνικά ά ώ Ђ ё й Ї",
    "x²y ½ ① Ⅻ ﬁne Œuvre ǅemal",
    "e\u0301 \u0301e A\u030a",
    "tabs\tand\nnewlines, commas; (parens) [brackets] {braces} 'quotes' \"double\"",
    "emoji 🙂 math ∑ currency €5 $x #tag @user 50% © ° → ★ ✓ « » ¿ ·",
    "\u02c6 \U0001d518\U0001d52b\U0001d526",
]


def _fts5_words(conn: sqlite3.Connection, text: str) -> list[str]:
    conn.execute("DELETE FROM t")
    conn.execute("INSERT INTO t (rowid, x) VALUES (1, ?)", (text,))
    return [row[0] for row in conn.execute("SELECT term FROM v ORDER BY offset")]


def _texts() -> Iterator[str]:
    yield from TRICKY
    for path in sorted(CORPUS.rglob("*.yaml")):
        yield path.read_text(errors="replace")


def test_words_are_those_of_fts5() -> None:
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = "
                     "'unicode61 remove_diacritics 2')")
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
        texts = list(_texts())
        assert len(texts) > 50  # the corpus is there
        for text in texts:
            assert words(text) == _fts5_words(conn, text), text[:80]


def test_search_terms() -> None:
    assert search_terms("  web  OS::Nova::Server :: - _x ") == [
        "web", "OS::Nova::Server", "_x"]
    with pytest.raises(SearchTooLong):
        search_terms("a " * 17)
    with pytest.raises(SearchTooLong):
        search_terms("a" * 257)
