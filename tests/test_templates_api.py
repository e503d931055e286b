"""Creating template repositories over the REST API."""

from __future__ import annotations

import requests

from tests.conftest import Server


def _post(server: Server, body: object, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{server.url}/api/v1/templates", json=body, headers=headers,
                         timeout=10)


def test_create_returns_clone_url_and_refuses_duplicates(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    created = _post(server, {"namespace": ns, "name": "web"}, token)
    assert created.status_code == 201
    body = created.json()
    assert body["clone_url"] == f"{server.url}/{ns}/web.git"
    assert body["visibility"] == "public" and body["kind"] == "template"
    assert (server.layout.root / "git" / ns / "web.git" / "HEAD").is_file()
    again = _post(server, {"namespace": ns, "name": "web"}, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "repository_exists"


def test_create_needs_a_writer_of_the_namespace(server: Server, ns: str) -> None:
    anonymous = _post(server, {"namespace": ns, "name": "web"}, None)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    for token in (server.token("reader", ns), server.token("writer", "other")):
        refused = _post(server, {"namespace": ns, "name": "web"}, token)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    bad = _post(server, {"namespace": ns, "name": "web"}, "heater_0000000000000000_" + "x" * 43)
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_token"
    assert not (server.layout.root / "git" / ns).exists()


def test_bad_bodies_get_clear_errors(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    cases = [
        ({"namespace": ns, "name": "../etc"}, 400, "invalid_name"),
        ({"namespace": ns, "name": "x.git"}, 400, "invalid_name"),
        ({"namespace": ns, "name": "api"}, 400, "invalid_name"),
        ({"namespace": ns}, 400, "missing_field"),
        ({"namespace": ns, "name": 5}, 400, "missing_field"),
        ({"namespace": ns, "name": "ok", "visibility": "secret"}, 400, "invalid"),
        ({"namespace": ns, "name": "ok", "colour": "red"}, 400, "unknown_field"),
        (["not", "an", "object"], 400, "invalid_json"),
    ]
    for body, status, code in cases:
        response = _post(server, body, token)
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == code and error["message"]
    raw = requests.post(f"{server.url}/api/v1/templates", data=b"{not json", timeout=10,
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    form = requests.post(f"{server.url}/api/v1/templates", data={"namespace": ns}, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert form.status_code == 415
    huge = requests.post(f"{server.url}/api/v1/templates", timeout=10,
                         data=b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"]
    assert not (server.layout.root / "git" / ns).exists()


def test_unknown_routes_answer_json(server: Server) -> None:
    response = requests.get(f"{server.url}/api/v1/nothing-here", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
