"""Cross-origin requests (CORS) from the browser origins the operator allows
(``HEATER_CORS_ORIGINS``; none by default).

An allowed origin's page may call the API and read raw files with a token
in ``Authorization`` (never cookies: Heater has none, so no
``Allow-Credentials``), and read the headers Heater's answers carry
(``ETag``, ``Location``, ``X-Heater-*``...). A preflight ``OPTIONS`` is
answered by Flask's automatic ``OPTIONS`` with ``Allow``, to which this adds
the CORS headers. Git's endpoints are not covered: git is no browser.
"""

from __future__ import annotations

from flask import Flask, Response, request

# The request headers a page may send, and the answer headers it may read.
ALLOW_HEADERS = "Authorization, Content-Type, If-None-Match, If-Range, Range, X-Auth-Token"
EXPOSE_HEADERS = ("ETag, Location, Content-Location, Content-Range, Accept-Ranges, "
                  "X-Heater-Commit, X-Heater-Yanked, X-Heater-Verdict, X-Heater-Diff-Truncated")
PREFLIGHT_MAX_AGE = 600


def init_app(app: Flask, origins: tuple[str, ...]) -> None:
    """Answer cross-origin requests from ``origins`` (``("*",)``: any)."""
    if not origins:
        return
    any_origin = origins == ("*",)

    @app.after_request
    def allow_origin(response: Response) -> Response:
        origin = request.headers.get("Origin")
        response.vary.add("Origin")  # the answer depends on it, for caches
        if origin is None or not (any_origin or origin in origins):
            return response
        response.headers["Access-Control-Allow-Origin"] = "*" if any_origin else origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "")
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response
