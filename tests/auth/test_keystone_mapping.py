"""How a token Keystone vouched for becomes Heater's caller: scopes,
namespaces and roles, from token bodies as Keystone's v3 API writes them
(the end-to-end tests in test_keystone.py ask a real Keystone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from keystoneauth1 import access

from heater.auth.identity import Credentials, HeaterTokens, Scheme
from heater.auth.keystone import KeystoneIdentity, KeystoneRefused, v3_url
from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import Principal, Role
from heater.names import InvalidName

# Nothing listens here: a test that reached Keystone would fail to connect.
NOWHERE = "http://127.0.0.1:9/v3"


def identity(**kwargs: Any) -> KeystoneIdentity:
    options: dict[str, Any] = {"cache_seconds": 60, "namespaces": {}, "heater_tokens": None}
    return KeystoneIdentity(NOWHERE, **{**options, **kwargs})


def token(roles: tuple[str, ...], **scope: Any) -> access.AccessInfo:
    body: dict[str, object] = {"token": {
        "methods": ["password"], "expires_at": "2999-01-01T00:00:00.000000Z",
        "user": {"id": "u1", "name": "alice", "domain": {"id": "default"}},
        "roles": [{"id": f"r-{name}", "name": name} for name in roles], **scope}}
    return access.create(body=body, auth_token="gAAAA-test")


def project(name: str, domain: str = "default", ident: str = "p1") -> dict[str, Any]:
    return {"project": {"id": ident, "name": name, "domain": {"id": domain}}}


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
    info = token(("reader",), system={"all": True})
    assert identity().principal(info) == Principal("alice", Role.READER, None)


@pytest.mark.parametrize(("scope", "message"), [
    ({"domain": {"id": "default", "name": "Default"}}, "not scoped to a project"),
    ({}, "not scoped to a project"),
    (project("Acme Corp"), "project Acme Corp .p1. has no namespace"),
    (project("acme", domain="d2"), "outside the Default domain"),
])
def test_tokens_without_a_namespace_are_refused(scope: dict[str, Any], message: str) -> None:
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
