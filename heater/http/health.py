"""Liveness: the process answers and its data directory is usable."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from heater.http.context import registry

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    layout = registry().layout
    ok = layout.git_root.is_dir()
    response = jsonify({"status": "ok" if ok else "degraded"})
    response.status_code = 200 if ok else 503
    return response
