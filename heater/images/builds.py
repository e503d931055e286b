"""Builds waiting for their bytes, in a small SQLite file.

A build is created ``queued`` with its manifest; its bytes arrive later.
Only queued builds (and builds cancelled before any upload) are known here
alone: once the bytes are stored, the manifest committed to the image's
repository is the source of truth, and the ``status`` column is a cache of
it that readers check against git.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heater.errors import NotFound
from heater.names import RepoId
from heater.sqlitedb import transaction


class Status(enum.StrEnum):
    QUEUED = "queued"
    ACTIVE = "active"
    DELETED = "deleted"


class BuildNotFound(NotFound):
    code = "build_not_found"

    def __init__(self, build_id: str) -> None:
        super().__init__(f"build {build_id} does not exist")
        self.build_id = build_id


@dataclass(frozen=True)
class BuildRecord:
    id: str
    repo: RepoId
    manifest: dict[str, Any]
    status: Status
    created_at: str
    created_by: str


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


class BuildStore:
    """One short connection per call, safe from any thread or process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, _SCHEMA)

    def add(self, record: BuildRecord) -> None:
        with self._db() as conn:
            conn.execute(
                "INSERT INTO builds VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.repo.namespace, record.repo.name,
                 json.dumps(record.manifest), record.status.value, record.created_at,
                 record.created_by),
            )

    def get(self, build_id: str) -> BuildRecord:
        with self._db() as conn:
            row = conn.execute(
                "SELECT id, namespace, name, manifest, status, created_at, created_by "
                "FROM builds WHERE id = ?", (build_id,)).fetchone()
        if row is None:
            raise BuildNotFound(build_id)
        return BuildRecord(row[0], RepoId(row[1], row[2]), json.loads(row[3]), Status(row[4]),
                           row[5], row[6])

    def queued(self) -> list[BuildRecord]:
        """Every build still waiting for its bytes."""
        with self._db() as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM builds WHERE status = ?", (Status.QUEUED.value,))]
        return [self.get(build_id) for build_id in ids]

    def set_status(self, build_id: str, status: Status) -> None:
        with self._db() as conn:
            conn.execute("UPDATE builds SET status = ? WHERE id = ?", (status.value, build_id))
