"""The address Heater gives out in links: ``clone_url``, ``next``, ``upload_url``.

Links are absolute, and by default built from the request's ``Host``
header, which the client chooses: a cache or a log that stores an answer
would hand its links to others. So:

- ``HEATER_PUBLIC_URL`` (``https://heater.example.com``, optionally with a
  path prefix) fixes the base of every link, whatever the request says;
- ``HEATER_TRUSTED_PROXIES`` (a number, 0 by default) says how many
  proxies in front of Heater set ``X-Forwarded-For``, ``-Proto``, ``-Host``,
  ``-Port`` and ``-Prefix``; only then are those headers believed (the
  last that many values of each), never when Heater is reached directly;
- without a public URL, the request's host is used only if it is a plain
  ``host[:port]``; anything else is refused (400 ``invalid_host``).

Both settings are read from the environment when the application is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from heater.errors import InvalidInput

PUBLIC_URL_ENV = "HEATER_PUBLIC_URL"
TRUSTED_PROXIES_ENV = "HEATER_TRUSTED_PROXIES"
_CONFIG_KEY = "HEATER_PUBLIC_URL"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])"
                      r"(?::[0-9]{1,5})?\Z")


class InvalidSetting(ValueError):
    """A setting that the application refuses to start with."""


def parse_public_url(value: str) -> str | None:
    """``HEATER_PUBLIC_URL`` without its trailing ``/``, None when unset."""
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or parts.username or parts.password \
            or not _HOST_RE.match(parts.netloc):
        raise InvalidSetting(f"{PUBLIC_URL_ENV} must be an http(s) URL such as "
                             f"https://heater.example.com, not {value!r}")
    return value.rstrip("/")


def parse_trusted_proxies(value: str) -> int:
    """``HEATER_TRUSTED_PROXIES``: how many proxies to believe, 0 when unset."""
    value = value.strip() or "0"
    if not value.isdigit() or int(value) > 10:
        raise InvalidSetting(f"{TRUSTED_PROXIES_ENV} must be a number of proxies (0 to 10), "
                             f"not {value!r}")
    return int(value)


def init_app(app: Flask, environ: Mapping[str, str] = os.environ) -> None:
    """Read both settings (``app.config`` may already hold the public URL)
    and believe ``X-Forwarded-*`` from that many proxies."""
    configured = app.config.get(_CONFIG_KEY)
    app.config[_CONFIG_KEY] = parse_public_url(
        configured if configured is not None else environ.get(PUBLIC_URL_ENV, ""))
    proxies = parse_trusted_proxies(environ.get(TRUSTED_PROXIES_ENV, ""))
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies,  # type: ignore[method-assign]
                                x_proto=proxies, x_host=proxies, x_port=proxies,
                                x_prefix=proxies)


def base_url() -> str:
    """Where this Heater is reached, without a trailing ``/``."""
    public = current_app.config.get(_CONFIG_KEY)
    if public:
        return str(public)
    if not _HOST_RE.match(request.host):
        raise InvalidInput("the Host header is not a host name or address with an optional "
                           "port", code="invalid_host")
    return request.url_root.rstrip("/")


def link(path: str) -> str:
    """The absolute URL of ``path``, a path of this application."""
    return base_url() + path
