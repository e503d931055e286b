"""Helpers for catalog, versions and raw-file tests: publish a template
repository through the real server, read the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pygit2
import requests

from heater import clock
from heater.repos.lifecycle import LIFECYCLE_REF, STATE_FILE
from tests.conftest import Git, Server


def push(server: Server, git: Git, work: Path, repo: str, token: str,
         files: Mapping[str, str | bytes], message: str = "change",
         tags: tuple[str, ...] = ()) -> str:
    """Commit ``files`` in ``work`` (created if new), push main and ``tags``; the commit."""
    if not (work / ".git").is_dir():
        git.worktree(work, files, message)
    else:
        git.commit(work, files, message)
    for tag in tags:
        git.run("tag", "-a", tag, "-m", f"release {tag}", cwd=work)
    git.run("push", server.auth_url(f"{repo}.git", token), "main", *tags, cwd=work)
    return git.run("rev-parse", "HEAD", cwd=work).stdout.strip()


def api(server: Server, method: str, path: str, token: str | None = None,
        **kwargs: Any) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{server.url}{path}", headers=headers, timeout=30,
                            **kwargs)


def listing(server: Server, token: str | None = None, collection: str = "templates",
            **params: Any) -> list[dict[str, Any]]:
    """Every entry the listing of ``collection`` (``templates``, ``images``)
    gives, following ``next`` to the end."""
    response = api(server, "GET", f"/api/v1/{collection}", token, params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()[collection]
    while response.json()["next"]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = requests.get(response.json()["next"], headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        entries += response.json()[collection]
    return entries


def reindex(server: Server) -> None:
    """Run ``heater reindex`` on the server's data directory, as an operator would."""
    subprocess.run([sys.executable, "-m", "heater", "reindex", "--data-dir",
                    str(server.data_dir)], check=True, capture_output=True, timeout=120,
                   env={**os.environ, **server.env})


def record_lifecycle(path: Path, state: dict[str, Any]) -> None:
    """Write a lifecycle state the way heater.repos.lifecycle stores it (the
    lifecycle API itself belongs to another feature)."""
    git = pygit2.Repository(str(path))
    blob = git.create_blob(json.dumps(state).encode())
    builder = git.TreeBuilder()
    builder.insert(STATE_FILE, blob, pygit2.GIT_FILEMODE_BLOB)
    signature = pygit2.Signature("admin", "admin@example.com")
    parents = [git.references[LIFECYCLE_REF].target] if LIFECYCLE_REF in git.references else []
    git.create_commit(LIFECYCLE_REF, signature, signature, "lifecycle", builder.write(), parents)


def now() -> str:
    """The time now, as Heater writes times (RFC 3339, UTC, ``Z``)."""
    return clock.now()
