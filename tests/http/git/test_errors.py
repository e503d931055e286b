"""The git endpoint answers a domain error with the status the error table
gives it (as the JSON API does), as text git shows the user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heater.config import Config
from heater.errors import Conflict, HeaterError, InvalidInput, Unauthenticated, Unavailable
from heater.http.git.smarthttp import SmartHTTP
from heater.wiring import build_registry


@pytest.mark.parametrize(("error", "status"), [
    (Unavailable("the token store cannot answer now"), "503 Service Unavailable"),
    (Conflict("busy"), "409 Conflict"),
    (InvalidInput("bad"), "400 Bad Request"),
    (Unauthenticated("who are you"), "401 Unauthorized"),
])
def test_a_domain_error_gets_its_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        error: HeaterError, status: str) -> None:
    registry = build_registry(Config(tmp_path / "data"))

    def fail(_secret: str | None) -> None:
        raise error

    monkeypatch.setattr(registry, "authenticate", fail)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=dict(headers))

    body = b"".join(SmartHTTP(registry)({
        "REQUEST_METHOD": "GET", "PATH_INFO": "/acme/app.git/info/refs",
        "QUERY_STRING": "service=git-upload-pack"}, start_response))
    assert seen["status"] == status
    assert seen["headers"]["Content-Type"].startswith("text/plain")
    assert body.decode() == error.message + "\n"
    assert ("WWW-Authenticate" in seen["headers"]) == status.startswith("401")
