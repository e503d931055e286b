"""The build store contract (see heater.images.builds.BuildStore): every
backend runs every test here.

A new backend adds its factory to BACKENDS; nothing else here changes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from heater.images.builds import BuildExists, BuildNotFound, BuildRecord, BuildStore, Status
from heater.images.postgres import PostgresBuildStore
from heater.images.sqlite import SqliteBuildStore
from heater.names import RepoId
from tests.services.postgres import database_for

BACKENDS: dict[str, Callable[[Path], BuildStore]] = {
    "sqlite": lambda tmp: SqliteBuildStore(tmp / "builds.sqlite"),
    "postgresql": lambda tmp: PostgresBuildStore(database_for(tmp)),
}


@pytest.fixture(params=sorted(BACKENDS))
def builds(request: pytest.FixtureRequest, tmp_path: Path) -> BuildStore:
    return BACKENDS[request.param](tmp_path)


def record(status: Status = Status.QUEUED, **manifest: object) -> BuildRecord:
    return BuildRecord(str(uuid.uuid4()), RepoId("acme", "ubuntu"),
                       {"version": "1.0.0", "os": {"distro": "ubuntu"}, **manifest}, status,
                       "2024-05-01T12:00:00+00:00", "alice")


def test_added_record_reads_back_equal(builds: BuildStore) -> None:
    added = record(packages=[{"name": "openssl", "version": "3.0.2"}], note="ünïcode")
    builds.add(added)
    assert builds.get(added.id) == added


def test_missing_build(builds: BuildStore) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(BuildNotFound) as refused:
        builds.get(missing)
    assert refused.value.build_id == missing
    with pytest.raises(BuildNotFound):
        builds.set_status(missing, Status.ACTIVE)


def test_an_id_is_added_once(builds: BuildStore) -> None:
    first = record()
    builds.add(first)
    with pytest.raises(BuildExists):
        builds.add(BuildRecord(first.id, RepoId("other", "img"), {}, Status.ACTIVE,
                               first.created_at, "mallory"))
    assert builds.get(first.id) == first


def test_queued_lists_queued_builds_only(builds: BuildStore) -> None:
    waiting, done, cancelled = record(), record(Status.ACTIVE), record()
    for each in (waiting, done, cancelled):
        builds.add(each)
    builds.set_status(cancelled.id, Status.DELETED)
    assert builds.queued() == [waiting]
    builds.set_status(done.id, Status.QUEUED)  # any status to any other
    assert sorted(r.id for r in builds.queued()) == sorted([waiting.id, done.id])


def test_status_changes_and_nothing_else(builds: BuildStore) -> None:
    added = record()
    builds.add(added)
    builds.set_status(added.id, Status.ACTIVE)
    stored = builds.get(added.id)
    assert stored.status is Status.ACTIVE
    assert (stored.repo, stored.manifest, stored.created_at, stored.created_by) == (
        added.repo, added.manifest, added.created_at, added.created_by)


def test_safe_from_many_threads(builds: BuildStore) -> None:
    records = [record() for _ in range(8)]
    threads = [threading.Thread(target=builds.add, args=(r,)) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.id for r in builds.queued()) == sorted(r.id for r in records)


def test_ensure_schema_is_idempotent_and_keeps_records(builds: BuildStore) -> None:
    builds.ensure_schema()
    builds.ensure_schema()
    assert builds.queued() == []
    kept = record()
    builds.add(kept)
    builds.ensure_schema()
    assert builds.get(kept.id) == kept


def test_queued_of_one_repository(builds: BuildStore) -> None:
    ours = record()
    theirs = BuildRecord(str(uuid.uuid4()), RepoId("acme", "debian"), {}, Status.QUEUED,
                         ours.created_at, "bob")
    namesake = BuildRecord(str(uuid.uuid4()), RepoId("other", "ubuntu"), {}, Status.QUEUED,
                           ours.created_at, "bob")
    finished = record(status=Status.ACTIVE)
    for added in (ours, theirs, namesake, finished):
        builds.add(added)
    assert builds.queued(RepoId("acme", "ubuntu")) == [ours]
    assert builds.queued(RepoId("acme", "missing")) == []
    assert sorted(r.id for r in builds.queued()) == sorted([ours.id, theirs.id, namesake.id])
