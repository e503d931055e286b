"""The SQLite token store (the default; configuration ``identity = "tokens"``):
``auth.sqlite`` in the data directory, one short connection per call, so
that it is safe from any thread or process."""

from __future__ import annotations

import sqlite3

from heater.auth.tokens import (
    Principal,
    Role,
    TokenExists,
    TokenNotFound,
    TokenRecord,
    TokenStore,
    check_token_name,
    digest,
    new_secret,
    token_id_of,
    verified,
)
from heater.clock import now
from heater.names import check_name
from heater.sqlitedb import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    namespace  TEXT,
    digest     BLOB NOT NULL,
    created_at TEXT NOT NULL
)
"""


class SqliteTokenStore(SqliteFile, TokenStore):
    """See :class:`heater.auth.tokens.TokenStore` for the contract."""

    SCHEMA = _SCHEMA

    def create(self, name: str, role: Role, namespace: str | None = None) -> str:
        check_token_name(name)
        if namespace is not None:
            check_name(namespace, "namespace")
        token_id, secret = new_secret()
        try:
            with self._db() as conn:
                conn.execute(
                    "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)",
                    (token_id, name, str(role), namespace, digest(secret), now()),
                )
        except sqlite3.IntegrityError:
            raise TokenExists(name) from None
        return secret

    def authenticate(self, secret: str) -> Principal:
        token_id = token_id_of(secret)
        with self._db() as conn:
            row = conn.execute(
                "SELECT name, role, namespace, digest FROM tokens WHERE token_id = ?",
                (token_id,),
            ).fetchone()
        return verified(row, secret)

    def list(self) -> list[TokenRecord]:
        with self._db() as conn:
            rows = conn.execute(
                "SELECT name, role, namespace, created_at FROM tokens ORDER BY name"
            ).fetchall()
        return [TokenRecord(r[0], Role.parse(r[1]), r[2], r[3]) for r in rows]

    def revoke(self, name: str) -> None:
        with self._db() as conn:
            if conn.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount == 0:
                raise TokenNotFound(name)
