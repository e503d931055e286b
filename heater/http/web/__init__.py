"""The web UI: server-rendered pages (Jinja2) for browsing, searching,
reading and comparing templates and images, over the same services and
access policy as the JSON API."""

from __future__ import annotations

from flask import Flask, Response, send_from_directory

from heater.http.web import catalog, compare, session, template
from heater.http.web.base import STATIC, bp
from heater.http.web.render import code_css, diff_lines, side_by_side
from heater.templates.graphsvg import dot_program

__all__ = ["catalog", "compare", "init_app", "session", "template"]


# Not Flask's own static route: that one would redirect a doubled slash
# (//etc/passwd) rather than refuse it.
@bp.get("/ui/static/<path:filename>", merge_slashes=False)
def static_file(filename: str) -> Response:
    return send_from_directory(STATIC, filename, max_age=3600)


@bp.get("/ui/code.css")
def code_stylesheet() -> Response:
    return Response(code_css(), mimetype="text/css",
                    headers={"Cache-Control": "public, max-age=86400"})


def init_app(app: Flask) -> None:
    # Page URLs take only names (the ``repo`` converter of heater.http.hints,
    # added before this): /x.git/git-upload-pack and /api/v1 are no pages.
    app.register_blueprint(bp)
    app.add_template_global(diff_lines)
    app.add_template_global(side_by_side)
    # Looked up once per worker: installing Graphviz means a restart.
    app.jinja_env.globals["graph_available"] = dot_program() is not None
