"""API tokens and who may do what.

A token has a name, a role (reader < writer < admin) and an optional
namespace; without a namespace its role applies everywhere. Secrets are
random, shown once, and stored only as SHA-256 digests: they carry 256 bits
of entropy, so a slow password hash would add latency and no safety. Lookup
is by a public token id embedded in the secret, then a constant-time
comparison of digests. What each role allows is the access policy's
(:mod:`heater.auth.policy`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from heater.clock import now
from heater.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from heater.names import InvalidName, check_name
from heater.sqlitedb import transaction

SECRET_PREFIX = "heater"
_SECRET_RE = re.compile(r"^heater_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_TOKEN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class Role(enum.IntEnum):
    READER = 1
    WRITER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.upper()]
        except KeyError:
            raise InvalidInput(
                f"role must be reader, writer or admin, not {value!r}", code="invalid_role"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: Role
    namespace: str | None

    def covers(self, namespace: str) -> bool:
        return self.namespace is None or self.namespace == namespace

    def has(self, role: Role, namespace: str) -> bool:
        return self.covers(namespace) and self.role >= role

    def __str__(self) -> str:
        scope = self.namespace or "*"
        return f"{self.name} ({self.role} on {scope})"


Caller = Principal | None  # None is the anonymous caller


def is_token_shaped(secret: str) -> bool:
    """True when ``secret`` has the form of a Heater token secret (whether or
    not such a token exists): other services' tokens never do."""
    return _SECRET_RE.match(secret) is not None


class BadToken(Unauthenticated):
    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__("the token is not valid (unknown, revoked or mistyped)")


class TokenExists(Conflict):
    code = "token_exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} already exists")


class TokenNotFound(NotFound):
    code = "token_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"no token named {name!r}")


@dataclass(frozen=True)
class TokenRecord:
    name: str
    role: Role
    namespace: str | None
    created_at: str


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


class TokenStore:
    """Tokens in an SQLite file; one short connection per call, so that it is
    safe from any thread or process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, _SCHEMA)

    def create(self, name: str, role: Role, namespace: str | None = None) -> str:
        """Create a token and return its secret (the only time it is shown)."""
        if not _TOKEN_NAME_RE.match(name):
            raise InvalidName("token name", name,
                              "must be 1 to 100 letters, digits, '.', '_', '@' or '-'")
        if namespace is not None:
            check_name(namespace, "namespace")
        token_id = secrets.token_hex(8)
        secret = f"{SECRET_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        created = now()
        try:
            with self._db() as conn:
                conn.execute(
                    "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)",
                    (token_id, name, str(role), namespace, _digest(secret), created),
                )
        except sqlite3.IntegrityError:
            raise TokenExists(name) from None
        return secret

    def authenticate(self, secret: str) -> Principal:
        match = _SECRET_RE.match(secret)
        if not match:
            raise BadToken()
        with self._db() as conn:
            row = conn.execute(
                "SELECT name, role, namespace, digest FROM tokens WHERE token_id = ?",
                (match.group(1),),
            ).fetchone()
        if row is None or not hmac.compare_digest(bytes(row[3]), _digest(secret)):
            raise BadToken()
        return Principal(row[0], Role.parse(row[1]), row[2])

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


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
