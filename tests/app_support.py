"""The application in process (Flask's test client) over a data directory of
the test's own, with tokens and a template to read and write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from heater.auth.tokens import Role
from heater.http.app import create_app
from heater.paths import Layout
from heater.registry import Registry
from tests.conftest import HELLO_WORLD


@dataclass
class App:
    data_dir: Path
    app: Flask
    client: FlaskClient

    @classmethod
    def start(cls, data_dir: Path) -> App:
        """A new application over ``data_dir``: what a restarted worker does."""
        app = create_app({"DATA_DIR": str(data_dir)})
        return cls(data_dir, app, app.test_client())

    @property
    def registry(self) -> Registry:
        registry = self.app.extensions["heater"]
        assert isinstance(registry, Registry)
        return registry

    @property
    def layout(self) -> Layout:
        return Layout(self.data_dir)

    def token(self, role: Role, namespace: str | None = None) -> str:
        return self.registry.tokens.create(
            f"{role}-{uuid.uuid4().hex[:8]}", role, namespace)

    def call(self, method: str, path: str, token: str | None = None,
             **kwargs: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def template(self, token: str, repo: str, *versions: str) -> None:
        """Create template ``repo`` (``ns/name``) with one commit, tagged ``versions``."""
        namespace, name = repo.split("/")
        created = self.call("POST", "/api/v1/templates", token, json={
            "namespace": namespace, "name": name, "files": {"template.yaml": HELLO_WORLD}})
        assert created.status_code == 201, created.get_json()
        for version in versions:
            tagged = self.call("POST", f"/api/v1/templates/{repo}/versions", token,
                               json={"version": version, "ref": "main"})
            assert tagged.status_code == 201, tagged.get_json()

    def pending(self) -> list[str]:
        """The repositories named by the markers of unfinished changes."""
        root = self.layout.pending
        return sorted(p.read_text() for p in root.glob("*")) if root.is_dir() else []
