"""``heater serve`` with ``index = "postgresql"``: the index, tokens and
builds in a real PostgreSQL database, end to end.

The listing agrees with git and with a rebuild (``heater reindex``); tokens
and builds live in the database (nothing of them in the data directory); a
lost or damaged index answers a clear 503 until a reindex or a restarted
worker rebuilds it; two nodes starting together on a new database create
its schema once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import LiteralString

import psycopg
import pytest
import requests

from tests.agreement import assert_index_agrees_with_git, full_listing
from tests.catalog.test_sqlite import (
    _answers,
    _populate,
    _right_or_unavailable,
    writes_land_then_reindex_restores,
)
from tests.conftest import HELLO_WORLD, Git, Server, start_server, stop_server
from tests.images_helpers import push as push_image
from tests.services.postgres import shared_server
from tests.workers import kill_workers, serving, wait_until


def _settings(dsn: str) -> dict[str, str]:
    return {"HEATER_INDEX": "postgresql", "HEATER_DSN": dsn}


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("pg-server")
    dsn = shared_server().create_database()
    srv = start_server(root / "data", root / "server.log", workers=2, env=_settings(dsn))
    yield srv
    stop_server(srv)


def _sql(server: Server, statement: LiteralString, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(server.env["HEATER_DSN"], autocommit=True) as conn:
        cursor = conn.execute(statement, args)
        return cursor.fetchall() if cursor.description else []


def test_listings_agree_with_git_and_with_a_reindex(pg_server: Server, git: Git, ns: str,
                                                    tmp_path: Path) -> None:
    _populate(pg_server, git, ns, tmp_path)
    listed = full_listing(pg_server, pg_server.token("admin"), ns)
    # Newest first; pushes within one second (the precision of updated_at)
    # come by name, descending, as the sort key says.
    assert sorted(e["name"] for e in listed["templates"]) == ["db", "hidden", "web"]
    keys = [(e["updated_at"], e["namespace"], e["name"]) for e in listed["templates"]]
    assert keys == sorted(keys, reverse=True)
    assert [e["name"] for e in listed["images"]] == ["img"]
    # Anonymous callers do not see the private one, in PostgreSQL too.
    public = requests.get(f"{pg_server.url}/api/v1/templates", timeout=30,
                          params={"namespace": ns, "q": "single"}).json()["templates"]
    assert [e["name"] for e in public] == ["db", "web"]
    assert_index_agrees_with_git(pg_server, git, ns, tmp_path)


def test_tokens_and_builds_live_in_the_database(pg_server: Server, git: Git, ns: str,
                                                tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "heater", "token", "create", f"cli-{ns}", "--role", "writer",
         "--namespace", ns, "--data-dir", str(pg_server.data_dir)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **pg_server.env})
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    work = git.worktree(tmp_path / "web", {"template.yaml": HELLO_WORLD})
    git.run("push", pg_server.auth_url(f"{ns}/web.git", secret), "main", cwd=work)
    build = push_image(pg_server, secret, f"{ns}/img", b"bytes", version="1.0.0")
    assert _sql(pg_server, "SELECT status FROM builds WHERE id = %s", build) == [("active",)]
    assert _sql(pg_server, "SELECT role, namespace FROM tokens WHERE name = %s",
                f"cli-{ns}") == [
        ("writer", ns)]
    leftovers = {"auth.sqlite", "builds.sqlite", "index.sqlite"} & {
        p.name for p in pg_server.data_dir.iterdir()}
    assert leftovers == set()
    _sql(pg_server, "DELETE FROM tokens WHERE name = %s", f"cli-{ns}")  # revoked elsewhere
    refused = requests.get(f"{pg_server.url}/api/v1/templates/{ns}/web", timeout=30,
                           headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"


DAMAGE: dict[str, LiteralString] = {
    "dropped": "DROP TABLE catalog_entries",
    "altered": "ALTER TABLE catalog_entries DROP COLUMN shown",
    "both dropped": "DROP TABLE catalog_entries, catalog_meta",
    "keyword listings dropped": "DROP TABLE catalog_keyword_listings",
    "not built": "DELETE FROM catalog_meta",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_lost_index_fails_clearly_then_reindex_restores_it(
        pg_server: Server, git: Git, ns: str, tmp_path: Path, damage: str) -> None:
    admin = pg_server.token("admin")
    _populate(pg_server, git, ns, tmp_path)
    before = full_listing(pg_server, admin, ns)
    _sql(pg_server, DAMAGE[damage])
    assert _right_or_unavailable(_answers(pg_server, admin, ns, 8), before["templates"]) == 8
    writes_land_then_reindex_restores(pg_server, git, ns, tmp_path, before)


def test_a_restarted_worker_rebuilds_a_lost_index(pg_server: Server, git: Git, ns: str,
                                                  tmp_path: Path) -> None:
    admin = pg_server.token("admin")
    _populate(pg_server, git, ns, tmp_path)
    before = full_listing(pg_server, admin, ns)
    _sql(pg_server, DAMAGE["dropped"])
    assert _right_or_unavailable(_answers(pg_server, admin, ns, 4), before["templates"]) == 4
    kill_workers(pg_server)
    assert wait_until(lambda: serving(pg_server), 60)
    assert _right_or_unavailable(_answers(pg_server, admin, ns), before["templates"]) == 0
    assert full_listing(pg_server, admin, ns) == before


@pytest.mark.e2e
def test_two_nodes_starting_together_create_the_schema_once(tmp_path: Path, git: Git,
                                                            ns: str) -> None:
    env = _settings(shared_server().create_database())
    data = tmp_path / "data"
    start: Callable[[str], Server] = lambda name: start_server(  # noqa: E731
        data, tmp_path / f"{name}.log", workers=2, env=env)
    with ThreadPoolExecutor(2) as pool:
        nodes = list(pool.map(start, ["a", "b"]))
    try:
        a, b = nodes
        token = a.token("writer", ns)  # made through node A's settings
        work = git.worktree(tmp_path / "web", {"template.yaml": HELLO_WORLD})
        git.run("push", a.auth_url(f"{ns}/web.git", token), "main", cwd=work)
        listed = requests.get(f"{b.url}/api/v1/templates", params={"namespace": ns},
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert listed.status_code == 200, listed.text
        assert [e["name"] for e in listed.json()["templates"]] == ["web"]
        applied = _sql(a, "SELECT component, version FROM heater_migrations "
                          "ORDER BY component, version")
        assert applied == [("builds", 1), ("catalog", 1), ("catalog", 2), ("catalog", 3),
                           ("tokens", 1)]
        for node in nodes:
            assert "Traceback" not in node.log()
    finally:
        for node in nodes:
            stop_server(node)
