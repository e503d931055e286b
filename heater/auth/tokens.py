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
from dataclasses import dataclass
from typing import Protocol

from heater.errors import Conflict, InvalidValue, NotFound, Unauthenticated
from heater.names import InvalidName

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
            raise InvalidValue(
                "role", f"role must be reader, writer or admin, not {value!r}") from None

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


def check_token_name(name: str) -> None:
    """Refuse a token name that is not 1 to 100 safe characters."""
    if not _TOKEN_NAME_RE.match(name):
        raise InvalidName("token name", name,
                          "must be 1 to 100 letters, digits, '.', '_', '@' or '-'")


def new_secret() -> tuple[str, str]:
    """A fresh token's public id and its secret (which embeds the id)."""
    token_id = secrets.token_hex(8)
    return token_id, f"{SECRET_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(secret: str) -> str:
    """The public id inside ``secret``; :class:`BadToken` if it is not token-shaped."""
    match = _SECRET_RE.match(secret)
    if not match:
        raise BadToken()
    return match.group(1)


def digest(secret: str) -> bytes:
    """What a backend stores of a secret (see the module docstring for why
    SHA-256); compare digests with :func:`hmac.compare_digest`."""
    return hashlib.sha256(secret.encode()).digest()


def verified(row: tuple[object, ...] | None, secret: str) -> Principal:
    """The principal of a stored ``(name, role, namespace, digest)`` row
    (None: no token with the secret's id), if ``secret`` matches its digest;
    :class:`BadToken` otherwise. Every backend checks a secret this way."""
    stored = row[3] if row is not None else None
    if row is None or not isinstance(stored, (bytes, memoryview)) \
            or not hmac.compare_digest(bytes(stored), digest(secret)):
        raise BadToken()
    namespace = row[2]
    return Principal(str(row[0]), Role.parse(str(row[1])),
                     namespace if isinstance(namespace, str) else None)


class TokenStore(Protocol):
    """Where tokens are kept (configuration ``identity = "tokens"``:
    :class:`heater.auth.sqlite.SqliteTokenStore`). Every implementation
    passes ``tests/auth/test_contract.py`` and is safe to call from any
    thread and process at once."""

    def create(self, name: str, role: Role, namespace: str | None = None) -> str:
        """Store a new token and return its secret, made by :func:`new_secret`;
        the store keeps only its :func:`digest`, so this is the only time the
        secret exists. :class:`InvalidValue` for a bad name
        (:func:`check_token_name`) or namespace; :class:`TokenExists` when
        the name is taken (names are unique, whatever the role)."""
        ...

    def authenticate(self, secret: str) -> Principal:
        """The principal whose secret this is; :class:`BadToken` for a secret
        that is malformed, unknown, revoked or differs in any character (the
        comparison takes the same time wherever it differs)."""
        ...

    def list(self) -> list[TokenRecord]:
        """Every token, ordered by name; never a secret or a digest."""
        ...

    def revoke(self, name: str) -> None:
        """Delete the token named ``name`` at once (its secret stops working
        for every later call); :class:`TokenNotFound` if there is none."""
        ...
