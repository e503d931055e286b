"""The template service: every write goes through the registry's change (a
marker on disk until the index has heard of it), and every handler is one
call of the service."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from heater.auth.tokens import Caller, Role
from heater.catalog.indexer import Catalog
from heater.names import RepoId
from heater.repos.service import Repositories
from heater.templates.service import Templates
from tests.app_support import App
from tests.images_helpers import UBUNTU_MANIFEST

# (method, path, role, body) of each write, run in this order on acme/web,
# which has versions 1.0.0 and 1.1.0; each leaves the repository as the next needs.
WRITES: list[tuple[str, str, Role, dict[str, Any] | None]] = [
    ("POST", "/api/v1/templates/acme/web/versions", Role.WRITER,
     {"version": "v1.2.0", "ref": "main"}),
    ("POST", "/api/v1/templates/acme/web/versions/1.1.0/yank", Role.WRITER, {"reason": "bad"}),
    ("DELETE", "/api/v1/templates/acme/web/versions/1.1.0/yank", Role.WRITER, None),
    ("PUT", "/api/v1/templates/acme/web/deprecation", Role.WRITER, {"reason": "use other"}),
    ("DELETE", "/api/v1/templates/acme/web/deprecation", Role.WRITER, None),
    ("DELETE", "/api/v1/templates/acme/web", Role.ADMIN, {"reason": "gone"}),
    ("POST", "/api/v1/templates/acme/web/undelete", Role.ADMIN, None),
]


@pytest.fixture
def app(tmp_path: Path) -> App:
    app = App.start(tmp_path / "data")
    app.template(app.token(Role.WRITER, "acme"), "acme/web", "v1.0.0", "v1.1.0")
    return app


def test_every_write_leaves_a_marker_until_the_index_knows(app: App) -> None:
    seen: list[tuple[str, list[str]]] = []
    app.registry.on_change(lambda repo, _caller: seen.append((str(repo), app.pending())))
    tokens = {role: app.token(role, "acme") for role in (Role.WRITER, Role.ADMIN)}
    for method, path, role, body in WRITES:
        seen.clear()
        answer = app.call(method, path, tokens[role], json=body)
        created = method == "POST" and path.endswith("/versions")
        assert answer.status_code == (201 if created else 200), (path, answer.get_json())
        # The listeners ran while the marker was there, and it is gone after.
        assert seen == [("acme/web", ["acme/web"])], path
        assert app.pending() == []


def test_image_writes_leave_a_marker_until_the_index_knows(app: App) -> None:
    seen: list[tuple[str, list[str]]] = []
    app.registry.on_change(lambda repo, _caller: seen.append((str(repo), app.pending())))
    token = app.token(Role.WRITER, "acme")
    queued = app.call("POST", "/api/v1/images/acme/jammy/builds", token,
                      json={**UBUNTU_MANIFEST, "version": "1.0.0"})
    assert queued.status_code == 201
    build = queued.get_json()["build_id"]
    seen.clear()  # the image's creation by its first build was a change of its own
    for method, data in (("PUT", b"disk"), ("DELETE", None)):
        answer = app.call(method, f"/api/v1/builds/{build}/file" if data else
                          f"/api/v1/builds/{build}", token, data=data,
                          content_type="application/octet-stream" if data else None)
        assert answer.status_code == 200, answer.get_json()
        assert seen == [("acme/jammy", ["acme/jammy"])], method
        assert app.pending() == []
        seen.clear()


def latest(app: App) -> dict[str, Any]:
    """The catalog index's entry of acme/web."""
    entries = app.call("GET", "/api/v1/templates?namespace=acme").get_json()["templates"]
    assert [e["name"] for e in entries] == ["web"]
    entry: dict[str, Any] = entries[0]
    return {**entry, "deprecated_reason": (entry["deprecated"] or {}).get("reason")}


@pytest.mark.parametrize(("method", "path", "body", "field", "value"), [
    ("POST", "versions", {"version": "v2.0.0", "ref": "main"}, "latest_version", "2.0.0"),
    ("POST", "versions/1.1.0/yank", {"reason": "bad"}, "latest_version", "1.0.0"),
    ("PUT", "deprecation", {"reason": "use other"}, "deprecated_reason", "use other"),
])
def test_a_write_the_index_missed_is_replayed_on_restart(
        app: App, monkeypatch: pytest.MonkeyPatch, method: str, path: str,
        body: dict[str, Any], field: str, value: object) -> None:
    token = app.token(Role.WRITER, "acme")
    assert latest(app)[field] != value

    def dies(_catalog: Catalog, _repo: RepoId, _caller: Caller) -> None:
        raise RuntimeError("the worker died while telling the index")

    with monkeypatch.context() as patch:
        patch.setattr(Catalog, "on_change", dies)
        crashing = App.start(app.data_dir)
        answer = crashing.call(method, f"/api/v1/templates/acme/web/{path}", token, json=body)
    assert answer.status_code == 500
    assert app.pending() == ["acme/web"]
    assert latest(app)[field] != value  # the write happened; the index missed it

    restarted = App.start(app.data_dir)  # replays what the index missed
    assert app.pending() == []
    assert latest(restarted)[field] == value


SIGNED_URL = "<the signed URL>"

# The service methods a handler may call, and the requests that reach each
# handler of the template blueprints (acme/web, versions 1.0.0 and 1.1.0).
HANDLERS: dict[str, tuple[str, str, dict[str, Any] | None, str]] = {
    "templates_api.create_template": (
        "POST", "/api/v1/templates", {"namespace": "acme", "name": "new"}, "create"),
    "templates_api.show_template": ("GET", "/api/v1/templates/acme/web", None, "show"),
    "templates_api.list_template_versions": (
        "GET", "/api/v1/templates/acme/web/versions", None, "versions"),
    "templates_api.show_template_version": (
        "GET", "/api/v1/templates/acme/web/versions/1.0.0", None, "version"),
    "templates_api.create_template_version": (
        "POST", "/api/v1/templates/acme/web/versions", {"version": "1.2.0", "ref": "main"},
        "tag"),
    "templates_api.list_template_commits": (
        "GET", "/api/v1/templates/acme/web/commits", None, "commits"),
    "diff_api.template_diff": (
        "GET", "/api/v1/templates/acme/web/diff?from=1.0.0&to=main", None, "diff"),
    "templates_api.template_bundle": (
        "GET", "/api/v1/templates/acme/web/bundle?ref=v1.0.0", None, "bundle"),
    "raw.raw_file": ("GET", "/acme/web/raw/v1.0.0/template.yaml", None, "raw_file"),
    "templates_api.sign_raw_url": (
        "POST", "/api/v1/templates/acme/web/raw-url", {"ref": "1.0.0"}, "sign_raw_url"),
    # The path of the URL the entry above answered.
    "raw.signed_raw_file": ("GET", SIGNED_URL, None, "signed_raw_file"),
    "lifecycle_api.state": ("GET", "/api/v1/templates/acme/web/lifecycle", None, "lifecycle"),
    "lifecycle_api.yank": (
        "POST", "/api/v1/templates/acme/web/versions/1.0.0/yank", {"reason": "x"}, "yank"),
    "lifecycle_api.unyank": (
        "DELETE", "/api/v1/templates/acme/web/versions/1.0.0/yank", None, "unyank"),
    "lifecycle_api.deprecate": (
        "PUT", "/api/v1/templates/acme/web/deprecation", {"reason": "old"}, "deprecate"),
    "lifecycle_api.undeprecate": (
        "DELETE", "/api/v1/templates/acme/web/deprecation", None, "undeprecate"),
    "lifecycle_api.delete": (
        "DELETE", "/api/v1/templates/acme/web", {"reason": "gone"}, "delete"),
    "lifecycle_api.undelete": ("POST", "/api/v1/templates/acme/web/undelete", None, "undelete"),
    "templates_api.update_template": (
        "PATCH", "/api/v1/templates/acme/web", {"visibility": "private"}, "update"),
}


def test_each_handler_is_one_call_of_the_service(app: App,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    depth = [0]

    def recorded(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            # Only what the handler calls: a service may use another.
            if depth[0] == 0:
                called.append(name)
            depth[0] += 1
            try:
                return method(*args, **kwargs)
            finally:
                depth[0] -= 1
        return call

    # The lifecycle's handlers call the service every kind shares.
    for service in (Templates, Repositories):
        for name, method in inspect.getmembers(service, inspect.isfunction):
            if not name.startswith("_") and name not in ("visible", "writable"):
                monkeypatch.setattr(service, name, recorded(name, method))
    endpoints = {rule.endpoint for rule in app.app.url_map.iter_rules()
                 if rule.endpoint.split(".")[0] in ("templates_api", "lifecycle_api",
                                                    "diff_api", "raw")}
    # The listing reads the catalog index, not a repository.
    assert endpoints - {"templates_api.list_templates"} == set(HANDLERS)
    admin = app.token(Role.ADMIN, "acme")
    signed = ""
    for endpoint, (verb, path, body, service_method) in HANDLERS.items():
        called.clear()
        answer = app.call(verb, signed if path == SIGNED_URL else path, admin, json=body)
        if service_method == "sign_raw_url":
            signed = "/" + answer.get_json()["url"].split("/", 3)[3]
        created = verb == "POST" and path.endswith(("/versions", "/templates"))
        assert answer.status_code == (201 if created else 200), (endpoint, answer.get_json())
        assert called == [service_method], endpoint


def test_handlers_check_credentials_before_the_body(app: App) -> None:
    """The service reads a write's body only once the caller is let in."""
    for path in ("/api/v1/templates", "/api/v1/templates/acme/web/versions",
                 "/api/v1/templates/acme/web/versions/1.0.0/yank"):
        answer = app.call("POST", path, data="{not json", content_type="application/json")
        assert answer.status_code == 401, path
        assert answer.get_json()["error"]["code"] == "unauthenticated"
    reader = app.token(Role.READER, "acme")
    answer = app.call("PUT", "/api/v1/templates/acme/web/deprecation", reader,
                      data="{not json", content_type="application/json")
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "forbidden"
