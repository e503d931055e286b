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
        assert b"<code>cross_site_post</code>" in answer.data
        assert "Set-Cookie" not in answer.headers
        out = client.post("/ui/sign-out", headers=headers)
        assert out.status_code == 403 and b"<code>cross_site_post</code>" in out.data
        assert "Set-Cookie" not in out.headers


def test_raw_files_read_the_signed_in_session(site: Site) -> None:
    # The web UI links a private template's raw files and README pictures:
    # they load for the browser signed in, and for no one else.
    path = f"/{PRIVATE_NS}/secret/raw/main/docs/diagram.svg"
    signed_in = site.get(path, site.reader)
    assert signed_in.status_code == 200 and b"<svg" in signed_in.data
    assert "Cookie" in signed_in.headers["Vary"]
    assert signed_in.headers["Cache-Control"].startswith("private")
    anonymous = site.get(path)
    assert anonymous.status_code == 404
    assert anonymous.get_json()["error"]["code"] == "repository_not_found"
    # A request's own credentials win over the cookie.
    client = site.app.app.test_client()
    client.set_cookie("heater_session", site.reader)
    bad = client.get(path, headers={"Authorization": "Bearer hk_wrong"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "invalid_token"
    # A cookie whose token no longer authenticates reads as anonymous.
    assert site.get(path, "hk_not_a_real_token").status_code == 404
    page = text_of(site.get(f"/{PRIVATE_NS}/secret", site.reader))
    assert f'src="/{PRIVATE_NS}/secret/raw/' in page and "/docs/diagram.svg" in page


def test_private_pages_say_private_on_every_tab(site: Site) -> None:
    for path in ("", "/files/main", "/versions", "/history", "/compare",
                 "/compare?from=main&to=main"):
        page = text_of(site.get(f"/{PRIVATE_NS}/secret{path}", site.reader))
        assert '<span class="badge private">private</span>' in page, path


def text_of(response: object) -> str:
    data: bytes = response.data  # type: ignore[attr-defined]
    return data.decode()
