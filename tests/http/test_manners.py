"""Small HTTP manners: trailing slashes, OPTIONS with Allow, CORS (off unless
configured), and a unified diff that tells "no changes" from a patch."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from heater.auth.tokens import Role
from heater.config import Config, ConfigError
from heater.http.app import create_app
from tests.app_support import App
from tests.conftest import Server

UI = "https://ui.example.com"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App.start(tmp_path / "data")


def test_a_trailing_slash_names_the_same_resource(app: App) -> None:
    app.template(app.token(Role.WRITER), "acme/web", "1.0.0")
    for path in ("/api/v1/templates/", "/api/v1/templates/acme/web/",
                 "/api/v1/templates/acme/web/versions/", "/api/v1/images/"):
        slashed, plain = app.call("GET", path), app.call("GET", path.rstrip("/"))
        assert slashed.status_code == plain.status_code == 200, path
        assert slashed.get_json() == plain.get_json()


def test_options_answers_with_allow(app: App, server: Server) -> None:
    answer = app.call("OPTIONS", "/api/v1/templates/acme/web")
    assert answer.status_code == 200
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "DELETE",
                                                         "PATCH"}
    assert "Access-Control-Allow-Origin" not in answer.headers  # CORS is off by default
    git = requests.options(f"{server.url}/acme/web.git/info/refs", timeout=10)
    assert git.status_code == 204 and git.headers["Allow"] == "GET, HEAD, OPTIONS"
    rpc = requests.options(f"{server.url}/acme/web.git/git-upload-pack", timeout=10)
    assert rpc.status_code == 204 and rpc.headers["Allow"] == "POST, OPTIONS"


def test_cors_for_the_configured_origins_only(tmp_path: Path) -> None:
    settings = Config(tmp_path / "data", cors_origins=(UI,))
    client = create_app({"HEATER_SETTINGS": settings}).test_client()
    preflight = client.options("/api/v1/templates", headers={
        "Origin": UI, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == UI
    assert set(preflight.headers["Access-Control-Allow-Methods"].split(", ")) >= {"GET", "POST"}
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    listed = client.get("/api/v1/templates", headers={"Origin": UI})
    assert listed.headers["Access-Control-Allow-Origin"] == UI
    assert "ETag" in listed.headers["Access-Control-Expose-Headers"]
    assert "Origin" in listed.headers["Vary"]
    other = client.get("/api/v1/templates", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    anyone = create_app({"HEATER_SETTINGS": Config(tmp_path / "d2", cors_origins=("*",))})
    assert anyone.test_client().get("/healthz", headers={"Origin": "https://x.example"}) \
        .headers["Access-Control-Allow-Origin"] == "*"


def test_cors_setting_is_checked(tmp_path: Path) -> None:
    loaded = Config.load(str(tmp_path), environ={
        "HEATER_CORS_ORIGINS": f"{UI}, http://localhost:3000"})
    assert loaded.cors_origins == (UI, "http://localhost:3000")
    assert Config.load(str(tmp_path), environ={}).cors_origins == ()
    with pytest.raises(ConfigError, match=r"\$HEATER_CORS_ORIGINS: cors_origins must be \*"):
        Config.load(str(tmp_path), environ={"HEATER_CORS_ORIGINS": f"{UI}/path"})


def test_unified_diff_without_changes_is_204_and_a_bad_ref_an_error(app: App) -> None:
    token = app.token(Role.WRITER)
    app.template(token, "acme/web", "1.0.0")
    base = "/api/v1/templates/acme/web/diff?format=unified"
    same = app.call("GET", f"{base}&from=1.0.0&to=main")
    assert same.status_code == 204 and same.data == b""
    bad = app.call("GET", f"{base}&from=1.0.0&to=nope")
    assert bad.status_code == 404 and bad.get_json()["error"]["code"] == "unknown_ref"
    assert bad.mimetype == "application/json"
