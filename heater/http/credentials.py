"""Reading a token from an HTTP request (WSGI environ), for every endpoint.

A token goes as the password of HTTP Basic (any user name, as git sends it)
or as ``Authorization: Bearer <token>``. ``curl -u "$TOKEN:"`` puts it in
the user name with an empty password: a user name of Heater's token form is
taken as the token then.

``X-Auth-Token`` is accepted too, but it is also where OpenStack services
put their own Keystone token (``gAAAA...``) when they fetch a URL for a
user: one that is not of Heater's token form is none of Heater's business
and is ignored (the request is anonymous), so that public reads still
work. A malformed ``Authorization`` header, which the caller wrote for
Heater, stays an error.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from heater.auth.tokens import Caller, is_token_shaped
from heater.errors import Unauthenticated

MAX_AUTH_HEADER = 4096
# The WSGI environ key that names the authenticated caller's token, for the
# access log (gunicorn's ``%({heater.token}e)s``); absent when anonymous.
TOKEN_NAME_ENV = "heater.token"


def note_caller(environ: dict[str, object], caller: Caller) -> Caller:
    """Record who the request authenticated as, for the access log; ``caller``."""
    if caller is not None:
        environ[TOKEN_NAME_ENV] = caller.name
    return caller


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
            user, sep, password = decoded.partition(":")
            if not sep:
                raise Unauthenticated("the Basic credentials have no password")
            if not password and is_token_shaped(user):
                return user
            return password
        raise Unauthenticated(f"unsupported authorization scheme {scheme!r}; use Basic or Bearer")
    if x_auth_token:
        token = environ.get("HTTP_X_AUTH_TOKEN")
        if isinstance(token, str) and is_token_shaped(token.strip()):
            return token.strip()
    return None
