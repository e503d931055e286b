"""The web UI's blueprint and what every page shares: who is signed in,
rendering with the security headers, and errors as pages.

Who is signed in comes from the session cookie (:mod:`heater.http.web.session`),
or else from the request's own credentials as the API reads them. The
access decisions are the API's (:mod:`heater.auth.policy`, through the
services): a private repository the caller may not read is the same 404
page as a missing one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, render_template, request

from heater.auth.identity import Credentials, Scheme
from heater.auth.policy import RepositoryGone
from heater.auth.tokens import Caller
from heater.errors import HeaterError, Unauthenticated, status_of
from heater.http.context import caller as api_caller
from heater.http.context import registry
from heater.http.credentials import note_caller
from heater.http.errors import CHALLENGE

bp = Blueprint("web", __name__, template_folder="templates")
STATIC = Path(__file__).parent / "static"

COOKIE = "heater_session"

# No inline script or style, nothing from another origin: every style,
# script and image a page uses is served by Heater itself.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def web_caller() -> Caller:
    """The signed-in token's caller; a cookie whose token no longer
    authenticates (revoked) signs the browser out rather than failing."""
    if "heater_web_caller" not in g:
        secret = request.cookies.get(COOKIE)
        who: Caller = None
        if secret:
            try:
                token = Credentials(Scheme.BEARER, secret)
                who = note_caller(request.environ, registry().authenticate(token))
            except Unauthenticated:
                g.heater_drop_cookie = True
        else:
            who = api_caller()
        g.heater_web_caller = who
    result: Caller = g.heater_web_caller
    return result


def page(template: str, status: int = 200, **context: Any) -> Response:
    """``template`` rendered with ``context`` and what every page shows."""
    try:
        who = web_caller()
    except Unauthenticated:  # a bad Authorization header: this page says so
        who = None
    html = render_template(template, signed_in=who, **context)
    return Response(html, status=status, mimetype="text/html")


@bp.after_request
def _secure(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    if g.get("heater_drop_cookie"):
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
    # Pages depend on the cookie: a shared cache must not hand one
    # reader's page to another.
    response.vary.add("Cookie")
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.app_template_filter("when")
def when(value: str | None) -> str:
    """An RFC 3339 time as a reader wants it: ``2026-12-04 17:30 UTC``."""
    if not value:
        return ""
    return value.replace("T", " ")[:16] + " UTC" if value.endswith(("Z", "+00:00")) \
        else value.replace("T", " ")[:16]


@bp.app_template_filter("query")
def query(values: dict[str, Any]) -> str:
    """A query string of ``values`` (lists repeat their key), empty ones left out."""
    pairs = [(key, item) for key, value in values.items()
             for item in (value if isinstance(value, list) else [value]) if item]
    return urlencode(pairs)


def error_page(error: HeaterError) -> Response:
    """A domain error as a page with the error table's status; a deleted
    repository shows its tombstone."""
    tombstone = error.record if isinstance(error, RepositoryGone) else None
    response = page("error.html", status_of(error), error=error, tombstone=tombstone)
    if response.status_code == 401:
        # Only a request that sent bad credentials itself gets here (a
        # browser's own cookie never does), so the challenge reaches no one
        # who did not ask for it.
        response.headers["WWW-Authenticate"] = CHALLENGE
    return response


bp.register_error_handler(HeaterError, error_page)
