"""Reading tokens from request headers: every malformed header is 401."""

from __future__ import annotations

import base64

import pytest

from heater.errors import Unauthenticated
from heater.httpauth import token_from_environ


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
