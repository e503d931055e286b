"""Signing in and out of the web UI.

Signing in checks a token as the API does and keeps it in a cookie that
scripts cannot read (``HttpOnly``), that no other site's page sends
(``SameSite=Strict``), sent over HTTPS only when the page came over
HTTPS (``Secure``), and that ends with the browser session. The server
keeps no session state: any worker, on any node, reads the cookie alike,
and revoking the token signs the browser out.

The forms change what the browser is signed in as, so a post must come
from a page of this site: a browser says where a form was posted from
(``Origin``, ``Sec-Fetch-Site``), and a post from elsewhere is refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, redirect, request

from heater.auth.identity import Credentials, Scheme
from heater.errors import Forbidden, Unauthenticated
from heater.http.context import registry
from heater.http.web.base import COOKIE, bp, page


class CrossSitePost(Forbidden):
    code = "cross_site_post"

    def __init__(self) -> None:
        super().__init__("this form must be posted from a page of this site")


def _same_origin() -> None:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise CrossSitePost()
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        raise CrossSitePost()


def _local(target: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or urlsplit(target).netloc:
        return "/"
    return target


@bp.get("/ui/sign-in")
def sign_in_form() -> Response:
    return page("sign_in.html", title="Sign in", next=_local(request.args.get("next")),
                problem=None)


@bp.post("/ui/sign-in")
def sign_in() -> Response:
    _same_origin()
    secret = request.form.get("token", "").strip()
    target = _local(request.form.get("next"))
    try:
        who = registry().authenticate(Credentials(Scheme.BEARER, secret)) if secret else None
    except Unauthenticated:
        who = None
    if who is None:
        # Not 401: that would need a challenge, and browsers would answer
        # it with a password dialog of their own.
        return page("sign_in.html", 400, title="Sign in", next=target,
                    problem="That token is not valid: check it, or ask for a new one.")
    response = redirect(target, 303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="Strict",
                        secure=request.scheme == "https", path="/")
    return response  # type: ignore[return-value]


@bp.post("/ui/sign-out")
def sign_out() -> Response:
    _same_origin()
    response = redirect("/", 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
    return response  # type: ignore[return-value]
