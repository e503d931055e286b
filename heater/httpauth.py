"""Reading a token from an HTTP request (WSGI environ), for every endpoint.

A token goes as the password of HTTP Basic (any user name, as git sends it)
or as ``Authorization: Bearer <token>``; Heat's authenticated URL fetches
send it as ``X-Auth-Token``, which raw-file reads accept too.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from heater.errors import Unauthenticated

MAX_AUTH_HEADER = 4096


def token_from_environ(environ: Mapping[str, object], *, x_auth_token: bool = False) -> str | None:
    """The token secret the request carries, ``None`` if it carries none."""
    header = environ.get("HTTP_AUTHORIZATION")
    if isinstance(header, str) and header:
        if len(header) > MAX_AUTH_HEADER:
            raise Unauthenticated("the Authorization header is too long")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return value
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except ValueError:
                # binascii.Error and UnicodeDecodeError are ValueErrors, and so
                # is what b64decode raises for a header that was not ASCII.
                raise Unauthenticated("the Basic credentials are not valid base64 UTF-8") from None
            _user, sep, password = decoded.partition(":")
            if not sep:
                raise Unauthenticated("the Basic credentials have no password")
            return password
        raise Unauthenticated(f"unsupported authorization scheme {scheme!r}; use Basic or Bearer")
    if x_auth_token:
        token = environ.get("HTTP_X_AUTH_TOKEN")
        if isinstance(token, str) and token:
            return token.strip()
    return None
