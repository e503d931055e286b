"""Reading credentials from an HTTP request (WSGI environ), for every endpoint.

A token goes as the password of HTTP Basic (any user name, as git sends it)
or as ``Authorization: Bearer <token>``. ``curl -u "$TOKEN:"`` puts it in
the user name with an empty password: a user name of Heater's token form is
taken as the token then.

``X-Auth-Token`` is read too: with identity ``keystone`` it carries a
Keystone token; otherwise it is also where OpenStack services put their
own Keystone token when they fetch a URL for a user, and the identity
backend ignores one that is not of Heater's token form (see
:class:`heater.auth.identity.HeaterTokens`). What the secret means is the
identity backend's to decide; a malformed ``Authorization`` header, which
the caller wrote for Heater, is an error here already.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from heater.auth.identity import Credentials, Scheme
from heater.auth.tokens import Caller
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


def credentials_from_environ(environ: Mapping[str, object]) -> Credentials | None:
    """The credentials the request carries, ``None`` if it carries none.
    ``Authorization`` wins over ``X-Auth-Token``."""
    header = environ.get("HTTP_AUTHORIZATION")
    if isinstance(header, str) and header:
        if len(header) > MAX_AUTH_HEADER:
            raise Unauthenticated("the Authorization header is too long")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return Credentials(Scheme.BEARER, value)
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
            return Credentials(Scheme.BASIC, password, user)
        raise Unauthenticated(f"unsupported authorization scheme {scheme!r}; use Basic or Bearer")
    token = environ.get("HTTP_X_AUTH_TOKEN")
    if isinstance(token, str) and token.strip():
        if len(token) > MAX_AUTH_HEADER:
            raise Unauthenticated("the X-Auth-Token header is too long")
        return Credentials(Scheme.X_AUTH_TOKEN, token.strip())
    return None
