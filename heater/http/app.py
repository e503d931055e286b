"""The HTTP layer: the Flask application factory.

Git's smart HTTP endpoints are a plain WSGI application in front of Flask
(:mod:`heater.http.git.smarthttp`) so that packs stream straight between the socket
and git; everything else is Flask blueprints, one per feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask

from heater.config import Config
from heater.http import cors, encodedslash, errors, health, hints, observe, publicurl, raw, web
from heater.http.api import browse as browse_api
from heater.http.api import builds as builds_api
from heater.http.api import diff as diff_api
from heater.http.api import images as images_api
from heater.http.api import lifecycle as lifecycle_api
from heater.http.api import openapi, queries
from heater.http.api import parameters as parameters_api
from heater.http.api import templates as templates_api
from heater.http.git.smarthttp import SmartHTTP, StartResponse, WSGIApp, is_git_path
from heater.wiring import start_application

# JSON bodies of the REST API are small; binaries and packs stream through
# their own endpoints, which do not read the body through Flask.
MAX_JSON_BODY = 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` may set ``HEATER_SETTINGS`` (a
    :class:`heater.config.Config`) or only ``DATA_DIR``; whatever it leaves
    out comes from the environment and config file (:meth:`Config.load`)."""
    app = Flask(__name__)
    app.config.update(DATA_DIR=None, HEATER_SETTINGS=None, MAX_CONTENT_LENGTH=MAX_JSON_BODY)
    # Keys in the order of the OpenAPI schemas, the one order of the API
    # (Flask sorts them by default).
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # A trailing slash names the same resource ("/api/v1/templates/"): some
    # clients add one, and a 404 for it helps no one.
    app.url_map.strict_slashes = False
    if config:
        app.config.update(config)
    settings = app.config["HEATER_SETTINGS"] or Config.load(data_dir=app.config["DATA_DIR"])
    registry, catalog = start_application(settings)
    app.config["BLOB_REDIRECT_SECONDS"] = settings.blob_redirect_seconds
    app.extensions["heater"] = registry
    app.extensions["heater_catalog"] = catalog

    errors.init_app(app)
    encodedslash.init_app(app)  # before any other hook reads the routed values
    publicurl.init_app(app, settings)  # before the git dispatcher: git answers carry no links
    raw.init_app(app)
    hints.init_app(app)
    queries.init_app(app)
    for blueprint in (health.bp, templates_api.bp, lifecycle_api.templates_bp, images_api.bp,
                      lifecycle_api.images_bp, builds_api.bp, raw.bp, openapi.bp, diff_api.bp,
                      parameters_api.bp, browse_api.bp, hints.bp):
        app.register_blueprint(blueprint)
    web.init_app(app)

    observe.init_app(app, settings.metrics_access)
    cors.init_app(app, settings.cors_origins)

    app.wsgi_app = observe.Observed(  # type: ignore[method-assign]
        GitDispatcher(SmartHTTP(registry, settings.max_blob_bytes), app.wsgi_app))
    return app


class GitDispatcher:
    """Send ``/<ns>/<name>.git/...`` to git's smart HTTP, the rest to Flask."""

    def __init__(self, git: WSGIApp, other: WSGIApp) -> None:
        self.git = git
        self.other = other

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if is_git_path(environ.get("PATH_INFO", "")):
            return self.git(environ, start_response)
        return self.other(environ, start_response)
