"""Who a caller is, whatever they sent: the one interface every identity
backend implements (configuration ``identity``), and Heater's own tokens
behind it.

A request's credentials arrive in one of three forms (read from the headers
by :mod:`heater.http.credentials`): HTTP Basic (a user name and a password,
as git sends them), ``Authorization: Bearer`` and ``X-Auth-Token``. Each
backend decides what the secret means: a Heater token, a Keystone token or
a Keystone application credential (:mod:`heater.auth.keystone`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from heater.auth.tokens import Principal, TokenStore, is_token_shaped
from heater.errors import Unauthenticated


class Scheme(enum.StrEnum):
    BASIC = "basic"
    BEARER = "bearer"
    X_AUTH_TOKEN = "x-auth-token"


@dataclass(frozen=True)
class Credentials:
    """What a request presented: a secret, how it came, and with Basic the
    user name beside it."""

    scheme: Scheme
    secret: str
    user: str = ""

    def __repr__(self) -> str:  # never a secret in a log or a traceback
        return f"Credentials({self.scheme.value}, user={self.user!r})"

    def heater_token(self) -> str | None:
        """The Heater token secret these credentials carry, if they carry
        one: ``curl -u "$TOKEN:"`` puts it in the user name."""
        if is_token_shaped(self.secret):
            return self.secret
        if self.scheme is Scheme.BASIC and not self.secret and is_token_shaped(self.user):
            return self.user
        return None


class Identity(Protocol):
    """Turns credentials into a caller. Safe to call from any thread."""

    def authenticate(self, credentials: Credentials) -> Principal | None:
        """The caller ``credentials`` prove, ``None`` when they are none of
        Heater's business (the request is then anonymous: another service's
        token in ``X-Auth-Token``); :class:`Unauthenticated` (401) when they
        are Heater's to judge and not valid."""
        ...


class HeaterTokens:
    """Identity ``tokens``: Heater's own tokens, from its token store."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store

    def authenticate(self, credentials: Credentials) -> Principal | None:
        token = credentials.heater_token()
        if token is not None:
            return self.store.authenticate(token)
        if credentials.scheme is Scheme.X_AUTH_TOKEN:
            # Where OpenStack services put their own Keystone token when they
            # fetch a URL for a user: public reads must still work.
            return None
        if not credentials.secret:
            raise Unauthenticated("an empty token was given")
        return self.store.authenticate(credentials.secret)
