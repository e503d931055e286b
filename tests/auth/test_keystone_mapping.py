"""How a token Keystone vouched for becomes Heater's caller: scopes,
namespaces and roles, from the identity headers keystonemiddleware's
auth_token sets (the end-to-end tests in test_keystone.py ask a real
Keystone through it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heater.auth.identity import Credentials, HeaterTokens, Scheme
from heater.auth.keystone import (
    AuthToken,
    KeystoneIdentity,
    KeystoneRefused,
    ServiceUser,
    v3_url,
)
from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import Principal, Role
from heater.names import InvalidName

# Nothing listens here: a test that reached Keystone would fail to connect.
NOWHERE = "http://127.0.0.1:9/v3"


def identity(**kwargs: Any) -> KeystoneIdentity:
    auth_token = AuthToken(NOWHERE, ServiceUser("heater", "secret", "service"),
                           cache_seconds=60)
    options: dict[str, Any] = {"cache_seconds": 60, "namespaces": {}, "heater_tokens": None,
                               "auth_token": auth_token}
    return KeystoneIdentity(NOWHERE, **{**options, **kwargs})


def token(roles: tuple[str, ...], **scope: str) -> dict[str, str]:
    """The headers auth_token sets for a confirmed token of alice."""
    return {"X-Identity-Status": "Confirmed", "X-User-Id": "u1", "X-User-Name": "alice",
            "X-Roles": ",".join(roles), **scope}


def project(name: str, domain: str = "default", ident: str = "p1") -> dict[str, str]:
    return {"X-Project-Id": ident, "X-Project-Name": name, "X-Project-Domain-Id": domain}


@pytest.mark.parametrize(("roles", "role"), [
    (("reader",), Role.READER),
    (("member", "reader"), Role.WRITER),
    (("admin", "member", "reader"), Role.ADMIN),
    (("reader", "heat_stack_owner"), Role.READER),
])
def test_roles_map_to_the_highest_held(roles: tuple[str, ...], role: Role) -> None:
    assert identity().principal(token(roles, **project("acme"))) == Principal("alice", role,
                                                                              "acme")


def test_a_system_scoped_token_acts_everywhere() -> None:
    info = token(("reader",), **{"OpenStack-System-Scope": "all"})
    assert identity().principal(info) == Principal("alice", Role.READER, None)


@pytest.mark.parametrize(("scope", "message"), [
    ({"X-Domain-Id": "default"}, "not scoped to a project"),
    ({}, "not scoped to a project"),
    (project("Acme Corp"), "project Acme Corp .p1. has no namespace"),
    (project("acme", domain="d2"), "outside the Default domain"),
])
def test_tokens_without_a_namespace_are_refused(scope: dict[str, str], message: str) -> None:
    with pytest.raises(KeystoneRefused, match=message) as refused:
        identity().principal(token(("admin",), **scope))
    assert refused.value.code == "invalid_token"


def test_a_mapping_names_the_namespace_of_a_project() -> None:
    mapped = identity(namespaces={"p1": "acme"})
    assert mapped.principal(token(("member",), **project("Acme Corp"))).namespace == "acme"
    other = identity(namespaces={"p2": "ops"})
    assert other.principal(token(("member",), **project("web", "d2", "p2"))).namespace == "ops"
    with pytest.raises(InvalidName):
        identity(namespaces={"p1": "Not A Namespace"})


def test_no_known_role_is_refused() -> None:
    with pytest.raises(KeystoneRefused, match="holds none of the roles reader, member, admin"):
        identity().principal(token(("heat_stack_owner",), **project("acme")))


def test_heater_tokens_beside_keystone_or_not(tmp_path: Path) -> None:
    store = SqliteTokenStore(tmp_path / "auth.sqlite")
    secret = store.create("ci", Role.WRITER, "acme")
    beside = identity(heater_tokens=HeaterTokens(store))
    assert beside.authenticate(Credentials(Scheme.BEARER, secret)) == Principal(
        "ci", Role.WRITER, "acme")
    with pytest.raises(KeystoneRefused, match="Heater's own tokens are switched off"):
        identity().authenticate(Credentials(Scheme.BASIC, secret, "x"))


def test_keystone_url_forms() -> None:
    assert v3_url("http://keystone:5000") == "http://keystone:5000/v3"
    assert v3_url("http://keystone:5000/v3/") == "http://keystone:5000/v3"


def test_an_unconfirmed_token_is_refused() -> None:
    with pytest.raises(KeystoneRefused, match="does not accept"):
        identity().principal({**token(("admin",), **project("acme")),
                              "X-Identity-Status": "Invalid"})
