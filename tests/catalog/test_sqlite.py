"""The SQLite index lost, damaged or replaced under a running server.

Listings must then answer a JSON 503 that says what to do, or the full and
right listing; never a 500, never a page from a copy of the file that other
workers no longer see. ``heater reindex`` (or a worker's restart) brings
back the identical listing.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from heater.catalog.index import Entry, IndexUnavailable, Query
from heater.catalog.sqlite import SqliteIndex
from tests.agreement import full_listing, reindex
from tests.conftest import HELLO_WORLD, Git, Server, start_server, stop_server
from tests.images_helpers import push as push_image
from tests.workers import kill_workers, serving, wait_until

SIDE_FILES = ("-wal", "-shm")


def _entry(name: str) -> Entry:
    return Entry(namespace="a", name=name, kind="template", private=False, deprecated=False,
                 created_at="2024-01-01T00:00:00+00:00",
                 updated_at="2024-01-01T00:00:00+00:00")


def _names(index: SqliteIndex) -> list[str]:
    return [e.name for e in index.query(Query(kind="template")).entries]


def test_a_deleted_file_is_never_read_through_an_open_connection(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    builder = SqliteIndex(path)
    builder.upsert(_entry("web"))
    server = SqliteIndex(path, create=False)
    assert _names(server) == ["web"]
    for suffix in ("", *SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(IndexUnavailable, match=r"missing.*heater reindex"):
        _names(server)
    with pytest.raises(IndexUnavailable):
        server.upsert(_entry("db"))
    assert not path.exists()  # a serving connection never creates the file
    assert builder.repair() == "missing"
    builder.upsert(_entry("db"))
    assert _names(server) == ["db"]  # the new file, not the old inode


def test_repair_keeps_a_healthy_file_and_discards_a_damaged_one(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    index = SqliteIndex(path)
    index.upsert(_entry("web"))
    assert index.repair() is None
    assert _names(index) == ["web"]
    path.write_bytes(b"not a database" * 1000)
    reader = SqliteIndex(path, create=False)
    with pytest.raises(IndexUnavailable, match="not a database"):
        _names(reader)
    assert index.repair() == "damaged"
    assert _names(index) == []


# -- end to end, two workers ---------------------------------------------------

def _checkpoint(path: Path) -> None:
    """Move the WAL into the main file, so that damage to it hits the data."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _delete(path: Path) -> None:
    path.unlink()


def _delete_with_side_files(path: Path) -> None:
    for suffix in ("", *SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _truncate(path: Path) -> None:
    os.truncate(path, 0)


def _garbage(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as out:
        out.write(os.urandom(size))


def _garbage_pages(path: Path) -> None:
    """Keep the header, ruin every page after the first two."""
    size = path.stat().st_size
    with path.open("r+b") as out:
        out.seek(8192)
        out.write(os.urandom(max(size - 8192, 4096)))


def _replace(path: Path) -> None:
    """Another (valid, empty) database renamed over it."""
    other = path.with_name("other.sqlite")
    sqlite3.connect(other).close()
    os.replace(other, path)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "deleted": _delete, "deleted-with-side-files": _delete_with_side_files,
    "truncated": _truncate, "garbage": _garbage, "garbage-pages": _garbage_pages,
    "replaced": _replace,
}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("lost-index")
    srv = start_server(root / "data", root / "server.log", workers=2)
    yield srv
    stop_server(srv)


def _populate(server: Server, git: Git, ns: str, work: Path) -> None:
    token = server.token("writer", ns)
    for name, tag in (("web", "v1.0.0"), ("db", None)):
        repo = git.worktree(work / name, {"template.yaml": HELLO_WORLD})
        if tag:
            git.run("tag", tag, cwd=repo)
        git.run("push", server.auth_url(f"{ns}/{name}.git", token), "main", "--tags", cwd=repo)
    created = requests.post(f"{server.url}/api/v1/templates", timeout=30,
                            json={"namespace": ns, "name": "hidden", "visibility": "private"},
                            headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    push_image(server, token, f"{ns}/img", b"image bytes", version="1.0.0")


def _answers(server: Server, token: str, ns: str, count: int = 24) -> list[requests.Response]:
    """``count`` listings at once, so that both workers and several of their
    threads (each with its own connection) answer."""
    params = {"namespace": ns, "limit": "500", "sort": "updated"}

    def one(_: int) -> requests.Response:
        return requests.get(f"{server.url}/api/v1/templates", timeout=60, params=params,
                            headers={"Authorization": f"Bearer {token}"})
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def _right_or_unavailable(responses: list[requests.Response],
                          expected: list[dict[str, Any]]) -> int:
    """Each answer is the expected listing or a clear 503; the number of 503s."""
    unavailable = 0
    for response in responses:
        if response.status_code == 503:
            error = response.json()["error"]
            assert error["code"] == "index_unavailable"
            assert "heater reindex" in error["message"]
            unavailable += 1
        else:
            assert response.status_code == 200, response.text
            assert response.json()["templates"] == expected
    return unavailable


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_lost_index_fails_clearly_then_reindex_restores_it(
        two_workers: Server, git: Git, ns: str, tmp_path: Path, damage: str) -> None:
    server = two_workers
    admin = server.token("admin")
    _populate(server, git, ns, tmp_path)
    before = full_listing(server, admin, ns)
    assert len(before["templates"]) == 3
    assert _right_or_unavailable(_answers(server, admin, ns), before["templates"]) == 0
    path = server.layout.index_db
    _checkpoint(path)

    DAMAGE[damage](path)
    # Nothing wrong is ever served; the file's loss is seen at once.
    unavailable = _right_or_unavailable(_answers(server, admin, ns), before["templates"])
    if damage.startswith(("deleted", "replaced")):
        assert unavailable == 24
    writes_land_then_reindex_restores(server, git, ns, tmp_path, before)


def writes_land_then_reindex_restores(server: Server, git: Git, ns: str, tmp_path: Path,
                                      before: dict[str, list[dict[str, Any]]]) -> None:
    """While the index is lost: a push lands and its template reads by name;
    then ``heater reindex`` gives back ``before`` plus that template."""
    admin = server.token("admin")
    token = server.token("writer", ns)
    late = git.worktree(tmp_path / "late", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/late.git", token), "main", cwd=late)
    detail = requests.get(f"{server.url}/api/v1/templates/{ns}/late", timeout=30)
    assert detail.status_code == 200, detail.text

    reindex(server)
    after = full_listing(server, admin, ns)
    assert [e for e in after["templates"] if e["name"] != "late"] == before["templates"]
    assert after["images"] == before["images"]
    assert "late" in [e["name"] for e in after["templates"]]
    assert _right_or_unavailable(_answers(server, admin, ns), after["templates"]) == 0
    assert "Traceback" not in server.log()


def test_a_restarted_worker_rebuilds_a_lost_index(two_workers: Server, git: Git, ns: str,
                                                  tmp_path: Path) -> None:
    server = two_workers
    admin = server.token("admin")
    _populate(server, git, ns, tmp_path)
    before = full_listing(server, admin, ns)
    _delete_with_side_files(server.layout.index_db)
    assert _right_or_unavailable(_answers(server, admin, ns, 8), before["templates"]) == 8
    kill_workers(server)
    assert wait_until(lambda: serving(server), 60)
    assert _right_or_unavailable(_answers(server, admin, ns), before["templates"]) == 0
    assert full_listing(server, admin, ns) == before


def test_a_file_of_an_older_schema_is_emptied_whatever_it_held(tmp_path: Path) -> None:
    """Files written by earlier versions (one had a ``keywords`` table) open,
    lose every old table and must be rebuilt."""
    path = tmp_path / "index.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        PRAGMA journal_mode = WAL;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('built', '1');
        CREATE TABLE entries (id INTEGER PRIMARY KEY, document TEXT);
        CREATE TABLE keywords (entry INTEGER, keyword TEXT);
        CREATE VIRTUAL TABLE search USING fts5(name, body);
        INSERT INTO search VALUES ('web', 'old');
        PRAGMA user_version = 2;
    """)
    old.close()
    index = SqliteIndex(path, create=False)
    assert not index.is_built()
    index.upsert(_entry("web"))
    assert _names(index) == ["web"]
    check = sqlite3.connect(path)
    try:
        tables = {row[0] for row in check.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        check.close()
    assert "keywords" not in tables and {"meta", "entries", "search"} <= tables
