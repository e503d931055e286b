"""Request metrics and ``GET /metrics``.

:class:`Observed` wraps the whole WSGI application (git's smart HTTP and
Flask alike): it counts every request by method, route and status, and
times it until its response body has been sent, which for a clone is when
the pack has streamed. The route is the template the request matched (a
Flask URL rule, or a smart HTTP route), never the path: label values stay
few whatever paths clients send.

``/metrics`` is open to anyone by default, as Prometheus scrapers expect;
with the ``metrics_access`` setting at ``token`` it needs a valid token
(any role), and a bad or missing one is 401.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from heater.errors import Unauthenticated
from heater.http.context import caller, registry
from heater.observe.metrics import CONTENT_TYPE, exposition, metrics

# The WSGI environ key that names the route template a request matched.
ROUTE_ENV = "heater.route"
UNMATCHED = "unmatched"  # what no route answers (404, 405 before routing)
METRICS_ACCESS_KEY = "HEATER_METRICS_ACCESS"

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics_page() -> Response:
    if current_app.config.get(METRICS_ACCESS_KEY) == "token" and caller() is None:
        raise Unauthenticated("reading /metrics needs a token")
    return Response(exposition(registry().layout.pending), content_type=CONTENT_TYPE)


def init_app(app: Flask, access: str) -> None:
    """Register ``/metrics`` (readable by ``access``: anonymous or token)
    and name each Flask request's route for :class:`Observed`."""
    app.config[METRICS_ACCESS_KEY] = access
    metrics()  # now, in the worker, before requests race to
    app.register_blueprint(bp)

    @app.before_request
    def name_route() -> None:
        if request.url_rule is not None:
            request.environ[ROUTE_ENV] = request.url_rule.rule


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Observed:
    """WSGI middleware: count and time every request of ``app``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        status = ["500"]  # what a request that raises before answering becomes

        def observing_start(status_line: str, headers: list[tuple[str, str]],
                            exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        def record() -> None:
            method = environ.get("REQUEST_METHOD", "GET")
            method = method if method in _METHODS else "other"
            route = environ.get(ROUTE_ENV, UNMATCHED)
            m = metrics()
            m.requests.labels(method, route, status[0]).inc()
            m.latency.labels(method, route).observe(time.monotonic() - started)

        try:
            body = self.app(environ, observing_start)
        except BaseException:
            record()
            raise
        return _Closing(body, record)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Closing:
    """A response body that calls ``done`` once, when the server closes it
    (after the last byte was sent, or the client went away)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self.body = body
        self.done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            done, self.done = self.done, None
            if done is not None:
                done()
