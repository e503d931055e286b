"""The HTTP layer: the Flask application factory.

Git's smart HTTP endpoints are a plain WSGI application in front of Flask
(:mod:`heater.http.git.smarthttp`) so that packs stream straight between the socket
and git; everything else is Flask blueprints, one per feature.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from heater.catalog import open_catalog
from heater.catalog.index import IndexUnavailable
from heater.http import errors, health, raw
from heater.http.api import builds as builds_api
from heater.http.api import diff as diff_api
from heater.http.api import images as images_api
from heater.http.api import lifecycle as lifecycle_api
from heater.http.api import openapi
from heater.http.api import templates as templates_api
from heater.http.git.smarthttp import SmartHTTP, StartResponse, WSGIApp, is_git_path
from heater.paths import resolve_data_dir
from heater.registry import Registry

# JSON bodies of the REST API are small; binaries and packs stream through
# their own endpoints, which do not read the body through Flask.
MAX_JSON_BODY = 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` may set ``DATA_DIR``; otherwise the
    data directory comes from ``$HEATER_DATA_DIR`` or ``./repos``."""
    app = Flask(__name__)
    app.config.update(DATA_DIR=None, MAX_CONTENT_LENGTH=MAX_JSON_BODY, JSON_SORT_KEYS=False)
    if config:
        app.config.update(config)
    data_dir = Path(app.config["DATA_DIR"]) if app.config["DATA_DIR"] else resolve_data_dir(None)
    registry = Registry(data_dir)
    app.extensions["heater"] = registry
    catalog = open_catalog(registry.repos)
    try:
        catalog.ensure_built()  # also heals a lost index when a crashed worker restarts
    except IndexUnavailable as exc:  # git and reads by name still serve; listings say 503
        logging.getLogger(__name__).error("%s", exc.message)
    # Every push and API write updates the index before its response ends.
    registry.on_change(catalog.on_change)
    registry.replay_pending_changes()  # what a crashed worker could not tell the index
    app.extensions["heater_catalog"] = catalog

    errors.init_app(app)
    for blueprint in (health.bp, templates_api.bp, lifecycle_api.bp, images_api.bp,
                      builds_api.bp, raw.bp, openapi.bp, diff_api.bp):
        app.register_blueprint(blueprint)

    app.wsgi_app = GitDispatcher(SmartHTTP(registry), app.wsgi_app)  # type: ignore[method-assign]
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
