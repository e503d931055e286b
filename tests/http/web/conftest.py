"""A populated application in process, shared by the web UI's page tests
(they only read it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from heater.auth.tokens import Role
from heater.names import RepoId
from tests.app_support import App
from tests.http.web.support import commit_files, populate
from tests.services.debian import ensure_packages

NS = "acme"
PRIVATE_NS = "hidden"


@dataclass
class Site:
    app: App
    admin: str
    reader: str  # reads the private namespace

    def get(self, path: str, token: str | None = None) -> Any:
        client = self.app.app.test_client()
        if token:
            client.set_cookie("heater_session", token)
        return client.get(path)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # The resource graph is drawn by Graphviz; the pages are tested with it.
    ensure_packages("graphviz", program="dot")
    app = App.start(tmp_path_factory.mktemp("web") / "data")
    admin = app.token(Role.ADMIN)

    def call(method: str, path: str, body: dict[str, Any] | bytes | None) -> tuple[int, Any]:
        if isinstance(body, bytes):
            answer = app.call(method, path, admin, data=body,
                              content_type="application/octet-stream")
        else:
            answer = app.call(method, path, admin, json=body)
        return answer.status_code, answer.get_json()

    def commit(repo: str, files: dict[str, str]) -> None:
        repo_id = RepoId.parse(repo)
        with app.registry.change(repo_id, None):
            commit_files(str(app.layout.repository(repo_id)), files, "Change " + repo)

    populate(call, NS, commit, PRIVATE_NS)
    yield Site(app, admin, app.token(Role.READER, PRIVATE_NS))
