"""Keeping the catalog index in step with the repositories.

:class:`Catalog` turns a repository into an :class:`~heater.catalog.index.Entry`
and stores it. The fields every kind shares (visibility, deprecation,
times, latest version) are read here; the kind-specific ones come from that
kind's *extractor* (``(git, commit) -> KindDocument``), looked up in the
table given to the catalog (templates only by default; the application
passes :data:`heater.catalog.EXTRACTORS`, which adds images).

Everything is derived from git alone, so :meth:`Catalog.rebuild` gives the
same listing as the updates made after each change.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pygit2

from heater.auth.tokens import Caller
from heater.catalog.index import CatalogIndex, Entry, IndexUnavailable, Page, Query
from heater.catalog.templates import read_metadata
from heater.clock import to_utc, utc_iso
from heater.git.objects import head_commit, peel_commit
from heater.names import RepoId
from heater.repos.lifecycle import deprecation, read_state
from heater.repos.store import (
    Kind,
    RepoInfo,
    RepositoryNotFound,
    RepositoryStore,
    read_info,
)
from heater.repos.versions import TaggedVersion, latest, list_versions

log = logging.getLogger(__name__)

# A change racing with another is re-read at most this often (see refresh()).
MAX_REFRESH_ATTEMPTS = 5


@dataclass(frozen=True)
class KindDocument:
    """What a kind's extractor contributes to an entry (see :class:`Entry`)."""

    description: str = ""
    keywords: tuple[str, ...] = ()
    search_text: tuple[str, ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)


# An extractor reads one commit (the one the catalog shows: see
# shown_commit()); None for a repository without commits.
Extractor = Callable[[pygit2.Repository, pygit2.Commit | None], KindDocument]


def template_document(_git: pygit2.Repository, commit: pygit2.Commit | None) -> KindDocument:
    meta = read_metadata(commit.tree if commit is not None else None, checks=False)
    return KindDocument(
        description=meta.description,
        keywords=tuple(meta.keywords),
        search_text=tuple(meta.search_text()),
        summary={"heat_template_version": meta.heat_template_version, "icon": meta.icon},
    )


TEMPLATES_ONLY: Mapping[Kind, Extractor] = {Kind.TEMPLATE: template_document}


def shown_commit(git: pygit2.Repository,
                 versions: list[TaggedVersion]) -> pygit2.Commit | None:
    """The commit the catalog describes: ``latest``, else the default
    branch's head, else None (no commits yet)."""
    best = latest(versions)
    if best is not None:
        commit = git.get(best.commit)
        if isinstance(commit, pygit2.Commit):
            return commit
    return head_commit(git)


def updated_at(git: pygit2.Repository, versions: list[TaggedVersion], created: str) -> str:
    """The latest of: the creation time, and the committer and tagger times
    of branch heads and versions as recorded in git (a commit pushed to a
    new repository is older than the repository)."""
    times = [created, *(to_utc(v.created_at) for v in versions if v.created_at)]
    for name in git.branches.local:
        commit = peel_commit(git, git.branches.local[name].target)
        if commit is None:
            continue
        times.append(utc_iso(commit.committer.time))
    return max((t for t in times if t), default=created)


def file_stamp(path: Path) -> bytes:
    """A digest of the identity (inode, time, size) of each file that holds
    what a repository's entry is read from besides its objects, which never
    change: its config, ``HEAD``, ``packed-refs`` and every loose ref. git
    and libgit2 replace such a file by renaming a new one into place, so any
    change gives another stamp (and a ``git pack-refs`` a harmless one).
    What a refresh and a rebuild compare before and after their writes: a
    fifth of the cost of opening the repository again and reading its refs
    and config."""
    found: list[tuple[str, int, int, int]] = []
    for name in ("config", "HEAD", "packed-refs"):
        try:
            st = os.stat(path / name)
        except OSError:
            continue
        found.append((name, st.st_ino, st.st_mtime_ns, st.st_size))
    pending = [str(path / "refs")]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:  # no such directory (any more)
            continue
        with listing:
            for item in listing:
                if item.is_dir(follow_symlinks=False):
                    pending.append(item.path)
                    continue
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:  # removed since listed
                    continue
                found.append((item.path, st.st_ino, st.st_mtime_ns, st.st_size))
    found.sort()
    return hashlib.blake2b(repr(found).encode(), digest_size=16).digest()


# Repositories read per task when a rebuild reads in several processes.
REBUILD_CHUNK = 64
# Below this many repositories a rebuild reads in this process only.
PARALLEL_REBUILD_FROM = 200
# Chunks each reader process may read ahead of the writer: what waits in
# memory is at most this many chunks of entries per process.
READ_AHEAD = 4


class Catalog:
    """The index plus the rules that fill it from the repositories."""

    def __init__(self, repos: RepositoryStore, index: CatalogIndex,
                 extractors: Mapping[Kind, Extractor] | None = None) -> None:
        self.repos = repos
        self.index = index
        self.extractors = TEMPLATES_ONLY if extractors is None else extractors

    def read(self, repo: RepoId) -> tuple[Entry | None, bytes]:
        """The entry ``repo`` should have now (None: it must not be listed:
        missing, deleted or of a kind without extractor) and the
        :func:`file_stamp` of the repository taken before it was read."""
        # Taken first: a change made while the entry is read shows as a
        # different stamp afterwards.
        seen = file_stamp(self.repos.path(repo))
        try:
            git = self.repos.open(repo)
        except RepositoryNotFound:
            return None, seen
        try:
            return self._entry(git, read_info(repo, git)), seen
        finally:
            git.free()

    def _entry(self, git: pygit2.Repository, info: RepoInfo) -> Entry | None:
        extractor = self.extractors.get(info.kind)
        state = read_state(git)
        if extractor is None or state.deleted is not None:
            return None
        versions = list_versions(git, state.yanked)
        document = extractor(git, shown_commit(git, versions))
        best = latest(versions)
        created = to_utc(info.created_at) if info.created_at else ""
        updated = updated_at(git, versions, created)
        return Entry(
            namespace=info.repo.namespace, name=info.repo.name, kind=info.kind.value,
            private=info.private, deprecated=state.deprecated is not None,
            deprecation=deprecation(state.deprecated, lambda _name: True),
            created_at=created or updated, updated_at=updated,
            latest_version=str(best.version) if best else None,
            description=document.description, keywords=document.keywords,
            search_text=document.search_text, summary=document.summary,
        )

    def _store(self, repo: RepoId, entry: Entry | None) -> None:
        if entry is None:
            self.index.remove(repo.namespace, repo.name)
        else:
            self.index.upsert(entry)

    def refresh(self, repo: RepoId) -> None:
        """Bring ``repo``'s entry up to date.

        Another worker may change the repository while this one reads it
        and write its own entry first; so after writing, the repository is
        checked again and re-read if it moved. Whoever writes last has
        read the latest state.
        """
        for _ in range(MAX_REFRESH_ATTEMPTS):
            entry, seen = self.read(repo)
            self._store(repo, entry)
            if file_stamp(self.repos.path(repo)) == seen:
                return
        log.warning("catalog entry of %s kept changing; it is refreshed on the next change",
                    repo)

    def on_change(self, repo: RepoId, _caller: Caller) -> None:
        """A :data:`heater.registry.ChangeListener`: a change the index misses
        is logged, not raised, because the write it follows already happened
        and ``heater reindex`` repairs the index."""
        try:
            self.refresh(repo)
        except IndexUnavailable as exc:  # expected while it is lost: no traceback
            log.warning("catalog entry of %s not updated: %s", repo, exc.message)
        except Exception:
            log.exception("could not update the catalog entry of %s", repo)

    def rebuild(self, processes: int | None = None,
                progress: RebuildProgress | None = None) -> int:
        """Make the index describe exactly the repositories on disk; the
        number of repositories read. A missing or damaged index is
        discarded and built anew.

        Repositories are read in ``processes`` processes (default: one per
        core) and written in batches; any that changed meanwhile are then
        refreshed one by one, as after a push. ``progress`` hears the
        number of repositories first, then once per repository read.
        """
        with self.index.exclusive():
            return self._rebuild(processes, progress)

    def _rebuild(self, processes: int | None, progress: RebuildProgress | None) -> int:
        problem = self.index.repair()
        if problem == "missing":
            log.info("no catalog index yet: building it from the repositories")
        elif problem is not None:
            log.warning("catalog index was %s: discarded, rebuilding it from the repositories",
                        problem)
        # In name order, the order of the listing (and of the SQLite index's
        # ids): each new entry then goes after the last one, and a rebuild
        # from scratch never has to renumber the entries written before it.
        # Candidates: a directory that is not (or no longer) a repository
        # reads as gone in the readers, which open each one anyway.
        repos = sorted(self.repos.candidates(), key=lambda repo: (repo.name, repo.namespace))
        workers = processes or os.cpu_count() or 1
        if progress is not None:
            progress.start(len(repos))
        # Only a 16-byte stamp of each repository is kept, and the entries stream
        # from the readers to the index: memory stays bounded whatever the
        # number of repositories.
        seen: list[bytes] = []
        gone: list[RepoId] = []

        def entries(read: Iterable[tuple[Entry | None, bytes]]) -> Iterator[Entry]:
            for repo, (entry, stamp) in zip(repos, read, strict=True):
                seen.append(stamp)
                if entry is None:
                    gone.append(repo)
                else:
                    yield entry

        with _reader_pool(self, workers if len(repos) >= PARALLEL_REBUILD_FROM else 1) as run:
            self.index.upsert_many(
                entries(run(_read_entry, repos, progress.read if progress is not None else None)))
            for repo in gone:
                self.index.remove(repo.namespace, repo.name)
            # After every write: a repository that changed since it was read
            # may have had its fresher entry overwritten by the one read here.
            moved = [repo for repo, changed in zip(
                repos, run(_moved, list(zip(repos, seen, strict=True)), None), strict=True)
                if changed]
        for repo in moved:
            self.refresh(repo)
        present = {(repo.namespace, repo.name) for repo in repos}
        for namespace, name in self.index.keys() - present:
            self.index.remove(namespace, name)
        self.index.set_built()
        return len(repos)

    def _built(self) -> bool:
        try:
            return self.index.is_built()
        except IndexUnavailable:
            return False

    def ensure_built(self) -> bool:
        """Rebuild if the index is missing, damaged or never completed a
        rebuild; True if it did. Several processes starting at once rebuild
        it once."""
        if self._built():
            return False
        with self.index.exclusive():
            if self._built():  # another process rebuilt it while this one waited
                return False
            count = self._rebuild(None, None)
        log.info("catalog index rebuilt: %d repositories", count)
        return True

    def query(self, query: Query) -> Page:
        """The listing page ``query`` asks for; :class:`IndexUnavailable`
        while the index is missing, damaged or not yet rebuilt, rather than
        an incomplete page."""
        return self.index.query_built(query)


# The catalog a rebuild's reader processes work for: inherited through
# fork(), so that nothing (open connections, locks) has to be pickled.
_REBUILDING: Catalog | None = None
T = TypeVar("T")


def _read_entry(repo: RepoId) -> tuple[Entry | None, bytes]:
    assert _REBUILDING is not None
    return _REBUILDING.read(repo)


def _moved(item: tuple[RepoId, bytes]) -> bool:
    """Whether the repository's files are no longer those it was read from."""
    assert _REBUILDING is not None
    repo, seen = item
    return file_stamp(_REBUILDING.repos.path(repo)) != seen


Runner = Callable[[Callable[[Any], T], list[Any], Callable[[], None] | None], Iterator[T]]


class RebuildProgress(Protocol):
    """Hears how far a rebuild is (``heater reindex`` draws it)."""

    def start(self, total: int) -> None: ...

    def read(self) -> None: ...


def _counted(results: Iterable[T], each: Callable[[], None] | None) -> Iterator[T]:
    """``results``, calling ``each`` after each one."""
    for result in results:
        yield result
        if each is not None:
            each()


def _map_chunk(function: Callable[[Any], T], items: list[Any]) -> list[T]:
    return [function(item) for item in items]


def _in_order(pool: Any, processes: int, function: Callable[[Any], T],
              items: list[Any]) -> Iterator[T]:
    """``function`` of each item, read in ``pool``, in order; at most
    :data:`READ_AHEAD` chunks per process are read ahead of the consumer
    (``Pool.imap`` would keep reading and queue every result)."""
    pending: deque[Any] = deque()
    for start in range(0, len(items), REBUILD_CHUNK):
        pending.append(pool.apply_async(_map_chunk,
                                        (function, items[start:start + REBUILD_CHUNK])))
        if len(pending) >= processes * READ_AHEAD:
            yield from pending.popleft().get()
    while pending:
        yield from pending.popleft().get()


@contextmanager
def _reader_pool(catalog: Catalog, processes: int) -> Iterator[Runner[Any]]:
    """Run a read over many repositories in ``processes`` forked processes
    (here, when only one), results in order, as they come."""
    global _REBUILDING
    _REBUILDING = catalog
    try:
        if processes <= 1:
            yield lambda function, items, each: _counted(map(function, items), each)
            return
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            yield lambda function, items, each: _counted(
                _in_order(pool, processes, function, items), each)
    finally:
        _REBUILDING = None
