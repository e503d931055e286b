"""The catalog index on PostgreSQL (``index = "postgresql"``), shared by
every node: see :mod:`heater.catalog.index` for the contract.

Full text: the words of each field are those of
:func:`heater.catalog.words.words`, the tokenizer SQLite's index uses,
stored as space-separated text (words that are not ASCII hex-encoded, so
that PostgreSQL's parser, whatever the database's locale, sees plain ASCII
words and keeps each whole); a generated ``tsvector`` column with a GIN
index holds them, each field at its own weight (name A, description B,
keywords C, the rest D). A term of one word is a lexeme; a term of several
is a phrase within one field (``'a':A <-> 'b':A | 'a':B <-> 'b':B ...``),
as FTS5 matches a phrase within one column. Both indexes then give the
same answer to the same query.

Order: names and times compare byte by byte (``COLLATE "C"``), as in
SQLite, so pages and markers are the same on both. A page is an index scan
in the page's order, filtered, stopped after one page: with statistics
(refreshed after each rebuild) the planner walks the order for a common
word and stops after one page, and finds a rare word through GIN and sorts
its few matches; statements are planned for their values
(``plan_cache_mode``), never generically. A keyword's page in name order
reads the keyword's own rows (``catalog_keyword_listings``, one per entry
and keyword, kept by a trigger): a page reads a page of rows, where
walking every entry's order would check ten for each shown.

Lost or damaged: the tables are the index. Dropped (or altered) by hand,
every call raises :class:`IndexUnavailable` (503); only :meth:`repair`,
inside :meth:`exclusive` (a session advisory lock, across every node),
creates them, by applying the catalog's migrations anew.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, LiteralString

import psycopg
from psycopg import sql

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
from heater.catalog.words import search_terms, words
from heater.pgdb import MIGRATIONS_LOCK, Migrations, apply_migrations, database, reason_of

COMPONENT = "catalog"
# Step 1 creates the tables. A later step may change them in place or
# drop and create them again: the built flag holds the number of steps the
# last rebuild ran under, so a node with more steps rebuilds first.
MIGRATIONS: Migrations = (
    """
    CREATE TABLE catalog_meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE catalog_entries (
        namespace   text COLLATE "C" NOT NULL,
        name        text COLLATE "C" NOT NULL,
        kind        text NOT NULL,
        private     boolean NOT NULL,
        deprecated  boolean NOT NULL,
        created_at  text COLLATE "C" NOT NULL,
        updated_at  text COLLATE "C" NOT NULL,
        keywords    text[] NOT NULL,
        name_words        text NOT NULL,
        description_words text NOT NULL,
        keyword_words     text NOT NULL,
        body_words        text NOT NULL,
        words tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('simple', name_words), 'A')
            || setweight(to_tsvector('simple', description_words), 'B')
            || setweight(to_tsvector('simple', keyword_words), 'C')
            || setweight(to_tsvector('simple', body_words), 'D')) STORED,
        document    text NOT NULL,
        shown       text NOT NULL,
        PRIMARY KEY (namespace, name)
    );
    CREATE UNIQUE INDEX catalog_by_name ON catalog_entries (kind, name, namespace);
    CREATE INDEX catalog_by_updated ON catalog_entries (kind, updated_at, namespace, name);
    CREATE INDEX catalog_by_created ON catalog_entries (kind, created_at, namespace, name);
    CREATE INDEX catalog_words ON catalog_entries USING gin (words);
    CREATE INDEX catalog_keywords ON catalog_entries USING gin (keywords)
    """,
    # The primary key already makes (namespace, name) unique. A second unique
    # index is not an arbiter of the upsert's ON CONFLICT, so two nodes
    # inserting the same new entry at once failed on it instead of updating.
    """
    DROP INDEX catalog_by_name;
    CREATE INDEX catalog_by_name ON catalog_entries (kind, name, namespace)
    """,
    # A keyword's entries in name order (see _by_keyword): one row per entry
    # and keyword, with what a page filters on and shows, kept by a trigger
    # in the same transaction as every write of the entries, and filled here
    # from the entries a database holds already (the trigger sees only the
    # writes that change a row).
    """
    CREATE TABLE catalog_keyword_listings (
        kind        text NOT NULL,
        keyword     text COLLATE "C" NOT NULL,
        name        text COLLATE "C" NOT NULL,
        namespace   text COLLATE "C" NOT NULL,
        private     boolean NOT NULL,
        deprecated  boolean NOT NULL,
        shown       text NOT NULL,
        PRIMARY KEY (kind, keyword, name, namespace)
    );
    CREATE OR REPLACE FUNCTION catalog_keyword_listings_sync() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM catalog_keyword_listings WHERE kind = OLD.kind
                AND keyword = ANY(OLD.keywords) AND name = OLD.name
                AND namespace = OLD.namespace;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO catalog_keyword_listings
                SELECT DISTINCT NEW.kind, k, NEW.name, NEW.namespace, NEW.private,
                       NEW.deprecated, NEW.shown
                FROM unnest(NEW.keywords) AS k;
        END IF;
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER catalog_keyword_listings_sync
        AFTER INSERT OR UPDATE OR DELETE ON catalog_entries
        FOR EACH ROW EXECUTE FUNCTION catalog_keyword_listings_sync();
    INSERT INTO catalog_keyword_listings
        SELECT DISTINCT kind, k, name, namespace, private, deprecated, shown
        FROM catalog_entries, unnest(keywords) AS k
    """,
)
# The base tables; a later step's tables are in _STEP_TABLES.
_TABLES = ("catalog_entries", "catalog_meta")
_STEP_TABLES = ("catalog_keyword_listings",)
# What every method reads; selecting it proves the tables are usable.
_PROBE = ("SELECT namespace, name, kind, private, deprecated, created_at, updated_at, "
          "keywords, words, document, shown FROM catalog_entries LIMIT 0")
_PROBE_KEYWORDS = ("SELECT kind, keyword, name, namespace, private, deprecated, shown "
                   "FROM catalog_keyword_listings LIMIT 0")
_BUILT: LiteralString = (
    "SELECT value FROM catalog_meta WHERE key = 'built' AND NOT EXISTS ("  # noqa: S608
    + _PROBE.removesuffix(" LIMIT 0") + " WHERE false) AND NOT EXISTS ("
    + _PROBE_KEYWORDS.removesuffix(" LIMIT 0") + " WHERE false)")
# A session advisory lock: serialises rebuilds across processes and nodes.
REBUILD_LOCK = 0x486561746572_0002
REBUILD_WAIT = "30min"
UPSERT_BATCH = 500
# A word in at least this share of the entries is common (see
# page_statement); which words are is read from the statistics this often.
COMMON_WORD = 0.1
COMMON_WORDS_TTL_S = 300.0
_WEIGHTS = "ABCD"

_SORT_COLUMNS: dict[str, tuple[LiteralString, ...]] = {
    "name": ("name", "namespace"),
    "updated": ("updated_at", "namespace", "name"),
    "created": ("created_at", "namespace", "name"),
}


def lexeme(word: str) -> str:
    """``word`` as the index stores it: ASCII words as they are, others as
    ``u`` and the hex of their UTF-8 (never ASCII-only, so never equal to
    an ASCII word a user types, unless that word is such hex)."""
    return word if word.isascii() else "u" + word.encode().hex()


def _field(text: str) -> str:
    return " ".join(lexeme(w) for w in words(text))


NOTHING = ""


def ts_query(text: str) -> str | None:
    """The ``tsquery`` of a search box's text: every term, a term of
    several words a phrase within one field. None when it has no term;
    :data:`NOTHING` when a term has no word (``_``: FTS5 reads it as an
    empty phrase, which matches nothing). The lexemes are letters and digits
    only, so the text is safe to cast."""
    parts = []
    for term in search_terms(text):
        lexemes = [lexeme(w) for w in words(term)]
        if not lexemes:
            return NOTHING
        if len(lexemes) == 1:
            parts.append(f"'{lexemes[0]}'")
        else:
            parts.append("(" + " | ".join(
                " <-> ".join(f"'{lex}':{weight}" for lex in lexemes) for weight in _WEIGHTS)
                + ")")
    return " & ".join(parts) if parts else None


def query_lexemes(text: str) -> set[str]:
    """The lexemes the search box's ``text`` looks for."""
    return {lexeme(w) for term in search_terms(text) for w in words(term)}


class PostgresIndex:
    """:class:`heater.catalog.index.CatalogIndex` on PostgreSQL."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.db = database(dsn)
        self._common: frozenset[str] = frozenset()
        self._common_read = -COMMON_WORDS_TTL_S

    def _common_words(self, conn: psycopg.Connection) -> frozenset[str]:
        """The lexemes in at least :data:`COMMON_WORD` of the entries, from
        the statistics of the last ANALYZE (read again every few minutes)."""
        now = time.monotonic()
        if now - self._common_read >= COMMON_WORDS_TTL_S:
            row = conn.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = 'catalog_entries' "
                "AND attname = 'words'").fetchone()
            elems, freqs = row if row is not None and row[0] is not None else ([], [])
            self._common = frozenset(e for e, f in zip(elems, freqs, strict=False)
                                     if f >= COMMON_WORD)
            self._common_read = now
        return self._common

    def _read(self) -> AbstractContextManager[psycopg.Connection]:
        return self._transaction(read=True)

    @contextmanager
    def _transaction(self, read: bool = False) -> Iterator[psycopg.Connection]:
        try:
            with self.db.read() if read else self.db.transaction() as conn:
                yield conn
        except psycopg.errors.UndefinedTable as exc:
            raise IndexUnavailable("its tables are missing") from exc
        except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedObject,
                psycopg.errors.DatatypeMismatch) as exc:
            raise IndexUnavailable(f"its tables are damaged ({reason_of(exc)})") from exc
        except psycopg.OperationalError as exc:
            raise IndexUnavailable(f"PostgreSQL says: {reason_of(exc)}",
                                   "check that PostgreSQL runs and try again") from exc

    # -- rebuilds --------------------------------------------------------------

    @contextmanager
    def exclusive(self) -> Iterator[object]:
        """Hold the lock that serialises repairs and rebuilds of this index
        across processes and nodes (on a connection of its own: a rebuild
        holds it for minutes)."""
        try:
            conn = psycopg.connect(self.dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise IndexUnavailable(f"PostgreSQL says: {reason_of(exc)}",
                                   "check that PostgreSQL runs and try again") from exc
        with conn:
            try:
                conn.execute(f"SET lock_timeout = '{REBUILD_WAIT}'")
                conn.execute("SELECT pg_advisory_lock(%s)", (REBUILD_LOCK,))
            except psycopg.errors.LockNotAvailable as exc:
                raise IndexUnavailable(f"another rebuild held it for {REBUILD_WAIT}",
                                       "try again later") from exc
            yield conn  # the lock goes with the connection

    def repair(self) -> str | None:
        """Make the tables usable: missing or damaged ones are dropped and
        created anew by the catalog's migrations (empty, not built); steps
        a newer Heater added are applied. What was wrong ("missing",
        "damaged"), None if nothing. The caller holds :meth:`exclusive`."""
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATIONS_LOCK,))
            present = conn.execute(
                "SELECT count(*) FROM unnest(%s::text[]) AS t(name) "
                "WHERE to_regclass(t.name) IS NOT NULL", (list(_TABLES),)).fetchone()
            problem = None
            if present is None or present[0] < len(_TABLES):
                problem = "missing"
            else:
                try:
                    # A savepoint: a failed step or probe is undone alone. The
                    # steps first: a table a newer step adds is not damage.
                    with conn.transaction():
                        apply_migrations(conn, COMPONENT, MIGRATIONS)
                        conn.execute(_PROBE)
                        conn.execute(_PROBE_KEYWORDS)
                except psycopg.errors.ProgrammingError:
                    problem = "damaged"
            if problem is not None:
                for table in (*_TABLES, *_STEP_TABLES):
                    conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
                conn.execute("CREATE TABLE IF NOT EXISTS heater_migrations ("
                             "component text NOT NULL, version integer NOT NULL, "
                             "applied_at timestamptz NOT NULL DEFAULT now(), "
                             "PRIMARY KEY (component, version))")
                conn.execute("DELETE FROM heater_migrations WHERE component = %s",
                             (COMPONENT,))
            apply_migrations(conn, COMPONENT, MIGRATIONS)
            _create_deferred_indexes(conn)
        return problem

    def is_built(self) -> bool:
        with self._read() as conn:
            # One statement, which fails if a table was dropped or altered.
            row = conn.execute(_BUILT).fetchone()
        return row is not None and row[0] == str(len(MIGRATIONS))

    def set_built(self) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO catalog_meta (key, value) VALUES ('built', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (str(len(MIGRATIONS)),))
        # Fresh statistics: how common each word is decides each search's plan.
        # And the GIN indexes' pending lists (where a rebuild's rows wait to
        # be merged) merged now: every lookup reads the whole list, 30 ms
        # after a rebuild of 100,000 entries instead of 0.1.
        with self._transaction() as conn:
            conn.execute("ANALYZE catalog_entries, catalog_keyword_listings")
            conn.execute("SELECT gin_clean_pending_list('catalog_words'), "
                         "gin_clean_pending_list('catalog_keywords')")

    # -- the contract --------------------------------------------------------

    def upsert(self, entry: Entry) -> None:
        with self._transaction() as conn:
            conn.execute(_UPSERT, _row(entry))

    def upsert_many(self, entries: Iterable[Entry]) -> None:
        """Batches of :data:`UPSERT_BATCH`, each its own transaction. Into an
        empty table (a rebuild from scratch), the full-text indexes are
        built once at the end rather than grown row by row."""
        with self._indexes_deferred():
            batch: list[tuple[object, ...]] = []
            for entry in entries:
                batch.append(_row(entry))
                if len(batch) == UPSERT_BATCH:
                    self._upsert_batch(batch)
                    batch = []
            if batch:
                self._upsert_batch(batch)

    @contextmanager
    def _indexes_deferred(self) -> Iterator[None]:
        """Drop the GIN indexes for the block if the table is empty, and
        create them again after it: GIN builds an index of 100,000 entries
        from sorted words many times faster than it adds them a batch at a
        time. What was dropped is recorded in the meta table in the same
        transaction, with the built flag unset, so that if this process
        dies before the end the next :meth:`repair` (every rebuild, every
        server start on an index not built) creates them again."""
        with self._transaction() as conn:
            conn.execute("LOCK TABLE catalog_entries IN SHARE ROW EXCLUSIVE MODE")
            empty = conn.execute("SELECT NOT EXISTS (SELECT FROM catalog_entries)").fetchone()
            if empty is None or not empty[0]:
                deferred = []
            else:
                deferred = conn.execute(_GIN_INDEXES).fetchall()
                for name, definition in deferred:
                    conn.execute(_DEFER, (_DEFERRED + name, definition))
                    conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
                if deferred:
                    conn.execute("DELETE FROM catalog_meta WHERE key = 'built'")
        yield
        if deferred:
            with self._transaction() as conn:
                _create_deferred_indexes(conn)

    def _upsert_batch(self, rows: list[tuple[object, ...]]) -> None:
        """One transaction: the rows are copied into a temporary table (COPY
        is several times faster than one INSERT per row), then upserted."""
        with self._transaction() as conn, conn.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS catalog_batch "
                           "(LIKE catalog_entries INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            with cursor.copy(f"COPY catalog_batch ({_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"{_INSERT} SELECT {_COLUMNS} FROM catalog_batch "  # noqa: S608
                           f"{_ON_CONFLICT} {_ON_CHANGE}")

    def remove(self, namespace: str, name: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM catalog_entries WHERE namespace = %s AND name = %s",
                         (namespace, name))

    def get(self, namespace: str, name: str) -> Entry | None:
        with self._read() as conn:
            row = conn.execute("SELECT document FROM catalog_entries "
                               "WHERE namespace = %s AND name = %s",
                               (namespace, name)).fetchone()
        return Entry.from_json(json.loads(row[0])) if row else None

    def keys(self) -> set[tuple[str, str]]:
        with self._read() as conn:
            rows = conn.execute("SELECT namespace, name FROM catalog_entries").fetchall()
        return {(r[0], r[1]) for r in rows}

    def query(self, query: Query) -> Page:
        with self._read() as conn:
            rows = conn.execute(*self._page_statement(conn, query, "")).fetchall()
        return _page(query, rows)

    def query_built(self, query: Query) -> Page:
        """One round trip: the built flag comes with the page's rows (a
        second statement only when the page is empty)."""
        with self._read() as conn:
            rows = conn.execute(*self._page_statement(conn, query, f"({_BUILT}), ")
                                ).fetchall()
        built = rows[0][0] == str(len(MIGRATIONS)) if rows else self.is_built()
        if not built:
            raise IndexUnavailable(NOT_BUILT)
        return _page(query, [row[1:] for row in rows])

    def _page_statement(self, conn: psycopg.Connection, query: Query, first: LiteralString
                        ) -> tuple[LiteralString, tuple[object, ...]]:
        """:func:`page_statement`, knowing which words are common."""
        common = False
        if query.text is not None:
            lexemes = query_lexemes(query.text)
            common = bool(lexemes) and lexemes <= self._common_words(conn)
        return page_statement(query, first, common)


def page_statement(query: Query, first: LiteralString, common: bool = False
                   ) -> tuple[LiteralString, tuple[object, ...]]:
    """The SELECT of ``query``'s page and its values: ``first`` (a column
    or nothing), then shown, namespace, name and the sort columns, one
    more row than the page holds (whether a next page follows).

    ``common``: every word searched for is common. The text is then a
    filter of the rows that the order's index (or another filter's index)
    yields, never a lookup in the words index: ``ts_match_vq`` is ``@@``
    without the operator the GIN index serves. The planner would otherwise
    AND the whole posting list of such a word (a third of the entries)
    with a keyword's, reading it all for a page of 50."""
    if _by_keyword(query):
        return _keyword_page_statement(query, first)
    where: list[LiteralString] = ["kind = %s"]
    args: list[object] = [query.kind]
    scope, scope_args = _scope_clause(query.scope)
    if scope:
        where.append(scope)
        args += scope_args
    if query.keywords:
        where.append("keywords @> %s::text[]")
        args.append(list(dict.fromkeys(query.keywords)))
    if query.namespace is not None:
        where.append("namespace = %s")
        args.append(query.namespace)
    if query.deprecated is not None:
        where.append("deprecated = %s")
        args.append(query.deprecated)
    if query.text is not None:
        tsquery = ts_query(query.text)
        if tsquery == NOTHING:
            where.append("FALSE")
        elif tsquery is not None:
            where.append("ts_match_vq(words, %s::tsquery)" if common else "words @@ %s::tsquery")
            args.append(tsquery)
    columns = _SORT_COLUMNS[query.sort.key]
    listed = ", ".join(columns)
    if query.marker is not None:
        operator = "<" if query.sort.descending else ">"
        marks = ", ".join(["%s"] * len(columns))
        where.append(f"({listed}) {operator} ({marks})")
        args += decode_marker(query.marker, query.sort)
    direction = "DESC" if query.sort.descending else "ASC"
    order = ", ".join(f"{c} {direction}" for c in columns)
    # Only fixed fragments are spliced into the SQL; every value is bound.
    sql = (f"SELECT {first}shown, namespace, name, {listed} "  # noqa: S608
           f"FROM catalog_entries WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %s")
    return sql, (*args, query.limit + 1)


def _by_keyword(query: Query) -> bool:
    """Whether ``query``'s page is read from ``catalog_keyword_listings``:
    one keyword, in name order, and no filter that another index serves
    better (a namespace: the primary key; text or a second keyword: GIN).

    The entries table has no order within a keyword: a page of a keyword
    one entry in ten has would walk the name order and check ten rows (wide
    ones) per row shown; the keyword's own rows, in order, are read once
    each."""
    return (len(set(query.keywords)) == 1 and query.text is None
            and query.namespace is None and query.sort.key == "name")


def _keyword_page_statement(query: Query, first: LiteralString
                            ) -> tuple[LiteralString, tuple[object, ...]]:
    """:func:`page_statement` of a query :func:`_by_keyword` accepts."""
    where: list[LiteralString] = ["kind = %s", "keyword = %s"]
    args: list[object] = [query.kind, query.keywords[0]]
    scope, scope_args = _scope_clause(query.scope)
    if scope:
        where.append(scope)
        args += scope_args
    if query.deprecated is not None:
        where.append("deprecated = %s")
        args.append(query.deprecated)
    if query.marker is not None:
        where.append(f"(name, namespace) {'<' if query.sort.descending else '>'} (%s, %s)")
        args += decode_marker(query.marker, query.sort)
    direction: LiteralString = "DESC" if query.sort.descending else "ASC"
    sql = (f"SELECT {first}shown, namespace, name, name, namespace "  # noqa: S608
           f"FROM catalog_keyword_listings WHERE {' AND '.join(where)} "
           f"ORDER BY name {direction}, namespace {direction} LIMIT %s")
    return sql, (*args, query.limit + 1)


def _page(query: Query, rows: list[tuple[Any, ...]]) -> Page:
    """The page of the rows of :func:`page_statement` (without ``first``)."""
    entries = [Listed(r[1], r[2], r[0]) for r in rows[: query.limit]]
    more = len(rows) > query.limit
    next_marker = (encode_marker(query.sort, tuple(rows[query.limit - 1][3:]))
                   if more and entries else None)
    return Page(entries, next_marker)


_COLUMNS: LiteralString = (
    "namespace, name, kind, private, deprecated, created_at, updated_at, keywords, "
    "name_words, description_words, keyword_words, body_words, document, shown")
_INSERT: LiteralString = f"INSERT INTO catalog_entries ({_COLUMNS})"
_ON_CONFLICT: LiteralString = """
ON CONFLICT (namespace, name) DO UPDATE SET
    kind = excluded.kind, private = excluded.private, deprecated = excluded.deprecated,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    keywords = excluded.keywords, name_words = excluded.name_words,
    description_words = excluded.description_words, keyword_words = excluded.keyword_words,
    body_words = excluded.body_words, document = excluded.document, shown = excluded.shown
"""
_UPSERT: LiteralString = f"{_INSERT} VALUES ({', '.join(['%s'] * 14)}) {_ON_CONFLICT}"


# An update that would write what a row holds already is skipped (a rebuild
# over a full index rewrites nothing for the entries that did not change).
_ON_CHANGE: LiteralString = (
    f"WHERE ({', '.join(f'catalog_entries.{c}' for c in _COLUMNS.split(', '))}) "
    f"IS DISTINCT FROM ({', '.join(f'excluded.{c}' for c in _COLUMNS.split(', '))})")

# The GIN indexes of the entries table: (name, definition).
_GIN_INDEXES: LiteralString = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
    "AND tablename = 'catalog_entries' AND indexdef LIKE '% USING gin %' ORDER BY indexname")
# Meta keys of indexes dropped for a bulk load (the value: the definition).
_DEFERRED = "deferred_index:"
_DEFER: LiteralString = ("INSERT INTO catalog_meta (key, value) VALUES (%s, %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
# Memory for building an index (per statement; the server's default is 64 MB).
INDEX_BUILD_MEMORY = "256MB"


def _create_deferred_indexes(conn: psycopg.Connection) -> None:
    """Create again, in ``conn``'s transaction, the indexes a bulk load
    dropped (see :meth:`PostgresIndex._indexes_deferred`)."""
    rows = conn.execute("SELECT key, value FROM catalog_meta WHERE key LIKE %s ORDER BY key",
                        (_DEFERRED + "%",)).fetchall()
    if not rows:
        return
    conn.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
    for key, definition in rows:
        name = key.removeprefix(_DEFERRED)
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        if exists is None or not exists[0]:
            # Read from pg_indexes when it was dropped: PostgreSQL's own text.
            conn.execute(sql.SQL(definition))
        conn.execute("DELETE FROM catalog_meta WHERE key = %s", (key,))


def _row(entry: Entry) -> tuple[object, ...]:
    document = json.dumps(entry.as_json(), sort_keys=True, separators=(",", ":"))
    shown = json.dumps(listing_document(entry), separators=(",", ":"))
    return (entry.namespace, entry.name, entry.kind, entry.private, entry.deprecated,
            entry.created_at, entry.updated_at, list(entry.keywords), _field(entry.name),
            _field(entry.description), _field(" ".join(entry.keywords)),
            _field("\n".join(entry.search_text)), document, shown)


def _scope_clause(scope: ReadScope) -> tuple[LiteralString, list[object]]:
    if scope.all_private:
        return "", []
    if not scope.namespaces:
        return "NOT private", []
    return "(NOT private OR namespace = ANY(%s))", [sorted(scope.namespaces)]
