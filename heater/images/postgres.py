"""The build store on PostgreSQL (``index = "postgresql"``): the database
the index uses, so that a build queued through one node takes its upload
through any other."""

from __future__ import annotations

from contextlib import AbstractContextManager

import psycopg
from psycopg.types.json import Jsonb

from heater.images.builds import BuildExists, BuildNotFound, BuildRecord, BuildStore, Status
from heater.names import RepoId
from heater.pgdb import Migrations, database

MIGRATIONS: Migrations = (
    """
    CREATE TABLE builds (
        id         text PRIMARY KEY,
        namespace  text NOT NULL,
        name       text NOT NULL,
        manifest   jsonb NOT NULL,
        status     text NOT NULL,
        created_at text NOT NULL,
        created_by text NOT NULL
    );
    CREATE INDEX builds_queued ON builds (status) WHERE status = 'queued'
    """,
)


class PostgresBuildStore(BuildStore):
    """See :class:`heater.images.builds.BuildStore` for the contract."""

    def __init__(self, dsn: str) -> None:
        self.db = database(dsn)

    def _transaction(self) -> AbstractContextManager[psycopg.Connection]:
        return self.db.store_transaction("builds", MIGRATIONS)

    def add(self, record: BuildRecord) -> None:
        try:
            with self._transaction() as conn:
                conn.execute("INSERT INTO builds VALUES (%s, %s, %s, %s, %s, %s, %s)",
                             (record.id, record.repo.namespace, record.repo.name,
                              Jsonb(record.manifest), record.status.value, record.created_at,
                              record.created_by))
        except psycopg.errors.UniqueViolation:
            raise BuildExists(record.id) from None

    def get(self, build_id: str) -> BuildRecord:
        with self._transaction() as conn:
            row = conn.execute(_SELECT + " WHERE id = %s", (build_id,)).fetchone()
        if row is None:
            raise BuildNotFound(build_id)
        return _record(row)

    def ensure_schema(self) -> None:
        with self._transaction():
            pass

    def queued(self, repo: RepoId | None = None) -> list[BuildRecord]:
        with self._transaction() as conn:
            if repo is None:
                rows = conn.execute(_SELECT + " WHERE status = %s",
                                    (Status.QUEUED.value,)).fetchall()
            else:
                rows = conn.execute(_SELECT + " WHERE status = %s AND namespace = %s"
                                    " AND name = %s",
                                    (Status.QUEUED.value, repo.namespace, repo.name)).fetchall()
        return [_record(row) for row in rows]

    def set_status(self, build_id: str, status: Status) -> None:
        with self._transaction() as conn:
            if conn.execute("UPDATE builds SET status = %s WHERE id = %s",
                            (status.value, build_id)).rowcount == 0:
                raise BuildNotFound(build_id)


_SELECT = "SELECT id, namespace, name, manifest, status, created_at, created_by FROM builds"


def _record(row: tuple[object, ...]) -> BuildRecord:
    return BuildRecord(str(row[0]), RepoId(str(row[1]), str(row[2])),
                       row[3], Status(row[4]), str(row[5]), str(row[6]))  # type: ignore[arg-type]
