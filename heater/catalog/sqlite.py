"""The catalog index in one SQLite file, with FTS5 full-text search.

Safe for many gunicorn workers (processes) and threads: the database is in
WAL mode (readers never block the one writer), every connection waits for
locks instead of failing (``busy_timeout``), each thread has its own
connection, and each change is one ``BEGIN IMMEDIATE`` transaction.

The file is a cache: when its schema version is not the one this code
writes, it is dropped and must be rebuilt (``is_built()`` is then False).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from heater.catalog.index import (
    Entry,
    Page,
    Query,
    ReadScope,
    decode_marker,
    encode_marker,
)
from heater.errors import InvalidInput

# Raised whenever what the index holds changes, so that an old file is
# rebuilt on start (3: image repositories are indexed too).
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 30_000
# Entries written per transaction by upsert_many(): short enough that other
# writers (pushes during a reindex) wait milliseconds, not seconds.
UPSERT_BATCH = 200
# A search box, not a query language: a bound on the work one request asks for.
MAX_QUERY_TERMS = 16
MAX_QUERY_LENGTH = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    private     INTEGER NOT NULL,
    deprecated  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    document    TEXT NOT NULL,
    shown       TEXT NOT NULL,  -- the document without search_text, for listings
    UNIQUE (namespace, name)
);
CREATE INDEX IF NOT EXISTS entries_by_name ON entries (kind, name, namespace);
CREATE INDEX IF NOT EXISTS entries_by_updated ON entries (kind, updated_at, namespace, name);
CREATE INDEX IF NOT EXISTS entries_by_created ON entries (kind, created_at, namespace, name);
CREATE TABLE IF NOT EXISTS keywords (
    keyword TEXT NOT NULL,
    entry   INTEGER NOT NULL,
    PRIMARY KEY (keyword, entry)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keywords_by_entry ON keywords (entry);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
    name, description, keywords, body,
    tokenize = 'unicode61 remove_diacritics 2'
);
"""
_TABLES = ("meta", "entries", "keywords", "search")

# Sort key -> ordered columns (the last ones break ties).
_SORT_COLUMNS = {
    "name": ("name", "namespace"),
    "updated": ("updated_at", "namespace", "name"),
    "created": ("created_at", "namespace", "name"),
}
_WORD = re.compile(r"\w", re.UNICODE)


class SearchTooLong(InvalidInput):
    code = "invalid_query"

    def __init__(self) -> None:
        super().__init__(f"q is limited to {MAX_QUERY_LENGTH} characters and "
                         f"{MAX_QUERY_TERMS} words")


def fts_query(text: str) -> str | None:
    """An FTS5 expression matching entries that contain every word of
    ``text``; a word with punctuation (``OS::Nova::Server``) matches as a
    phrase. None when ``text`` holds no word at all. The user's text never
    reaches FTS5's query syntax unquoted."""
    terms = text.split()
    if len(text) > MAX_QUERY_LENGTH or len(terms) > MAX_QUERY_TERMS:
        raise SearchTooLong()
    phrases = ['"' + term.replace('"', '""') + '"' for term in terms if _WORD.search(term)]
    return " AND ".join(phrases) if phrases else None


class SqliteIndex:
    """:class:`heater.catalog.index.CatalogIndex` on SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._schema_lock = threading.Lock()

    # -- connections -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A connection must not cross fork() into a gunicorn worker.
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=True)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # WAL with synchronous=NORMAL is durable against process crashes;
        # a power loss may drop the last changes, which a reindex restores.
        conn.execute("PRAGMA synchronous = NORMAL")
        with self._schema_lock:
            self._ensure_schema(conn)
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                for table in _TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- the contract --------------------------------------------------------

    def upsert(self, entry: Entry) -> None:
        with self._write() as conn:
            _upsert(conn, entry)

    def upsert_many(self, entries: Iterable[Entry]) -> None:
        batch: list[Entry] = []
        for entry in entries:
            batch.append(entry)
            if len(batch) == UPSERT_BATCH:
                self._upsert_batch(batch)
                batch = []
        if batch:
            self._upsert_batch(batch)

    def _upsert_batch(self, entries: list[Entry]) -> None:
        with self._write() as conn:
            for entry in entries:
                _upsert(conn, entry)

    def remove(self, namespace: str, name: str) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT id FROM entries WHERE namespace = ? AND name = ?",
                               (namespace, name)).fetchone()
            if row is not None:
                _forget_search(conn, row[0])
                conn.execute("DELETE FROM entries WHERE id = ?", (row[0],))

    def get(self, namespace: str, name: str) -> Entry | None:
        row = self._connection().execute(
            "SELECT document FROM entries WHERE namespace = ? AND name = ?",
            (namespace, name)).fetchone()
        return Entry.from_json(json.loads(row[0])) if row else None

    def keys(self) -> set[tuple[str, str]]:
        rows = self._connection().execute("SELECT namespace, name FROM entries").fetchall()
        return {(r[0], r[1]) for r in rows}

    def is_built(self) -> bool:
        row = self._connection().execute(
            "SELECT value FROM meta WHERE key = 'built'").fetchone()
        return row is not None

    def set_built(self) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('built', '1')")

    def query(self, query: Query) -> Page:
        where = ["kind = ?"]
        args: list[object] = [query.kind]
        visibility, visibility_args = _scope_clause(query.scope)
        if visibility:
            where.append(visibility)
            args += visibility_args
        if query.namespace is not None:
            where.append("namespace = ?")
            args.append(query.namespace)
        if query.deprecated is not None:
            where.append("deprecated = ?")
            args.append(int(query.deprecated))
        # Full-text and keyword filters, each a set of entry ids.
        matches: list[tuple[str, str]] = []
        if query.text is not None:
            match = fts_query(query.text)
            if match is not None:
                matches.append(("SELECT rowid FROM search WHERE search MATCH ?", match))
        for keyword in dict.fromkeys(query.keywords):
            matches.append(("SELECT entry FROM keywords WHERE keyword = ?", keyword))
        columns = _SORT_COLUMNS[query.sort.key]
        if query.marker is not None:
            position = decode_marker(query.marker, query.sort)
            operator = "<" if query.sort.descending else ">"
            where.append(f"({', '.join(columns)}) {operator} ({', '.join('?' * len(columns))})")
            args += position
        direction = "DESC" if query.sort.descending else "ASC"
        order = ", ".join(f"e.{c} {direction}" for c in columns)
        # Only the fixed fragments above are spliced in; every value is bound.
        if len(matches) < 2:
            # Walking the sort index and testing each entry against one set
            # stops after a page: best when that set is large.
            for subquery, value in matches:
                where.append(f"id IN ({subquery})")
                args.append(value)
            sql = (f"SELECT shown FROM entries e WHERE {' AND '.join(where)} "  # noqa: S608
                   f"ORDER BY {order} LIMIT ?")
        else:
            # An intersection is small: build it, sort it, then read only
            # the page's documents (sorting whole documents is slow).
            hits = " INTERSECT ".join(subquery for subquery, _ in matches)
            args = [value for _, value in matches] + args
            sql = (f"WITH hits(id) AS MATERIALIZED ({hits}), "  # noqa: S608
                   "page(id) AS MATERIALIZED (SELECT e.id FROM hits "
                   "CROSS JOIN entries e ON e.id = hits.id "
                   f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?) "
                   "SELECT shown FROM page CROSS JOIN entries e ON e.id = page.id "
                   f"ORDER BY {order}")
        rows = self._connection().execute(sql, (*args, query.limit + 1)).fetchall()
        # One decode for the page rather than one per entry.
        documents = json.loads("[" + ",".join(r[0] for r in rows[: query.limit]) + "]")
        entries = [Entry.from_json(d) for d in documents]
        more = len(rows) > query.limit
        next_marker = (encode_marker(query.sort, entries[-1].sort_key(query.sort.key))
                       if more and entries else None)
        return Page(entries, next_marker)


def _upsert(conn: sqlite3.Connection, entry: Entry) -> None:
    data = entry.as_json()
    document = json.dumps(data, sort_keys=True, separators=(",", ":"))
    data["search_text"] = []
    shown = json.dumps(data, sort_keys=True, separators=(",", ":"))
    row = conn.execute("SELECT id FROM entries WHERE namespace = ? AND name = ?",
                       (entry.namespace, entry.name)).fetchone()
    values = (entry.kind, entry.namespace, entry.name, int(entry.private),
              int(entry.deprecated), entry.created_at, entry.updated_at, document, shown)
    if row is None:
        entry_id = conn.execute(
            "INSERT INTO entries (kind, namespace, name, private, deprecated, "
            "created_at, updated_at, document, shown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values).lastrowid
    else:
        entry_id = row[0]
        conn.execute(
            "UPDATE entries SET kind = ?, namespace = ?, name = ?, private = ?, "
            "deprecated = ?, created_at = ?, updated_at = ?, document = ?, shown = ? "
            "WHERE id = ?", (*values, entry_id))
        _forget_search(conn, entry_id)
    conn.executemany("INSERT OR IGNORE INTO keywords (keyword, entry) VALUES (?, ?)",
                     [(k, entry_id) for k in entry.keywords])
    conn.execute(
        "INSERT INTO search (rowid, name, description, keywords, body) "
        "VALUES (?, ?, ?, ?, ?)",
        (entry_id, entry.name, entry.description, " ".join(entry.keywords),
         "\n".join(entry.search_text)))


def _forget_search(conn: sqlite3.Connection, entry_id: int) -> None:
    conn.execute("DELETE FROM keywords WHERE entry = ?", (entry_id,))
    conn.execute("DELETE FROM search WHERE rowid = ?", (entry_id,))


def _scope_clause(scope: ReadScope) -> tuple[str, list[object]]:
    if scope.all_private:
        return "", []
    if not scope.namespaces:
        return "private = 0", []
    marks = ", ".join("?" * len(scope.namespaces))
    namespaces: list[object] = [*sorted(scope.namespaces)]
    return f"(private = 0 OR namespace IN ({marks}))", namespaces
