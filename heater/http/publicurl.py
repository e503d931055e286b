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

Both settings come from :class:`heater.config.Config`.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from heater.config import Config
from heater.errors import InvalidInput
from heater.names import is_host_port

_CONFIG_KEY = "HEATER_PUBLIC_URL"


def init_app(app: Flask, settings: Config) -> None:
    """Take both settings (``app.config`` may already hold the public URL)
    and believe ``X-Forwarded-*`` from that many proxies."""
    if app.config.get(_CONFIG_KEY) is None:
        app.config[_CONFIG_KEY] = settings.public_url
    proxies = settings.trusted_proxies
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies,  # type: ignore[method-assign]
                                x_proto=proxies, x_host=proxies, x_port=proxies,
                                x_prefix=proxies)


def base_url() -> str:
    """Where this Heater is reached, without a trailing ``/``."""
    public = current_app.config.get(_CONFIG_KEY)
    if public:
        return str(public)
    if not is_host_port(request.host):
        raise InvalidInput("the Host header is not a host name or address with an optional "
                           "port", code="invalid_host")
    return request.url_root.rstrip("/")


def link(path: str) -> str:
    """The absolute URL of ``path``, a path of this application."""
    return base_url() + path
