"""heater serve's HTTP limits, as a client meets them."""

from __future__ import annotations

import requests

from heater.server import REQUEST_LINE_LIMIT
from heater.web.openapi import document
from tests.conftest import Server


def test_a_long_listing_url_reaches_heater(server: Server) -> None:
    # 16 keywords of 64 non-ASCII characters, percent-encoded: over gunicorn's
    # default 4094 bytes, within what the document allows.
    keywords = "&".join("keyword=" + "%C3%A9" * 60 for _ in range(16))
    url = f"{server.url}/api/v1/templates?{keywords}"
    assert 4094 < len(url) < REQUEST_LINE_LIMIT - 100
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["templates"] == []


def test_a_request_line_over_the_limit_gets_the_documented_414(server: Server) -> None:
    url = f"{server.url}/api/v1/templates?q={'a' * REQUEST_LINE_LIMIT}"
    assert requests.get(url, timeout=30).status_code == 414
    operation = document()["paths"]["/api/v1/templates"]["get"]
    assert "414" in operation["responses"]
