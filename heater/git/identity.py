"""The one git identity of an API token, for every commit and tag Heater
writes on a caller's behalf (API files, tags, lifecycle changes, builds)."""

from __future__ import annotations

import time

import pygit2

# Tokens have names but no e-mail addresses; git requires one, so a reserved
# domain (RFC 2606) makes it plain that it is not real.
TOKEN_EMAIL_DOMAIN = "tokens.heater.invalid"


def signature(who: str) -> pygit2.Signature:
    """The author (or tagger) recorded for the token named ``who``, now, in UTC."""
    return pygit2.Signature(who, f"{who}@{TOKEN_EMAIL_DOMAIN}", int(time.time()), 0)


def actor(who: pygit2.Signature | str) -> dict[str, str | None]:
    """Whoever acted, as the API shows them (``Actor``): a git signature's
    name and e-mail, or a token's name, with no e-mail (a token has none:
    the address :func:`signature` makes up is not shown)."""
    if isinstance(who, str):
        return {"name": who, "email": None}
    email = who.email
    return {"name": who.name,
            "email": None if email.endswith("@" + TOKEN_EMAIL_DOMAIN) else email}
