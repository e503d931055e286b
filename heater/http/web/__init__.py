"""The web UI: server-rendered pages (Jinja2) for browsing, searching,
reading and comparing templates and images, over the same services and
access policy as the JSON API."""

from __future__ import annotations

from flask import Flask, Response

from heater.http.web import catalog, compare, session, template
from heater.http.web.base import bp
from heater.http.web.render import code_css, diff_lines, side_by_side
from heater.templates.graphsvg import dot_program

__all__ = ["catalog", "compare", "init_app", "session", "template"]


@bp.get("/ui/code.css")
def code_stylesheet() -> Response:
    return Response(code_css(), mimetype="text/css",
                    headers={"Cache-Control": "public, max-age=86400"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(diff_lines)
    app.add_template_global(side_by_side)
    # Looked up once per worker: installing Graphviz means a restart.
    app.jinja_env.globals["graph_available"] = dot_program() is not None
