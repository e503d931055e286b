"""A repository as one request sees it: opened once, each fact read once.

A request asks the same things of a repository several times (its info
for the access check and the cache headers, its lifecycle state for the
tombstone and the yanks, its versions for ``latest`` and the yank flags).
A :class:`RepoView` opens the repository once and reads each of those on
first use, then keeps it for the rest of the request. It is not a cache
across requests: what it keeps is as old as the request.
"""

from __future__ import annotations

from types import TracebackType

import pygit2

from heater.names import RepoId
from heater.repos.lifecycle import LifecycleState, read_state
from heater.repos.resolve import Resolved, resolve
from heater.repos.store import RepoInfo, RepositoryStore, read_info
from heater.repos.versions import (
    TaggedVersion,
    Version,
    find_version,
    list_versions,
    lookup_version,
)


class RepoView:
    """One open repository and what has been read of it; close it (or use
    it as a context manager) to free the repository."""

    def __init__(self, repo: RepoId, git: pygit2.Repository) -> None:
        self.repo = repo
        self.git = git
        self._info: RepoInfo | None = None
        self._state: LifecycleState | None = None
        self._versions: list[TaggedVersion] | None = None

    @classmethod
    def open(cls, store: RepositoryStore, repo: RepoId) -> RepoView:
        """The view of ``repo``; :class:`RepositoryNotFound` if there is none."""
        return cls(repo, store.open(repo))

    def close(self) -> None:
        self.git.free()

    def __enter__(self) -> RepoView:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def info(self) -> RepoInfo:
        if self._info is None:
            self._info = read_info(self.repo, self.git)
        return self._info

    @property
    def state(self) -> LifecycleState:
        """The lifecycle state (yanks, deprecation, tombstone)."""
        if self._state is None:
            self._state = read_state(self.git)
        return self._state

    @property
    def versions(self) -> list[TaggedVersion]:
        """Every version, newest first, with its yank state."""
        if self._versions is None:
            self._versions = list_versions(self.git, self.state.yanked)
        return self._versions

    def version(self, version: Version) -> TaggedVersion | None:
        """One version, without listing them all unless they are listed already."""
        if self._versions is not None:
            return find_version(self._versions, version)
        return lookup_version(self.git, version, self.state.yanked)

    def resolve(self, ref: str) -> Resolved:
        """What ``ref`` names (see :func:`heater.repos.resolve.resolve`)."""
        return resolve(self.git, ref, self._versions, self.state.yanked)

    def forget(self) -> None:
        """Drop what was read of the state and versions: the request has
        just changed them."""
        self._state = None
        self._versions = None
