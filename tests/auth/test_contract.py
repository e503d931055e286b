"""The token store contract (see heater.auth.tokens.TokenStore): every
backend runs every test here.

A new backend adds its factory to BACKENDS; nothing else here changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from heater.auth.postgres import PostgresTokenStore
from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import BadToken, Role, TokenExists, TokenNotFound, TokenStore
from heater.errors import InvalidInput
from tests.services.postgres import database_for

BACKENDS: dict[str, Callable[[Path], TokenStore]] = {
    "sqlite": lambda tmp: SqliteTokenStore(tmp / "auth.sqlite"),
    "postgresql": lambda tmp: PostgresTokenStore(database_for(tmp)),
}


@pytest.fixture(params=sorted(BACKENDS))
def tokens(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    return BACKENDS[request.param](tmp_path)


def test_a_secret_authenticates_as_its_token(tokens: TokenStore) -> None:
    writer = tokens.create("ci", Role.WRITER, "acme")
    admin = tokens.create("root", Role.ADMIN)
    assert writer != admin
    principal = tokens.authenticate(writer)
    assert (principal.name, principal.role, principal.namespace) == ("ci", Role.WRITER, "acme")
    assert tokens.authenticate(admin).namespace is None


def test_names_are_unique_whatever_the_role(tokens: TokenStore) -> None:
    first = tokens.create("ci", Role.READER)
    with pytest.raises(TokenExists):
        tokens.create("ci", Role.ADMIN, "other")
    assert tokens.authenticate(first).role is Role.READER


@pytest.mark.parametrize("name", ["", "-dash", "a b", "x" * 101, "ünï"])
def test_bad_names_are_refused(tokens: TokenStore, name: str) -> None:
    with pytest.raises(InvalidInput):
        tokens.create(name, Role.READER)
    assert tokens.list() == []


def test_bad_namespace_is_refused(tokens: TokenStore) -> None:
    with pytest.raises(InvalidInput):
        tokens.create("ci", Role.READER, "../etc")
    assert tokens.list() == []


def test_list_is_by_name_and_holds_no_secret(tokens: TokenStore) -> None:
    secrets = [tokens.create(name, Role.READER, "acme") for name in ("zed", "amy", "kim")]
    listed = tokens.list()
    assert [(t.name, t.role, t.namespace) for t in listed] == [
        ("amy", Role.READER, "acme"), ("kim", Role.READER, "acme"), ("zed", Role.READER, "acme")]
    assert all(t.created_at for t in listed)
    assert not any(secret in repr(listed) for secret in secrets)


def test_revoked_secret_stops_working(tokens: TokenStore) -> None:
    secret = tokens.create("ci", Role.WRITER)
    kept = tokens.create("other", Role.WRITER)
    tokens.revoke("ci")
    with pytest.raises(BadToken):
        tokens.authenticate(secret)
    assert tokens.authenticate(kept).name == "other"
    with pytest.raises(TokenNotFound):
        tokens.revoke("ci")
    tokens.create("ci", Role.READER)  # the name is free again


def test_unknown_and_altered_secrets_are_refused(tokens: TokenStore) -> None:
    secret = tokens.create("ci", Role.WRITER)
    last = secret[-1]
    altered = secret[:-1] + ("A" if last != "A" else "B")
    other_id = secret.replace(secret.split("_")[1], "0" * 16, 1)
    for bad in (altered, other_id, "heater_", "not a token", secret + "x"):
        with pytest.raises(BadToken):
            tokens.authenticate(bad)


def test_safe_from_many_threads(tokens: TokenStore) -> None:
    secrets: dict[str, str] = {}

    def create(i: int) -> None:
        secrets[f"t{i}"] = tokens.create(f"t{i}", Role.READER)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [t.name for t in tokens.list()] == sorted(secrets)
    assert all(tokens.authenticate(s).name == name for name, s in secrets.items())
