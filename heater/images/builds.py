"""Builds waiting for their bytes: the record and the store's interface.

A build is created ``queued`` with its manifest; its bytes arrive later.
Only queued builds (and builds cancelled before any upload) are known here
alone: once the bytes are stored, the manifest committed to the image's
repository is the source of truth, and the stored status is a cache of it
that readers check against git.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from heater.errors import Conflict, NotFound
from heater.names import RepoId


class Status(enum.StrEnum):
    QUEUED = "queued"
    ACTIVE = "active"
    DELETED = "deleted"


class BuildNotFound(NotFound):
    code = "build_not_found"

    def __init__(self, build_id: str) -> None:
        super().__init__(f"build {build_id} does not exist")
        self.build_id = build_id


@dataclass(frozen=True)
class BuildRecord:
    id: str
    repo: RepoId
    manifest: dict[str, Any]
    status: Status
    created_at: str
    created_by: str


class BuildExists(Conflict):
    code = "build_exists"

    def __init__(self, build_id: str) -> None:
        super().__init__(f"build {build_id} is already recorded")
        self.build_id = build_id


class BuildStore(Protocol):
    """Where builds wait for their bytes (the default:
    :class:`heater.images.sqlite.SqliteBuildStore`). Every implementation
    passes ``tests/images/test_builds_contract.py`` and is safe to call from
    any thread and process at once; each call is atomic."""

    def add(self, record: BuildRecord) -> None:
        """Record a new build; :class:`BuildExists` if its id is recorded
        already (the stored record is untouched)."""
        ...

    def get(self, build_id: str) -> BuildRecord:
        """The record of ``build_id``, equal to the one added except for its
        status; :class:`BuildNotFound` if there is none."""
        ...

    def ensure_schema(self) -> None:
        """Create the store's tables unless they exist (idempotent, safe when
        two nodes start together): a node calls it at start-up so that no
        request pays for it."""
        ...

    def queued(self, repo: RepoId | None = None) -> list[BuildRecord]:
        """Every build whose status is queued (of ``repo`` only, when given),
        in no particular order."""
        ...

    def set_status(self, build_id: str, status: Status) -> None:
        """Change the status of ``build_id`` (any status to any other: git
        is the source of truth, this is its cache); :class:`BuildNotFound`
        if there is none."""
        ...
