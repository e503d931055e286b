"""Reading credentials from request headers, and what Heater's own tokens
make of them: what is Heater's, what is not; every malformed Authorization
header is 401."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from heater.auth.identity import Credentials, HeaterTokens, Scheme
from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import Principal, Role
from heater.errors import Unauthenticated
from heater.http.credentials import credentials_from_environ


def token_from_environ(environ: dict[str, object]) -> str | None:
    """The Heater token secret the request carries, as identity ``tokens``
    reads it."""
    credentials = credentials_from_environ(environ)
    if credentials is None:
        return None
    return credentials.heater_token() or (
        None if credentials.scheme is Scheme.X_AUTH_TOKEN else credentials.secret)


def test_bearer_and_basic() -> None:
    basic = base64.b64encode(b"anyone:s3cret").decode()
    assert token_from_environ({"HTTP_AUTHORIZATION": "Bearer s3cret"}) == "s3cret"
    assert token_from_environ({"HTTP_AUTHORIZATION": f"Basic {basic}"}) == "s3cret"
    assert token_from_environ({}) is None


@pytest.mark.parametrize("header", [
    "Basic \xff\xfe",                                         # not ASCII (WSGI gives latin-1)
    "Basic !!!!",                                             # not base64
    "Basic " + base64.b64encode(b"x:\xff\xfe").decode(),      # not UTF-8 inside
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Digest x",
    "Bearer " + "a" * 5000,
])
def test_malformed_headers_are_unauthenticated(header: str) -> None:
    with pytest.raises(Unauthenticated):
        token_from_environ({"HTTP_AUTHORIZATION": header})

TOKEN = "heater_0123456789abcdef_" + "A" * 43
KEYSTONE = "gAAAAABlZ" + "x" * 170


def basic(user: str, password: str) -> dict[str, object]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {encoded}"}


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),
    (basic("x", TOKEN), TOKEN),
    (basic(TOKEN, ""), TOKEN),  # curl -u "$TOKEN:"
    (basic("alice", ""), ""),  # an empty password, and no token in sight
    ({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, TOKEN),
    ({"HTTP_X_AUTH_TOKEN": TOKEN}, TOKEN),
    ({"HTTP_X_AUTH_TOKEN": KEYSTONE}, None),  # another service's token: anonymous
    ({"HTTP_X_AUTH_TOKEN": ""}, None),
])
def test_token_forms(environ: dict[str, object], expected: str | None) -> None:
    assert token_from_environ(environ) == expected


@pytest.mark.parametrize("header", ["Basic !!!", "Digest x", "Basic " + "A" * 5000])
def test_a_malformed_authorization_header_is_refused(header: str) -> None:
    with pytest.raises(Unauthenticated):
        token_from_environ({"HTTP_AUTHORIZATION": header, "HTTP_X_AUTH_TOKEN": KEYSTONE})


def test_heater_tokens_judge_the_credentials(tmp_path: Path) -> None:
    store = SqliteTokenStore(tmp_path / "auth.sqlite")
    secret = store.create("ci", Role.WRITER, "acme")
    tokens = HeaterTokens(store)
    expected = Principal("ci", Role.WRITER, "acme")
    assert tokens.authenticate(Credentials(Scheme.BASIC, secret, "x")) == expected
    assert tokens.authenticate(Credentials(Scheme.BASIC, "", secret)) == expected
    assert tokens.authenticate(Credentials(Scheme.X_AUTH_TOKEN, secret)) == expected
    assert tokens.authenticate(Credentials(Scheme.X_AUTH_TOKEN, KEYSTONE)) is None
    with pytest.raises(Unauthenticated, match="empty token"):
        tokens.authenticate(Credentials(Scheme.BASIC, "", "alice"))
    with pytest.raises(Unauthenticated):
        tokens.authenticate(Credentials(Scheme.BEARER, KEYSTONE))
    assert secret not in repr(Credentials(Scheme.BEARER, secret))
