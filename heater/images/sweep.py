"""Removing the bytes of uploads that died half-way.

An upload stores its bytes, then commits the manifest. If the process dies
between the two, the build is still queued, git knows nothing of it, and
the orphaned bytes would make every retry a 409. Once such bytes are older
than the cleanup grace period (no live upload is that slow to commit), they
are removed and the build can be uploaded again. The composition root
(:mod:`heater.wiring`) hands these to :func:`heater.cli.cleanup.sweep`, so
``heater serve`` start-up and ``heater cleanup`` run them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from heater.blobs import BlobStore, BlobStoreUnavailable
from heater.images.builds import BuildStore
from heater.images.repository import find_build
from heater.paths import Layout
from heater.repos.store import RepositoryNotFound, RepositoryStore

log = logging.getLogger(__name__)


def orphan_blobs(layout: Layout, repos: RepositoryStore, builds: BuildStore,
                 cutoff: float) -> list[Path]:
    """Delete the bytes of queued builds that git has no commit for and that
    nothing has written since ``cutoff``; the paths removed."""
    removed: list[Path] = []
    for record in builds.queued():
        path = layout.blob(record.id)
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            git = repos.open(record.repo)
        except (FileNotFoundError, RepositoryNotFound):
            continue
        try:
            committed = find_build(git, record.id) is not None
        finally:
            git.free()
        if not committed:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


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
