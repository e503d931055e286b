"""The SQLite build store (the default): ``builds.sqlite`` in the data
directory, one short connection per call, so that it is safe from any
thread or process."""

from __future__ import annotations

import json
import sqlite3

from heater.images.builds import BuildExists, BuildNotFound, BuildRecord, BuildStore, Status
from heater.names import RepoId
from heater.sqlitedb import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS builds (
    id         TEXT PRIMARY KEY,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    manifest   TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
)
"""


class SqliteBuildStore(SqliteFile, BuildStore):
    """See :class:`heater.images.builds.BuildStore` for the contract."""

    SCHEMA = _SCHEMA

    def add(self, record: BuildRecord) -> None:
        try:
            with self._db() as conn:
                conn.execute(
                    "INSERT INTO builds VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (record.id, record.repo.namespace, record.repo.name,
                     json.dumps(record.manifest), record.status.value, record.created_at,
                     record.created_by),
                )
        except sqlite3.IntegrityError:
            raise BuildExists(record.id) from None

    def get(self, build_id: str) -> BuildRecord:
        with self._db() as conn:
            row = conn.execute(_SELECT + " WHERE id = ?", (build_id,)).fetchone()
        if row is None:
            raise BuildNotFound(build_id)
        return _record(row)

    def ensure_schema(self) -> None:
        with self._db():
            pass

    def queued(self, repo: RepoId | None = None) -> list[BuildRecord]:
        query, args = _SELECT + " WHERE status = ?", [Status.QUEUED.value]
        if repo is not None:
            query += " AND namespace = ? AND name = ?"
            args += [repo.namespace, repo.name]
        with self._db() as conn:
            return [_record(row) for row in conn.execute(query, args)]

    def set_status(self, build_id: str, status: Status) -> None:
        with self._db() as conn:
            if conn.execute("UPDATE builds SET status = ? WHERE id = ?",
                            (status.value, build_id)).rowcount == 0:
                raise BuildNotFound(build_id)


_SELECT = "SELECT id, namespace, name, manifest, status, created_at, created_by FROM builds"


def _record(row: tuple[str, ...]) -> BuildRecord:
    return BuildRecord(row[0], RepoId(row[1], row[2]), json.loads(row[3]), Status(row[4]),
                       row[5], row[6])
