"""Committing manifests: concurrent writers, atomic tags, finding builds."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pygit2
import pytest

from heater.images import repository
from heater.names import RepoId
from heater.paths import Layout
from heater.repos.store import Kind, RepositoryStore
from heater.repos.versions import VersionExists

AUTHOR = pygit2.Signature("ci", "ci@example.com")


@pytest.fixture
def repo_path(tmp_path: Path) -> Path:
    store = RepositoryStore(Layout(tmp_path))
    repo = RepoId("acme", "img")
    store.create(repo, Kind.IMAGE)
    return store.path(repo)


def manifest(image_id: str, **extra: object) -> dict[str, object]:
    return {"image_id": image_id, "status": "active", "packages": [], **extra}


def test_concurrent_commits_all_land(repo_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(8)]
    errors: list[BaseException] = []

    def commit(image_id: str) -> None:
        try:
            repository.commit_manifest(repo_path, manifest(image_id), f"Build {image_id}", AUTHOR)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=commit, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    git = pygit2.Repository(str(repo_path))
    for image_id in ids:
        found = repository.find_build(git, image_id)
        assert found is not None and found.build == found.latest


def test_a_taken_tag_publishes_nothing(repo_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = repository.commit_manifest(repo_path, manifest(str(uuid.uuid4())), "one", AUTHOR,
                                    version="1.0.0")
    # Skip the early check, as a concurrent writer between check and publish would.
    monkeypatch.setattr(repository, "check_version_free", lambda git, version: None)
    with pytest.raises(VersionExists):
        repository.commit_manifest(repo_path, manifest(str(uuid.uuid4())), "two", AUTHOR,
                                version="1.0.0")
    git = pygit2.Repository(str(repo_path))
    assert str(git.references["refs/heads/main"].target) == first


def test_tombstone_is_the_latest_and_the_build_the_oldest(repo_path: Path) -> None:
    image_id = str(uuid.uuid4())
    built = repository.commit_manifest(repo_path, manifest(image_id), "build", AUTHOR)
    repository.commit_manifest(repo_path, manifest(str(uuid.uuid4())), "other", AUTHOR)
    gone = repository.commit_manifest(repo_path, manifest(image_id, status="deleted"), "delete",
                                   AUTHOR)
    found = repository.find_build(pygit2.Repository(str(repo_path)), image_id)
    assert found is not None
    assert (found.build.sha, found.latest.sha) == (built, gone)
    assert found.latest.manifest["status"] == "deleted"
