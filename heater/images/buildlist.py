"""The builds of one image, a page at a time: the uploaded ones (and the
deleted ones) from git, the queued ones from the build store.

Builds are listed newest first by the time they were queued, then by id:
a key that never changes, so a page's marker (the key of its last build)
gives the same next page even when builds are uploaded or deleted
meanwhile. Git is the source of truth for every build it knows; the build
store only adds the ones still waiting for their bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pygit2

from heater.clock import to_utc, utc_iso
from heater.errors import decode_marker, encode_marker
from heater.images import lookup, repository
from heater.images.builds import BuildNotFound, BuildRecord, BuildStore, Status
from heater.repos.versions import list_versions

_MARKER_RE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\|"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(frozen=True)
class _Found:
    """A build before its page is chosen: only what ordering needs, and
    where to read the rest."""

    build_id: str
    created_at: str
    record: BuildRecord | None
    build_commit: pygit2.Commit | None   # the commit that recorded its bytes
    newest_commit: pygit2.Commit | None  # the newest commit about it (a tombstone?)

    @property
    def key(self) -> tuple[str, str]:
        return self.created_at, self.build_id


@dataclass(frozen=True)
class BuildsPage:
    builds: list[dict[str, Any]]
    next_marker: str | None


def list_builds(git: pygit2.Repository, queued: Iterable[BuildRecord], store: BuildStore,
                limit: int, marker: str | None = None) -> BuildsPage:
    """Up to ``limit`` builds of the image in ``git`` after ``marker``:
    every build git recorded, and ``queued`` (the store's queued builds of
    this image) that git does not know yet."""
    after = _decode(marker) if marker else None
    found = _from_git(git, store)
    known = {f.build_id for f in found}
    found += [_Found(r.id, to_utc(r.created_at), r, None, None)
              for r in queued if r.id not in known]
    found.sort(key=lambda f: f.key, reverse=True)
    if after is not None:
        found = [f for f in found if f.key < after]
    page = found[:limit]
    tags = {v.commit: str(v.version) for v in list_versions(git)}
    entries = [_entry(f, tags) for f in page]
    more = len(found) > limit
    return BuildsPage(entries, _marker(page[-1].key) if more else None)


def _from_git(git: pygit2.Repository, store: BuildStore) -> list[_Found]:
    """Every build recorded on ``main`` (one walk; manifests are read only
    for the page shown)."""
    newest: dict[str, pygit2.Commit] = {}
    oldest: dict[str, pygit2.Commit] = {}
    tip = repository.head(git)
    if tip is not None:
        for commit in git.walk(tip.id, pygit2.enums.SortMode.TOPOLOGICAL):
            build_id = repository.build_of(commit)
            if build_id is None:
                continue
            newest.setdefault(build_id, commit)
            oldest[build_id] = commit
    found = []
    for build_id, build_commit in oldest.items():
        try:
            record: BuildRecord | None = store.get(build_id)
        except BuildNotFound:  # known to git alone (a store restored from an older backup)
            record = None
        # One form of time, so that times of every age order as text.
        created = (to_utc(record.created_at) if record is not None
                   else utc_iso(build_commit.commit_time))
        found.append(_Found(build_id, created, record, build_commit, newest[build_id]))
    return found


def _entry(found: _Found, tags: dict[str, str]) -> dict[str, Any]:
    """A build as the listing shows it (the build resource without its
    manifest, which may list thousands of packages)."""
    if found.build_commit is None or found.newest_commit is None:
        assert found.record is not None
        version = found.record.manifest.get("version")
        return {"build_id": found.build_id, "status": Status.QUEUED.value,
                "version": version if isinstance(version, str) else None, "commit": None,
                "last_commit": None, "size": None, "deleted": None,
                "created_at": found.created_at}
    manifest = repository.manifest_of(found.build_commit) or {}
    newest = (repository.manifest_of(found.newest_commit) or {}
              if found.newest_commit.id != found.build_commit.id else manifest)
    sha = str(found.build_commit.id)
    # As GET /api/v1/builds/<id> shows it: a deleted build's commit is its
    # tombstone's, the build's own is its last_commit.
    commit, last_commit, status, deleted = sha, None, Status.ACTIVE.value, None
    if newest.get("status") == Status.DELETED.value:
        commit, last_commit = str(found.newest_commit.id), sha
        status, deleted = Status.DELETED.value, lookup.deletion(newest)
    size = manifest.get("size")
    return {"build_id": found.build_id, "status": status, "version": tags.get(sha),
            "commit": commit, "last_commit": last_commit,
            "size": size if isinstance(size, int) else None, "deleted": deleted,
            "created_at": found.created_at}


def _marker(key: tuple[str, str]) -> str:
    return encode_marker("|".join(key))


def _decode(marker: str) -> tuple[str, str]:
    match = decode_marker(marker, _MARKER_RE)
    return match.group(1), match.group(2)
