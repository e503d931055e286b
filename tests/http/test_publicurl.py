"""Links in answers (``clone_url``, ``next``, ``upload_url``) do not take
whatever ``Host`` or ``X-Forwarded-*`` a client sends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import Role
from heater.config import ConfigError
from heater.http.app import create_app
from heater.paths import Layout
from tests.conftest import HELLO_WORLD
from tests.images_helpers import UBUNTU_MANIFEST

MakeClient = Callable[..., tuple[FlaskClient, dict[str, str]]]


@pytest.fixture
def make_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeClient:
    """A client of an app built with these settings, holding two templates."""
    def make(**settings: str) -> tuple[FlaskClient, dict[str, str]]:
        for key in ("HEATER_PUBLIC_URL", "HEATER_TRUSTED_PROXIES"):
            monkeypatch.delenv(key, raising=False)
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        data = tmp_path / "data"
        app = create_app({"DATA_DIR": str(data)})
        client = app.test_client()
        token = SqliteTokenStore(Layout(data).auth_db).create("writer", Role.parse("writer"), None)
        auth = {"Authorization": f"Bearer {token}"}
        for name in ("a", "b"):
            client.post("/api/v1/templates", headers=auth, json={
                "namespace": "acme", "name": name, "files": {"template.yaml": HELLO_WORLD}})
        return client, auth
    return make


def links(client: FlaskClient, auth: dict[str, str], **headers: str) -> list[str]:
    """Every link a listing, a detail and a new build give out."""
    listing = client.get("/api/v1/templates?limit=1", headers=headers)
    assert listing.status_code == 200, listing.get_data(as_text=True)
    detail = client.get("/api/v1/templates/acme/a", headers=headers).get_json()
    build = client.post("/api/v1/images/acme/img/builds", json=UBUNTU_MANIFEST,
                        headers={**auth, **headers}).get_json()
    return [listing.get_json()["next"].split("?")[0],
            listing.get_json()["templates"][0]["clone_url"], detail["clone_url"],
            build["upload_url"]]


def test_by_default_links_follow_a_well_formed_host(make_client: MakeClient) -> None:
    client, auth = make_client()
    got = links(client, auth, Host="heater.example:8443")
    assert got == ["http://heater.example:8443/api/v1/templates",
                   "http://heater.example:8443/acme/a.git",
                   "http://heater.example:8443/acme/a.git",
                   got[3]]
    assert got[3].startswith("http://heater.example:8443/api/v1/builds/")
    # Forwarded headers are not believed without a trusted proxy.
    forwarded = links(client, auth, Host="heater.example", **{
        "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"})
    assert all(link.startswith("http://heater.example/") for link in forwarded)


@pytest.mark.parametrize("host", ["evil.example/phish?", "a b", "evil.example:80@x",
                                  "x\\y", "heater.example:99999999", "[::1"])
def test_a_malformed_host_is_refused(make_client: MakeClient, host: str) -> None:
    client, _auth = make_client()
    for path in ("/api/v1/templates", "/api/v1/templates/acme/a"):
        answer = client.get(path, headers={"Host": host})
        assert answer.status_code == 400, (host, path)
        assert answer.get_json()["error"]["code"] == "invalid_host"


def test_the_public_url_wins_over_any_header(make_client: MakeClient) -> None:
    client, auth = make_client(HEATER_PUBLIC_URL="https://registry.example.org/heater/")
    for headers in ({"Host": "evil.example"}, {"Host": "evil.example/x?"},
                    {"Host": "h", "X-Forwarded-Host": "evil.example"}):
        got = links(client, auth, **headers)
        assert got[:3] == ["https://registry.example.org/heater/api/v1/templates",
                           "https://registry.example.org/heater/acme/a.git",
                           "https://registry.example.org/heater/acme/a.git"]
        assert got[3].startswith("https://registry.example.org/heater/api/v1/builds/")


def test_a_trusted_proxy_sets_scheme_and_host(make_client: MakeClient) -> None:
    client, auth = make_client(HEATER_TRUSTED_PROXIES="1")
    got = links(client, auth, Host="10.0.0.5:8080", **{
        "X-Forwarded-Host": "heater.example", "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "192.0.2.1"})
    assert got[1] == "https://heater.example/acme/a.git"
    # A proxy that forwards a malformed host does not make it a link either.
    bad = client.get("/api/v1/templates", headers={"X-Forwarded-Host": "evil.example/x?"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_host"


@pytest.mark.parametrize(("key", "value"), [
    ("HEATER_PUBLIC_URL", "javascript:alert(1)"), ("HEATER_PUBLIC_URL", "heater.example"),
    ("HEATER_PUBLIC_URL", "https://u:p@heater.example"), ("HEATER_TRUSTED_PROXIES", "yes"),
    ("HEATER_TRUSTED_PROXIES", "-1")])
def test_bad_settings_stop_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   key: str, value: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=key):
        create_app({"DATA_DIR": str(tmp_path / "data")})
