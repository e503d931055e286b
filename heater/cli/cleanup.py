"""Removing what interrupted work left behind.

A push whose server process died (a killed worker, a crash, the OOM killer)
can leave git's quarantine directory or a half-written pack in the
repository; an interrupted creation or upload can leave scratch files. None
of it is referenced by anything, so it is safe to delete once nothing is
writing to it any more. "Nothing is writing" is judged by age: the newest
modification time of everything inside an entry. A live push keeps writing
its pack, so it always looks fresh; the grace period only has to exceed the
longest pause inside one request. This works the same for several nodes on
shared storage, where process ids mean nothing.

Run at ``heater serve`` start-up and by ``heater cleanup``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from heater.paths import objects_dir, pack_dir
from heater.repos.store import RepositoryStore

log = logging.getLogger(__name__)

# Longer than any pause inside a single push or upload.
DEFAULT_GRACE_SECONDS = 15 * 60

# Scratch entries git leaves in objects/ when it dies mid-write.
_GIT_SCRATCH_PREFIXES = ("tmp_objdir-", "incoming-")
_PACK_SCRATCH_PREFIXES = ("tmp_pack_", "tmp_idx_", "tmp_rev_", ".tmp-")

# Other stores (image uploads, for example) sweep what is theirs: called
# with the cutoff time, a sweeper deletes what is abandoned and returns what
# it removed. The composition root (heater.wiring) passes them in.
Sweeper = Callable[[float], list[Path]]


@dataclass
class Report:
    removed: list[Path] = field(default_factory=list)


def newest_mtime(path: Path) -> float:
    """The latest modification time of ``path`` and everything below it."""
    try:
        newest = path.lstat().st_mtime
    except FileNotFoundError:
        return 0.0
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _stale(entries: Iterator[Path], cutoff: float) -> list[Path]:
    return [p for p in entries if newest_mtime(p) < cutoff]


def stale_git_scratch(repo_path: Path, cutoff: float) -> list[Path]:
    """Interrupted pushes' leftovers in one repository, older than ``cutoff``."""
    objects = objects_dir(repo_path)
    candidates: list[Path] = []
    if objects.is_dir():
        candidates += [p for p in objects.iterdir() if p.name.startswith(_GIT_SCRATCH_PREFIXES)]
        pack = pack_dir(repo_path)
        if pack.is_dir():
            candidates += [p for p in pack.iterdir()
                           if p.name.startswith(_PACK_SCRATCH_PREFIXES)]
    return _stale(iter(candidates), cutoff)


def sweep(store: RepositoryStore, grace_seconds: float = DEFAULT_GRACE_SECONDS,
          sweepers: Sequence[Sweeper] = ()) -> Report:
    """Delete every abandoned scratch entry of ``store``'s data directory
    older than ``grace_seconds``, then run ``sweepers`` with the same cutoff."""
    cutoff = time.time() - grace_seconds
    report = Report()
    layout = store.layout
    for repo in store:
        report.removed += stale_git_scratch(store.path(repo), cutoff)
    if layout.tmp.is_dir():
        report.removed += _stale(layout.tmp.iterdir(), cutoff)
    for path in report.removed:
        _remove(path)
    for sweeper in sweepers:
        report.removed += sweeper(cutoff)
    for path in report.removed:
        log.info("cleanup removed %s", path)
    return report
