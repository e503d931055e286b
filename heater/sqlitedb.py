"""Small SQLite files in the data directory (tokens, queued builds)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import ClassVar


@contextmanager
def transaction(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A short connection to ``path`` (created with ``schema`` if new) in one
    transaction, committed on success. One connection per call keeps every
    caller safe from any thread or process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute(schema)
        with conn:
            yield conn


class SqliteFile:
    """Base of a store kept in one such file: ``SCHEMA`` creates its table."""

    SCHEMA: ClassVar[str]

    def __init__(self, path: Path) -> None:
        self.path = path

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, self.SCHEMA)
