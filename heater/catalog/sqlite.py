"""The catalog index in one SQLite file, with FTS5 full-text search.

Safe for many gunicorn workers (processes) and threads: the database is in
WAL mode (readers never block the one writer), every connection waits for
locks instead of failing (``busy_timeout``), each thread has its own
connection, and each change is one ``BEGIN IMMEDIATE`` transaction.

Pages in name order (the default) cost the same at any size: entry ids
are kept in (name, namespace) order (sparse, see :func:`_position`), the
FTS5 table's rowids are those ids, and the keyword, namespace and
deprecation filters are words of its ``tags`` column. A filtered page is
then one FTS5 match, which yields rowids in order, read until the page is
full, however common the words. Pages sorted by time read every match.

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
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from heater.catalog.index import (
    NOT_BUILT,
    Entry,
    IndexUnavailable,
    Listed,
    Page,
    Query,
    ReadScope,
    decode_marker,
    encode_marker,
    listing_document,
)
from heater.catalog.words import search_terms
from heater.git import locks
from heater.paths import sqlite_lock, sqlite_side_files

# Raised whenever what the index holds changes, so that an old file is
# rebuilt on start (3: image repositories are indexed too; 4: ids in name
# order, filter tags in the full-text table, listing documents stored; 5: nested
# templates' resource types are searched; 6: the 1.0 vocabulary in listing documents).
SCHEMA_VERSION = 6
BUSY_TIMEOUT_MS = 30_000
# A server starting while another process rebuilds the index waits for that
# rebuild rather than repeating it; a rebuild of a large data directory takes
# minutes, so this is generous.
REBUILD_WAIT_SECONDS = 30 * 60.0
# Entries written per transaction by upsert_many(): short enough that other
# writers (pushes during a reindex) wait milliseconds, not seconds.
UPSERT_BATCH = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id          INTEGER PRIMARY KEY,  -- in (name, namespace) order: see _position()
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    private     INTEGER NOT NULL,
    deprecated  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    document    TEXT NOT NULL,
    shown       TEXT NOT NULL,  -- listing_document() as JSON text
    UNIQUE (namespace, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_by_name ON entries (name, namespace);
-- Holds (kind, id): one kind in name order.
CREATE INDEX IF NOT EXISTS entries_by_kind ON entries (kind);
CREATE INDEX IF NOT EXISTS entries_by_updated ON entries (kind, updated_at, namespace, name);
CREATE INDEX IF NOT EXISTS entries_by_created ON entries (kind, created_at, namespace, name);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
    name, description, keywords, body, tags,
    tokenize = 'unicode61 remove_diacritics 2'
);
"""
# What a user's words are matched against; ``tags`` holds filter tokens.
_TEXT_COLUMNS = "{name description keywords body}"

# Entry ids live in 1..MAX_POSITION. A new entry takes the id halfway between
# its neighbours in name order (or NEW_POSITION_STEP past the last); only
# when two neighbours are adjacent are all ids renumbered, evenly spread.
MAX_POSITION = 1 << 62
NEW_POSITION_STEP = 1 << 40

# Sort key -> ordered columns (the last ones break ties).
_SORT_COLUMNS = {
    "name": ("name", "namespace"),
    "updated": ("updated_at", "namespace", "name"),
    "created": ("created_at", "namespace", "name"),
}


def fts_query(text: str) -> str | None:
    """An FTS5 expression matching entries that contain every term of
    ``text`` (see :mod:`heater.catalog.words`); a term of several words
    (``OS::Nova::Server``) matches as a phrase. None when ``text`` holds no
    word at all. The user's text never reaches FTS5's query syntax unquoted."""
    phrases = ['"' + term.replace('"', '""') + '"' for term in search_terms(text)]
    return " AND ".join(phrases) if phrases else None


def _drop_tables(conn: sqlite3.Connection) -> None:
    """Empty a file written by another schema version, whatever tables that
    version had. Virtual tables go first: their shadow tables go with them."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite%' "
                        "ORDER BY sql NOT LIKE 'CREATE VIRTUAL TABLE%'").fetchall()
    for (name,) in rows:
        quoted = name.replace('"', '""')
        conn.execute(f'DROP TABLE IF EXISTS "{quoted}"')


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

    def exclusive(self) -> locks.FileLock:
        """Hold the lock that serialises repairs and rebuilds of this index
        across processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return locks.acquire(sqlite_lock(self.path), REBUILD_WAIT_SECONDS)

    def repair(self) -> str | None:
        """Make the file usable: a missing or damaged one is discarded with
        its side files and created empty (not built). What was wrong
        ("missing", "damaged"), None if nothing. The caller holds
        :meth:`exclusive`."""
        self._drop()
        if _healthy(self.path):
            return None
        problem = "missing" if _identity(self.path) is None else "damaged"
        for path in (self.path, *sqlite_side_files(self.path)):
            # Unlinked, never truncated: a process still using the old files
            # keeps its own copy and cannot write into the new database.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        create, self.create = self.create, True
        try:
            self._connection()
        finally:
            self.create = create
        return problem

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        # Read first: a connection only takes the write lock when the schema
        # must change (a damaged file then fails here holding nothing).
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                _drop_tables(conn)
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
                conn.execute("DELETE FROM search WHERE rowid = ?", (row[0],))
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
            # A rebuild left the full-text index in hundreds of segments;
            # merged into one, a match of several words reads half as much
            # (0.1 s for 10,000 entries). Later changes add small segments
            # that FTS5 merges as it goes.
            conn.execute("INSERT INTO search (search) VALUES ('optimize')")
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('built', '1')")

    def query_built(self, query: Query) -> Page:
        if not self.is_built():  # cached per connection: no extra statement
            raise IndexUnavailable(NOT_BUILT)
        return self.query(query)

    def query(self, query: Query) -> Page:
        where = ["e.kind = ?"]
        args: list[object] = [query.kind]
        visibility, visibility_args = _scope_clause(query.scope)
        if visibility:
            where.append(visibility)
            args += visibility_args
        match = _match_expression(query)
        if query.deprecated is False:  # (True is a tag of the match)
            where.append("e.deprecated = 0")
        columns = _SORT_COLUMNS[query.sort.key]
        select = f"SELECT e.shown, {', '.join(f'e.{c}' for c in columns)} FROM "  # noqa: S608
        # Only fixed fragments are spliced into the SQL; every value is bound.
        if query.sort.key == "name":
            sql, args = self._by_position(query, select, where, args, match)
        else:
            if match is not None:
                where.append("e.id IN (SELECT rowid FROM search WHERE search MATCH ?)")
                args.append(match)
            if query.marker is not None:
                operator = "<" if query.sort.descending else ">"
                where.append(f"({', '.join(f'e.{c}' for c in columns)}) {operator} "
                             f"({', '.join('?' * len(columns))})")
                args += decode_marker(query.marker, query.sort)
            direction = "DESC" if query.sort.descending else "ASC"
            order = ", ".join(f"e.{c} {direction}" for c in columns)
            sql = f"{select} entries e WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
        with self._use() as conn:
            rows = conn.execute(sql, (*args, query.limit + 1)).fetchall()
        entries = [Listed(r[2], r[1], r[0]) if query.sort.key == "name" else
                   Listed(r[2], r[3], r[0]) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        next_marker = (encode_marker(query.sort, tuple(rows[query.limit - 1][1:]))
                       if more and entries else None)
        return Page(entries, next_marker)

    @staticmethod
    def _by_position(query: Query, select: str, where: list[str], args: list[object],
                     match: str | None) -> tuple[str, list[object]]:
        """The SQL of a page in name order, which is id order: the rows (or a
        full-text match, whose rowids are the ids) are read in order and
        reading stops after one page, however many entries match."""
        descending = query.sort.descending
        # On the match's rowid when there is one, so that FTS5 starts reading
        # at the marker instead of skipping the pages before it.
        position = "e.id" if match is None else "search.rowid"
        if query.marker is not None:
            name, namespace = decode_marker(query.marker, query.sort)
            # The id of the marker's entry, or of its neighbour on this side
            # if it is gone (one statement: ids are renumbered in writes).
            before = "<=" if not descending else ">="
            nearest = "DESC" if not descending else "ASC"
            where.append(f"{position} {'>' if not descending else '<'} coalesce("  # noqa: S608
                         f"(SELECT id FROM entries WHERE (name, namespace) {before} (?, ?) "
                         f"ORDER BY name {nearest}, namespace {nearest} LIMIT 1), ?)")
            args += [name, namespace, 0 if not descending else MAX_POSITION + 1]
        direction = "DESC" if descending else "ASC"
        if match is None:
            return (f"{select} entries e WHERE {' AND '.join(where)} "
                    f"ORDER BY e.id {direction} LIMIT ?", args)
        # The match drives the join so that its rowid order is the output's.
        sql = (f"{select} search CROSS JOIN entries e ON e.id = search.rowid "
               f"WHERE search MATCH ? AND {' AND '.join(where)} "
               f"ORDER BY search.rowid {direction} LIMIT ?")
        return sql, [match, *args]


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
    document = json.dumps(entry.as_json(), sort_keys=True, separators=(",", ":"))
    shown = json.dumps(listing_document(entry), separators=(",", ":"))
    row = conn.execute("SELECT id, document, shown FROM entries "
                       "WHERE namespace = ? AND name = ?",
                       (entry.namespace, entry.name)).fetchone()
    if row is not None and (row[1], row[2]) == (document, shown):
        # The rest (the full-text columns) derives from the entry that the
        # document holds whole: nothing to write, as for most entries when
        # a rebuild repeats one.
        return
    values = (entry.kind, entry.namespace, entry.name, int(entry.private),
              int(entry.deprecated), entry.created_at, entry.updated_at, document, shown)
    if row is None:
        entry_id = _position(conn, entry.name, entry.namespace)
        conn.execute(
            "INSERT INTO entries (id, kind, namespace, name, private, deprecated, "
            "created_at, updated_at, document, shown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry_id, *values))
    else:
        entry_id = row[0]
        conn.execute(
            "UPDATE entries SET kind = ?, namespace = ?, name = ?, private = ?, "
            "deprecated = ?, created_at = ?, updated_at = ?, document = ?, shown = ? "
            "WHERE id = ?", (*values, entry_id))
        conn.execute("DELETE FROM search WHERE rowid = ?", (entry_id,))
    conn.execute(
        "INSERT INTO search (rowid, name, description, keywords, body, tags) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (entry_id, entry.name, entry.description, " ".join(entry.keywords),
         "\n".join(entry.search_text), " ".join(_tags(entry))))


def _tags(entry: Entry) -> list[str]:
    """Filter tokens: one word each whatever the value holds, so that a
    filter matches exactly (``web`` never matches the keyword ``web-app``)."""
    tags = [_tag("ns", entry.namespace)] + [_tag("kw", k) for k in entry.keywords]
    return tags + (["deprecated"] if entry.deprecated else [])


def _tag(prefix: str, value: str) -> str:
    return prefix + value.encode().hex()


def _match_expression(query: Query) -> str | None:
    """The FTS5 expression of the query's text and filter tags (None: none)."""
    parts = [f'tags : "{_tag("kw", k)}"' for k in dict.fromkeys(query.keywords)]
    if query.namespace is not None:
        parts.append(f'tags : "{_tag("ns", query.namespace)}"')
    if query.deprecated is True:
        parts.append('tags : "deprecated"')
    if query.text is not None:
        words = fts_query(query.text)
        if words is not None:
            parts.append(f"{_TEXT_COLUMNS} : ({words})")
    return " AND ".join(parts) if parts else None


def _position(conn: sqlite3.Connection, name: str, namespace: str) -> int:
    """A free id for a new entry that keeps ids in (name, namespace) order.

    Ids are sparse so that search results, which FTS5 yields in rowid
    order, come in name order too and a page of a common word reads one
    page of its posting list rather than all of it (the way search engines
    number documents in their most common sort order)."""
    for _ in range(2):
        row = conn.execute("SELECT id FROM entries WHERE (name, namespace) < (?, ?) "
                           "ORDER BY name DESC, namespace DESC LIMIT 1",
                           (name, namespace)).fetchone()
        low = row[0] if row else 0
        row = conn.execute("SELECT id FROM entries WHERE (name, namespace) > (?, ?) "
                           "ORDER BY name, namespace LIMIT 1", (name, namespace)).fetchone()
        high = row[0] if row else MAX_POSITION + 1
        if high - low >= 2:
            if row is None:  # appending: leave room for more after it
                return low + min(NEW_POSITION_STEP, (high - low) // 2)
            return (low + high) // 2
        _renumber(conn)
    raise RuntimeError("no free catalog position after renumbering")


def _renumber(conn: sqlite3.Connection) -> None:
    """Spread every entry's id evenly over the id space, in name order (the
    caller's transaction makes it atomic; seconds for 10,000 entries, and
    needed only after many entries were added between the same two)."""
    ids = [r[0] for r in conn.execute("SELECT id FROM entries ORDER BY name, namespace")]
    spacing = MAX_POSITION // (len(ids) + 2)
    # Through negative ids, which no entry has, so that no two rows ever
    # share an id on the way.
    moves = [(-(i + 1) * spacing, old) for i, old in enumerate(ids)]
    conn.executemany("UPDATE entries SET id = ? WHERE id = ?", moves)
    conn.executemany("UPDATE search SET rowid = ? WHERE rowid = ?", moves)
    conn.execute("UPDATE entries SET id = -id")
    conn.execute("UPDATE search SET rowid = -rowid")


def _scope_clause(scope: ReadScope) -> tuple[str, list[object]]:
    if scope.all_private:
        return "", []
    if not scope.namespaces:
        return "e.private = 0", []
    marks = ", ".join("?" * len(scope.namespaces))
    namespaces: list[object] = [*sorted(scope.namespaces)]
    return f"(e.private = 0 OR e.namespace IN ({marks}))", namespaces
