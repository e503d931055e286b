"""PostgreSQL, shared by the index, token and build stores (``index =
"postgresql"``): one connection pool per process and DSN, and versioned
migrations applied once.

Pools: the stores of one process share a pool of at most
:data:`POOL_SIZE` connections, so a worker's 16 threads (and every node)
cost a bounded number of server connections. A pool belongs to the process
that made it: after ``fork()`` a child makes its own and never touches the
parent's connections (``heater serve`` closes its pools before gunicorn
forks the workers; a pool found in a child is kept, unused, so that
nothing closes the parent's sockets from the child).

Migrations: each store names its component (``tokens``, ``builds``,
``catalog``) and the ordered SQL steps of its schema. The steps a database
lacks are applied in one transaction under an advisory lock, and recorded in
``heater_migrations``, so that two nodes starting together apply each step
exactly once, and a node sees either none or all of a step.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import LiteralString

import psycopg
import psycopg_pool

from heater.errors import Unavailable

# Connections one process holds at most; gunicorn's 16 threads per worker
# mostly wait on git, and a store call holds a connection for milliseconds.
POOL_SIZE = 8
# How long a call waits for a connection before it answers 503.
CONNECT_TIMEOUT_S = 10.0
# pg_advisory_xact_lock keys ("Heater" in ASCII, then a number): one for
# migrations; the catalog takes its own for rebuilds.
MIGRATIONS_LOCK = 0x486561746572_0001

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS heater_migrations (
    component  text NOT NULL,
    version    integer NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""

Migrations = Sequence[LiteralString]


class DatabaseUnavailable(Unavailable):
    """PostgreSQL cannot be reached or refused a store's statement."""

    code = "database_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the database is unavailable: {reason}; check that PostgreSQL "
                         "runs and that the DSN (HEATER_DSN) names it")
        self.reason = reason


def reason_of(exc: BaseException) -> str:
    """What went wrong, on one line, without the DSN's password."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class Database:
    """The pool of one DSN in this process; see the module docstring."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._lock = threading.Lock()
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._pid = 0
        self._inherited: list[psycopg_pool.ConnectionPool] = []
        self._migrated: set[tuple[int, str]] = set()

    def _current_pool(self) -> psycopg_pool.ConnectionPool:
        with self._lock:
            if self._pool is not None and self._pid != os.getpid():
                self._inherited.append(self._pool)  # the parent's: never closed here
                self._pool = None
            if self._pool is None:
                # Autocommit: a read is one round trip (no BEGIN, no COMMIT),
                # and nothing checks a connection before use (a round trip
                # each): one a database restart broke fails its call with a
                # 503 and the pool discards it.
                self._pool = psycopg_pool.ConnectionPool(
                    self.dsn, min_size=1, max_size=POOL_SIZE, open=True,
                    timeout=CONNECT_TIMEOUT_S, name="heater",
                    kwargs={"autocommit": True}, configure=_configure)
                self._pid = os.getpid()
            return self._pool

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in one transaction, committed when the block
        ends, rolled back if it raises. Failures to connect or of the server
        raise :class:`psycopg.OperationalError` (a timeout waiting for a
        connection included), which each store turns into its own 503."""
        with self.read() as conn, conn.transaction():
            yield conn

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit mode, for statements that read
        (each is atomic on its own); errors as for :meth:`transaction`."""
        try:
            with self._current_pool().connection() as conn:
                yield conn
        except psycopg_pool.PoolTimeout as exc:
            raise psycopg.OperationalError(
                f"no connection within {CONNECT_TIMEOUT_S:.0f} s ({reason_of(exc)})") from exc

    @contextmanager
    def store_transaction(self, component: str, steps: Migrations
                          ) -> Iterator[psycopg.Connection]:
        """:meth:`transaction` for a store whose schema is ``steps`` (applied
        first if the database lacks any); a failing database is
        :class:`DatabaseUnavailable`."""
        try:
            self.migrate(component, steps)
            with self.transaction() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(reason_of(exc)) from exc

    def migrate(self, component: str, steps: Migrations) -> None:
        """Apply the steps of ``component`` this database lacks (once per
        process; see the module docstring)."""
        key = (os.getpid(), component)
        if key in self._migrated:
            return
        with self.transaction() as conn:
            apply_migrations(conn, component, steps)
        self._migrated.add(key)

    def forget_migrations(self) -> None:
        """Check the schema again at the next use (after a repair dropped tables)."""
        self._migrated.clear()

    def close(self) -> None:
        """Close this process's pool (before forking workers)."""
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None


def _configure(conn: psycopg.Connection) -> None:
    # Plans made for the actual values: whether a search word is common
    # (walk the name order, filter) or rare (find it, then sort) depends on
    # the word, and a generic plan of a prepared statement cannot know it.
    conn.execute("SET plan_cache_mode = force_custom_plan")


def apply_migrations(conn: psycopg.Connection, component: str, steps: Migrations) -> list[int]:
    """Inside ``conn``'s transaction, under the migrations lock: apply the
    steps of ``component`` not yet recorded; the versions applied."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATIONS_LOCK,))
    conn.execute(_MIGRATIONS_TABLE)
    done = {row[0] for row in conn.execute(
        "SELECT version FROM heater_migrations WHERE component = %s", (component,))}
    applied = []
    for version, step in enumerate(steps, start=1):
        if version in done:
            continue
        conn.execute(step)
        conn.execute("INSERT INTO heater_migrations (component, version) VALUES (%s, %s)",
                     (component, version))
        applied.append(version)
    return applied


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def database(dsn: str) -> Database:
    """The one :class:`Database` of ``dsn`` in this process."""
    with _DATABASES_LOCK:
        if dsn not in _DATABASES:
            _DATABASES[dsn] = Database(dsn)
        return _DATABASES[dsn]


def close_all() -> None:
    """Close every pool of this process (``heater serve`` before it forks)."""
    with _DATABASES_LOCK:
        for db in _DATABASES.values():
            with contextlib.suppress(psycopg.Error):
                db.close()
