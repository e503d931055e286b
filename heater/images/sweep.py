"""Removing image bytes that no build has, and what dead uploads left.

An upload stores its bytes, then commits the manifest; a deletion commits
the tombstone, then removes the bytes. A process that dies in between, or
a store that fails the removal, leaves bytes that no build has: a queued
build's that git has no commit for, a deleted build's, or, should a
build's row be lost, bytes that no row names. The store's own listing
(``BlobStore.stored``, on every backend) finds them, and those written
before the cleanup grace period (no live upload is that slow to commit)
are removed. The composition root (:mod:`heater.wiring`) hands these to
:func:`heater.cli.cleanup.sweep`, so ``heater serve`` start-up and
``heater cleanup`` run them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from heater.blobs import BlobStore, BlobStoreUnavailable
from heater.images.builds import BuildNotFound, BuildStore, Status
from heater.images.repository import find_build, live_builds
from heater.images.service import UploadInProgress, upload_lock
from heater.names import RepoId
from heater.paths import Layout
from heater.repos.store import Kind, RepositoryNotFound, RepositoryStore

log = logging.getLogger(__name__)


def orphan_blobs(blobs: BlobStore, repos: RepositoryStore, builds: BuildStore,
                 cutoff: float) -> list[Path]:
    """Delete the stored bytes written before ``cutoff`` that no build has;
    what was removed, named ``blobs/<id>``. A store that cannot answer is
    logged, not fatal (the next sweep tries again)."""
    orphans = _Orphans(blobs, repos, builds)
    removed: list[Path] = []
    try:
        for blob in blobs.stored():
            if blob.modified < cutoff and orphans.remove(blob.blob_id):
                removed.append(Path("blobs", blob.blob_id))
    except BlobStoreUnavailable as exc:
        log.error("image bytes without a build not swept: %s", exc.message)
    return removed


class _Orphans:
    """One sweep's judgement of stored bytes; what git says of each image
    is read once per sweep."""

    def __init__(self, blobs: BlobStore, repos: RepositoryStore, builds: BuildStore) -> None:
        self.blobs = blobs
        self.repos = repos
        self.builds = builds
        self._live: dict[RepoId, set[str] | None] = {}
        self._anywhere: set[str] | None = None

    def remove(self, blob_id: str) -> bool:
        """Delete ``blob_id``'s bytes if no build has them; whether it did."""
        try:
            record = self.builds.get(blob_id)
        except BuildNotFound:
            return self._remove_unnamed(blob_id)
        live = self._live_in(record.repo)
        if live is None or blob_id in live:
            return False  # an uploaded build's, or an image that cannot be read now
        try:
            lock = upload_lock(self.repos.layout.upload_lock(blob_id), blob_id)
        except UploadInProgress:
            return False
        with lock:  # no upload of the build can start meanwhile
            # Asked again: an upload may have committed since the image was read.
            try:
                git = self.repos.open(record.repo)
            except RepositoryNotFound:
                return False
            try:
                found = find_build(git, blob_id)
            finally:
                git.free()
            if found is None:
                return self._delete(blob_id, "its upload died before committing")
            if found.latest.manifest.get("status") == Status.DELETED.value:
                return self._delete(blob_id, "its build is deleted")
            return False

    def _remove_unnamed(self, blob_id: str) -> bool:
        """Bytes that no build row names: kept if git has them as a build's
        (its row was lost: restoring it brings the build back), and kept
        when git has no build at all, which says that this data directory
        is not the registry the store belongs to (a new node, a git
        directory not mounted) rather than that every image is unwanted."""
        anywhere = self._uploaded_anywhere()
        if not anywhere or blob_id in anywhere:
            return False
        return self._delete(blob_id, "no build names it")

    def _delete(self, blob_id: str, reason: str) -> bool:
        if not self.blobs.delete(blob_id):
            return False
        log.warning("removed the stored bytes of %s: %s", blob_id, reason)
        return True

    def _live_in(self, repo: RepoId) -> set[str] | None:
        """The builds of ``repo`` that have bytes; None if it cannot be read."""
        if repo not in self._live:
            try:
                git = self.repos.open(repo)
            except RepositoryNotFound:
                self._live[repo] = None
            else:
                try:
                    self._live[repo] = live_builds(git)
                finally:
                    git.free()
        return self._live[repo]

    def _uploaded_anywhere(self) -> set[str]:
        if self._anywhere is None:
            self._anywhere = set()
            for repo in self.repos:
                try:
                    image = self.repos.info(repo).kind is Kind.IMAGE
                except RepositoryNotFound:
                    continue
                if image:
                    self._anywhere |= self._live_in(repo) or set()
        return self._anywhere


def finished_upload_locks(layout: Layout, builds: BuildStore, _cutoff: float) -> list[Path]:
    """Delete the upload locks of builds that no upload will touch again
    (active, deleted or unknown); the paths removed. A queued build's lock
    stays: removing a lock file that an upload may be opening would let two
    uploads hold it."""
    if not layout.locks.is_dir():
        return []
    queued = {record.id for record in builds.queued()}
    removed = []
    for build_id, path in layout.upload_locks():
        if build_id not in queued:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed



def abandoned_uploads(blobs: BlobStore, cutoff: float) -> list[Path]:
    """What uploads that died left in the blob store itself (an object
    store's segments or multipart uploads), removed; named as the store
    names them. A store that cannot answer is logged, not fatal: git and
    the API serve without it, and the next sweep tries again."""
    try:
        return [Path(name) for name in blobs.abandoned(cutoff)]
    except BlobStoreUnavailable as exc:
        log.error("abandoned uploads not swept: %s", exc.message)
        return []
