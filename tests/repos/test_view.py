"""A request reads its repository once: one open, one lifecycle-state read."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from heater.auth.tokens import Caller, Role
from heater.names import RepoId
from heater.registry import Registry
from heater.repos import lifecycle
from heater.repos.lifecycle import LifecycleState
from heater.repos.store import RepositoryStore
from heater.repos.versions import Version
from heater.repos.view import RepoView
from tests.app_support import App
from tests.images_helpers import UBUNTU_MANIFEST


@dataclass
class Reads:
    """Repository opens and lifecycle-state reads made by the request
    itself; what the index's listener reads after a write is not counted
    (it must re-read the repository to see the write)."""

    opens: int = 0
    states: int = 0
    listening: bool = False

    def reset(self) -> None:
        self.opens = self.states = 0


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    counted = Reads()
    open_repository = RepositoryStore.open
    read_state = lifecycle.read_state

    def counting_open(store: RepositoryStore, repo: RepoId) -> pygit2.Repository:
        counted.opens += not counted.listening
        return open_repository(store, repo)

    def counting_read_state(git: pygit2.Repository) -> LifecycleState:
        counted.states += not counted.listening
        return read_state(git)

    changed = Registry.changed

    def listened(registry: Registry, repo: RepoId, caller: Caller) -> None:
        counted.listening = True
        try:
            changed(registry, repo, caller)
        finally:
            counted.listening = False

    monkeypatch.setattr(RepositoryStore, "open", counting_open)
    # Every module that imported the one function that reads the state.
    for module in [m for name, m in sys.modules.items() if name.startswith("heater")]:
        if vars(module).get("read_state") is read_state:
            monkeypatch.setattr(module, "read_state", counting_read_state)
    monkeypatch.setattr(Registry, "changed", listened)
    return counted


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App.start(tmp_path / "data")


def test_a_raw_file_by_version_reads_once(app: App, reads: Reads) -> None:
    app.template(app.token(Role.WRITER, "acme"), "acme/web", "v1.0.0")
    reads.reset()
    answer = app.call("GET", "/acme/web/raw/v1.0.0/template.yaml")
    assert answer.status_code == 200
    assert (reads.opens, reads.states) == (1, 1)


def test_a_template_detail_reads_once(app: App, reads: Reads) -> None:
    app.template(app.token(Role.WRITER, "acme"), "acme/web", "v1.0.0")
    for ref in ("", "?ref=v1.0.0", "?ref=latest", "?ref=main"):
        reads.reset()
        answer = app.call("GET", f"/api/v1/templates/acme/web{ref}")
        assert answer.status_code == 200
        assert (reads.opens, reads.states) == (1, 1), ref


def test_releasing_a_version_reads_once(app: App, reads: Reads) -> None:
    token = app.token(Role.WRITER, "acme")
    app.template(token, "acme/web", "v1.0.0")
    reads.reset()
    answer = app.call("POST", "/api/v1/templates/acme/web/versions", token,
                      json={"version": "v1.1.0", "ref": "main", "message": "again"})
    assert answer.status_code == 201
    assert answer.get_json()["version"] == "1.1.0"
    assert (reads.opens, reads.states) == (1, 1)


def test_a_build_download_reads_once(app: App, reads: Reads) -> None:
    token = app.token(Role.WRITER, "acme")
    queued = app.call("POST", "/api/v1/images/acme/jammy/builds", token,
                      json={**UBUNTU_MANIFEST, "version": "1.0.0"})
    assert queued.status_code == 201
    build = queued.get_json()["build_id"]
    uploaded = app.call("PUT", f"/api/v1/builds/{build}/file", token, data=b"disk" * 1000,
                        content_type="application/octet-stream")
    assert uploaded.status_code == 200, uploaded.get_json()
    reads.reset()
    answer = app.call("GET", f"/api/v1/builds/{build}/file")
    assert answer.status_code == 200
    assert answer.data == b"disk" * 1000
    assert answer.headers["Cache-Control"] == "public, no-cache"
    assert (reads.opens, reads.states) == (1, 1)


def test_a_view_reads_each_fact_once(tmp_path: Path, reads: Reads) -> None:
    app = App.start(tmp_path / "data")
    app.template(app.token(Role.WRITER, "acme"), "acme/web", "v1.0.0", "v1.1.0")
    reads.reset()
    with RepoView.open(app.registry.repos, RepoId("acme", "web")) as view:
        asked: list[Callable[[], object]] = [
            lambda: view.info, lambda: view.state, lambda: view.versions,
            lambda: view.version(Version.parse("1.0.0")), lambda: view.resolve("latest"),
            lambda: view.resolve("v1.1.0"), lambda: view.resolve("main")]
        for ask in asked * 2:
            ask()
        assert view.resolve("latest").sha == view.versions[0].commit
    assert (reads.opens, reads.states) == (1, 1)
