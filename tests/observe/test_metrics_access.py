"""Who may read /metrics, in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from heater.auth.tokens import Role
from heater.config import Config, ConfigError
from heater.http.app import create_app


def test_metrics_are_anonymous_by_default(tmp_path: Path) -> None:
    client = create_app({"HEATER_SETTINGS": Config(tmp_path / "data")}).test_client()
    response = client.get("/metrics")
    assert response.status_code == 200
    names = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"heater_http_requests", "heater_git_pushes", "heater_pending_changes"} <= names


def test_metrics_may_require_a_token(tmp_path: Path) -> None:
    app = create_app({"HEATER_SETTINGS": Config(tmp_path / "data", metrics_access="token")})
    client = app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthenticated"
    secret = app.extensions["heater"].tokens.create("scraper", Role.READER, None)
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {secret}"})
    assert allowed.status_code == 200


def test_metrics_access_is_checked_at_start() -> None:
    with pytest.raises(ConfigError, match=r"\$HEATER_METRICS_ACCESS: metrics_access must be "
                                          "one of anonymous, token"):
        Config.load(data_dir="x", environ={"HEATER_METRICS_ACCESS": "everyone"})
