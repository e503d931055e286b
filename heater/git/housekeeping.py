"""Repacking: one pack per repository, with a reachability bitmap.

Every push is kept as the pack it sent (``receive.unpackLimit=1``, see
:mod:`heater.git.command`), and git's own automatic housekeeping is off, so
that no request ever pays for it. A repository pushed to a thousand times
holds a thousand packs, and every fetch looks through them all. The
operator runs ``heater cleanup --repack`` now and then (a timer, cron): each
repository with at least ``min_packs`` packs is rewritten into one, with a
bitmap that lets upload-pack count a clone's objects without walking the
history.

A repack runs under the repository's push lock, so that no push's objects
move from its quarantine into the repository meanwhile, and ``-a -d``
keeps every object reachable from a ref (Heater's hidden ``refs/heater/``
included) or a reflog. Fetches in flight keep reading the packs they
opened; git finds the new one when an old one is gone.
"""

from __future__ import annotations

from pathlib import Path

from heater.git import locks
from heater.git.command import run_git
from heater.paths import pack_dir, push_lock_file

# Fewer packs than this are not worth rewriting a repository for.
DEFAULT_MIN_PACKS = 20
# A large repository's repack may take minutes; a push waiting on the lock
# answers 503 after its own wait, this only bounds the repack.
REPACK_TIMEOUT_SECONDS = 30 * 60


def pack_count(repo_path: Path) -> int:
    """How many packs the repository at ``repo_path`` holds."""
    packs = pack_dir(repo_path)
    return sum(1 for _ in packs.glob("pack-*.pack")) if packs.is_dir() else 0


def repack(repo_path: Path, min_packs: int = DEFAULT_MIN_PACKS) -> bool:
    """Rewrite the repository's packs into one when it has ``min_packs`` or
    more; whether it did. Waits for a push in progress to finish."""
    if pack_count(repo_path) < min_packs:
        return False
    with locks.acquire(push_lock_file(repo_path), locks.PUSH_LOCK_WAIT_SECONDS):
        run_git(repo_path, ["repack", "-a", "-d", "-q", "--write-bitmap-index"],
                timeout=REPACK_TIMEOUT_SECONDS)
    return True
