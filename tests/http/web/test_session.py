"""Signing in and out of the web UI: the cookie's flags, bad tokens, and
forms posted from other sites."""

from __future__ import annotations

from tests.http.web.conftest import PRIVATE_NS, Site


def test_sign_in_sets_a_strict_http_only_session_cookie(site: Site) -> None:
    client = site.app.app.test_client()
    answer = client.post("/ui/sign-in", data={"token": site.reader, "next": "/hidden/secret"},
                         headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/hidden/secret"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"heater_session={site.reader};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # ends with the session
    page = client.get(f"/{PRIVATE_NS}/secret")
    assert page.status_code == 200 and b"Sign out" in page.data
    out = client.post("/ui/sign-out", headers={"Origin": "http://localhost"})
    assert out.status_code == 303 and "heater_session=;" in out.headers["Set-Cookie"]
    assert client.get(f"/{PRIVATE_NS}/secret").status_code == 404


def test_a_bad_token_is_refused_with_the_form_again(site: Site) -> None:
    client = site.app.app.test_client()
    answer = client.post("/ui/sign-in", data={"token": "hk_wrong"})
    assert answer.status_code == 400
    assert b"not valid" in answer.data and "Set-Cookie" not in answer.headers


def test_next_never_leaves_the_site(site: Site) -> None:
    client = site.app.app.test_client()
    for target in ("//evil.example.com/", "https://evil.example.com/", "/\\evil"):
        answer = client.post("/ui/sign-in", data={"token": site.reader, "next": target})
        assert answer.headers["Location"] == "/", target


def test_a_form_posted_from_another_site_is_refused(site: Site) -> None:
    client = site.app.app.test_client()
    for headers in ({"Origin": "https://evil.example.com"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = client.post("/ui/sign-in", data={"token": site.reader}, headers=headers)
        assert answer.status_code == 403, headers
        assert "Set-Cookie" not in answer.headers
        assert client.post("/ui/sign-out", headers=headers).status_code == 403
