"""Reading a token from request headers: what is Heater's, what is not;
every malformed Authorization header is 401."""

from __future__ import annotations

import base64

import pytest

from heater.errors import Unauthenticated
from heater.http.credentials import token_from_environ


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
    assert token_from_environ(environ, x_auth_token=True) == expected


@pytest.mark.parametrize("header", ["Basic !!!", "Digest x", "Basic " + "A" * 5000])
def test_a_malformed_authorization_header_is_refused(header: str) -> None:
    with pytest.raises(Unauthenticated):
        token_from_environ({"HTTP_AUTHORIZATION": header, "HTTP_X_AUTH_TOKEN": KEYSTONE},
                           x_auth_token=True)
