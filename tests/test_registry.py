"""Refusals that must not tell a private repository from a missing one by the
work they do (and so by their time): both open one repository and read its
info before answering."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest

from heater.config import Config
from heater.images.builds import BuildNotFound, BuildRecord, Status
from heater.images.service import Images
from heater.names import RepoId
from heater.registry import Registry
from heater.repos import view as view_module
from heater.repos.lifecycle import read_state
from heater.repos.store import Kind, RepositoryNotFound, Visibility, read_info
from heater.wiring import build_registry

SECRET = RepoId("acme", "secret")
ABSENT = RepoId("acme", "absent")


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    made = build_registry(Config(tmp_path))
    made.repos.create(SECRET, Kind.TEMPLATE, Visibility.PRIVATE)
    with contextlib.suppress(RepositoryNotFound):  # a first look-up may set things up
        made.readable(None, ABSENT)
    return made


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of repositories opened, and of their infos and lifecycle
    states read, from then on."""
    counts = {"opened": 0, "info_read": 0, "state_read": 0}

    class CountingRepository(pygit2.Repository):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            counts["opened"] += 1
            super().__init__(*args, **kwargs)

    def counting(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            counts[name] += 1
            return read(*args)
        return wrapper

    monkeypatch.setattr(pygit2, "Repository", CountingRepository)
    monkeypatch.setattr(view_module, "read_info", counting("info_read", read_info))
    monkeypatch.setattr(view_module, "read_state", counting("state_read", read_state))
    return counts


def _refusal_work(work: dict[str, int], refuse: Callable[[], object],
                  refused: type[Exception]) -> dict[str, int]:
    before = dict(work)
    with pytest.raises(refused):
        refuse()
    return {key: work[key] - before[key] for key in work}


@pytest.mark.parametrize("operation", ["readable", "open_readable"])
def test_private_and_missing_repository_are_refused_after_the_same_work(
        registry: Registry, work: dict[str, int], operation: str) -> None:
    check = getattr(registry, operation)
    private = _refusal_work(work, lambda: check(None, SECRET), RepositoryNotFound)
    missing = _refusal_work(work, lambda: check(None, ABSENT), RepositoryNotFound)
    assert private == missing == {"opened": 1, "info_read": 1, "state_read": 1}


def test_private_and_missing_build_are_refused_after_the_same_work(
        registry: Registry, work: dict[str, int]) -> None:
    image = RepoId("acme", "hidden")
    registry.repos.create(image, Kind.IMAGE, Visibility.PRIVATE)
    build = BuildRecord(str(uuid.uuid4()), image, {}, Status.QUEUED,
                        "2026-01-01T00:00:00+00:00", "ci")
    registry.builds.add(build)
    images = Images(registry)
    private = _refusal_work(work, lambda: images.get(None, build.id), BuildNotFound)
    missing = _refusal_work(work, lambda: images.get(None, str(uuid.uuid4())), BuildNotFound)
    assert private == missing == {"opened": 1, "info_read": 1, "state_read": 1}
