"""The token store on PostgreSQL (``index = "postgresql"``): the database
the index uses, so that a token made on one node works on every node."""

from __future__ import annotations

from contextlib import AbstractContextManager

import psycopg

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
from heater.pgdb import Migrations, database

MIGRATIONS: Migrations = (
    """
    CREATE TABLE tokens (
        token_id   text PRIMARY KEY,
        name       text NOT NULL UNIQUE,
        role       text NOT NULL,
        namespace  text,
        digest     bytea NOT NULL,
        created_at text NOT NULL
    )
    """,
)


class PostgresTokenStore(TokenStore):
    """See :class:`heater.auth.tokens.TokenStore` for the contract."""

    def __init__(self, dsn: str) -> None:
        self.db = database(dsn)

    def _transaction(self) -> AbstractContextManager[psycopg.Connection]:
        return self.db.store_transaction("tokens", MIGRATIONS)

    def create(self, name: str, role: Role, namespace: str | None = None) -> str:
        check_token_name(name)
        if namespace is not None:
            check_name(namespace, "namespace")
        token_id, secret = new_secret()
        try:
            with self._transaction() as conn:
                conn.execute("INSERT INTO tokens VALUES (%s, %s, %s, %s, %s, %s)",
                             (token_id, name, str(role), namespace, digest(secret), now()))
        except psycopg.errors.UniqueViolation:
            raise TokenExists(name) from None
        return secret

    def authenticate(self, secret: str) -> Principal:
        token_id = token_id_of(secret)
        with self._transaction() as conn:
            row = conn.execute("SELECT name, role, namespace, digest FROM tokens "
                               "WHERE token_id = %s", (token_id,)).fetchone()
        return verified(row, secret)

    def list(self) -> list[TokenRecord]:
        with self._transaction() as conn:
            rows = conn.execute("SELECT name, role, namespace, created_at FROM tokens "
                                "ORDER BY name COLLATE \"C\"").fetchall()
        return [TokenRecord(r[0], Role.parse(r[1]), r[2], r[3]) for r in rows]

    def revoke(self, name: str) -> None:
        with self._transaction() as conn:
            if conn.execute("DELETE FROM tokens WHERE name = %s", (name,)).rowcount == 0:
                raise TokenNotFound(name)
