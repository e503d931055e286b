"""The catalog index in one SQLite file, with FTS5 full-text search.

Safe for many gunicorn workers (processes) and threads: the database is in
WAL mode (readers never block the one writer), every connection waits for
locks instead of failing (``busy_timeout``), each thread has its own
connection, and each change is one ``BEGIN IMMEDIATE`` transaction.

The file is a cache: when its schema version is not the one this code
writes, it is dropped and must be rebuilt (``is_built()`` is then False).

Losing the file under a running server. A connection keeps the file it
opened, by inode: deleted or replaced, it would go on reading and writing a
copy no other process sees, while a new file, if a worker created one, would
start empty and pick up the old file's ``-wal`` and ``-shm`` (SQLite finds
them by name), mixing two databases. So:

- serving connections never create the file (``create=False``);
- before each use a connection checks that the path still names the inode
  it opened; if not, it is closed (SQLite does not checkpoint or delete the
  side files of a database that moved) and a new one is opened, or
  :class:`IndexUnavailable` raised while there is no file;
- any SQLite error other than a programming error becomes
  :class:`IndexUnavailable` (503) and drops the connection;
- only :meth:`SqliteIndex.repair` (``heater reindex``, server start) creates
  the file, after deleting a damaged one and any stale side files, under an
  exclusive lock on ``index.sqlite.lock``; processes still holding the old
  files keep their own unlinked copies until their next check.

The database file is only ever opened through SQLite: closing any other
descriptor of it would drop every POSIX lock this process's connections
hold on it, and another process closing its last connection would then
checkpoint and delete the ``-wal`` that they still use.
"""

from __future__ import annotations

import contextlib
import fcntl
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
    IndexUnavailable,
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
# The files SQLite keeps beside the database, found by name.
_SIDE_FILES = ("-wal", "-shm", "-journal")

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

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        self.create = create
        self._local = threading.local()
        self._schema_lock = threading.Lock()

    # -- connections -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        # A connection must not cross fork() into a gunicorn worker.
        if conn is not None and (local.pid != os.getpid() or _identity(self.path) != local.ino):
            self._drop()
            conn = None
        if conn is None:
            if not self.create and _identity(self.path) is None:
                raise IndexUnavailable(f"{self.path.name} is missing")
            conn = self._connect()
            local.conn, local.pid, local.built = conn, os.getpid(), False
            local.ino = _identity(self.path)
        return conn

    def _drop(self) -> None:
        """Forget this thread's connection (closed only in the process that
        opened it: a forked copy shares its locks)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and self._local.pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:  # release its locks even if close is deferred
                    conn.execute("ROLLBACK")
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mode = "rwc" if self.create else "rw"
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode={mode}", uri=True,
                                   timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=True)
        except sqlite3.Error as exc:
            raise _unavailable(exc) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.create:
                conn.execute("PRAGMA journal_mode = WAL")
            else:
                # Persistent in the file, so only checked: on a truncated or
                # foreign file, setting it would wait for an exclusive lock
                # that the other workers' connections never give up.
                _check_wal(conn, self.path)
            # WAL with synchronous=NORMAL is durable against process crashes;
            # a power loss may drop the last changes, which a reindex restores.
            conn.execute("PRAGMA synchronous = NORMAL")
            with self._schema_lock:
                self._ensure_schema(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise _unavailable(exc) from exc
        return conn

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection; a failing database becomes
        :class:`IndexUnavailable` and the connection is dropped."""
        conn = self._connection()
        try:
            yield conn
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise  # a defect here, not a sick database
        except sqlite3.DatabaseError as exc:
            self._drop()
            raise _unavailable(exc) from exc

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock that serialises repairs and rebuilds of this index
        across processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT,
                     0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def repair(self) -> bool:
        """Make the file usable: a missing or damaged one is discarded with
        its side files and created empty (not built). True if it was.
        The caller holds :meth:`exclusive`."""
        self._drop()
        if _healthy(self.path):
            return False
        for suffix in ("", *_SIDE_FILES):
            # Unlinked, never truncated: a process still using the old files
            # keeps its own copy and cannot write into the new database.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        create, self.create = self.create, True
        try:
            self._connection()
        finally:
            self.create = create
        return True

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        # Read first: a connection only takes the write lock when the schema
        # must change (a damaged file then fails here holding nothing).
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
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
        with self._use() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
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
        with self._use() as conn:
            row = conn.execute(
                "SELECT document FROM entries WHERE namespace = ? AND name = ?",
                (namespace, name)).fetchone()
        return Entry.from_json(json.loads(row[0])) if row else None

    def keys(self) -> set[tuple[str, str]]:
        with self._use() as conn:
            rows = conn.execute("SELECT namespace, name FROM entries").fetchall()
        return {(r[0], r[1]) for r in rows}

    def is_built(self) -> bool:
        with self._use() as conn:
            if self._local.built:  # never unset on the file a connection holds
                return True
            row = conn.execute("SELECT value FROM meta WHERE key = 'built'").fetchone()
        self._local.built = row is not None
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
        with self._use() as conn:
            rows = conn.execute(sql, (*args, query.limit + 1)).fetchall()
        # One decode for the page rather than one per entry.
        documents = json.loads("[" + ",".join(r[0] for r in rows[: query.limit]) + "]")
        entries = [Entry.from_json(d) for d in documents]
        more = len(rows) > query.limit
        next_marker = (encode_marker(query.sort, entries[-1].sort_key(query.sort.key))
                       if more and entries else None)
        return Page(entries, next_marker)


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (None: none)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _check_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Raise :class:`IndexUnavailable` unless ``conn``'s file is in WAL mode.
    (Read through SQLite: opening and closing the file directly would drop
    every POSIX lock this process's connections hold on it.)"""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        raise IndexUnavailable(f"{path.name} is damaged (not a database in WAL mode)")


def _healthy(path: Path) -> bool:
    """Whether ``path`` is an intact database in WAL mode."""
    if _identity(path) is None:
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw",
                                                uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
            _check_wal(conn, path)
            return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
    except (IndexUnavailable, sqlite3.DatabaseError):
        return False


def _unavailable(exc: sqlite3.Error) -> IndexUnavailable:
    reason = str(exc)
    if "locked" in reason or "busy" in reason:
        return IndexUnavailable(f"it stayed locked for {BUSY_TIMEOUT_MS // 1000} s",
                                "try again shortly")
    return IndexUnavailable(f"SQLite says: {reason}")


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
