"""The registry: one object that holds a data directory's stores.

Built once per process by the composition root (:mod:`heater.wiring`) from
configuration; the HTTP layer, the CLI and the git hooks all reach storage
through it, so a backend chosen by configuration is chosen in one place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pygit2

from heater.auth import policy
from heater.auth.identity import Credentials, Identity
from heater.auth.policy import require_role
from heater.auth.signing import Signing
from heater.auth.tokens import Caller, Principal, Role, TokenStore
from heater.blobs import BlobStore
from heater.errors import Conflict, Gone, InvalidInput, NotFound
from heater.git import locks
from heater.git.locks import FileLock
from heater.images.builds import BuildStore
from heater.images.glance import Glance
from heater.names import RepoId
from heater.observe.audit import AuditLog
from heater.observe.metrics import metrics
from heater.paths import Layout, head_file
from heater.repos.lifecycle import read_state
from heater.repos.store import (
    DEFAULT_BRANCH,
    Kind,
    RepoInfo,
    RepositoryNotFound,
    RepositoryStore,
    Visibility,
)
from heater.repos.view import RepoView
from heater.templates import validation
from heater.templates.files import commit_initial

log = logging.getLogger(__name__)

# Said by a marker after the repository's name when the write made the
# repository (create-on-push): a replay removes it again if it has no refs.
_CREATED = "created"


class NameTombstoned(Conflict):
    """A deleted repository's name is not free: it keeps its history."""

    code = "name_tombstoned"

    def __init__(self, repo: RepoId) -> None:
        super().__init__(f"{repo} was deleted and its name is not reused; an admin "
                         f"can undelete it (POST /api/v1/templates/{repo}/undelete)")
        self.repo = repo


# Called after a repository changed (push, tag, build...), with who did it.
ChangeListener = Callable[[RepoId, Caller], None]

# The name the stand-in for a missing repository is read under (see
# Registry.view): the info cache keys on it, so any fixed name does.
_STAND_IN = RepoId("heater", "stand-in")


class Registry:
    """The stores of one data directory, and the change listeners. Built by
    :func:`heater.wiring.build_registry` from configuration; it makes
    nothing on disk itself (each store creates what it uses, when used)."""

    def __init__(self, layout: Layout, *, repos: RepositoryStore, tokens: TokenStore,
                 identity: Identity, blobs: BlobStore, builds: BuildStore,
                 audit: AuditLog | None = None, glance: Glance | None = None,
                 signing: Signing | None = None) -> None:
        self.layout = layout
        self.signing = signing or Signing(layout.url_signing_key)
        self.repos = repos
        self.tokens = tokens  # Heater's own tokens, which `heater token` manages
        self.identity = identity
        self.glance = glance  # where builds are published; None: nowhere
        self.blobs = blobs
        self.builds = builds
        self.audit = audit
        self._listeners: list[ChangeListener] = []

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def changed(self, repo: RepoId, caller: Caller) -> None:
        """Tell every listener (the catalog index, caches) that ``repo`` changed."""
        for listener in self._listeners:
            listener(repo, caller)

    # A process that dies between a write and changed() would leave the index
    # behind git until the next change; a marker on disk around that window
    # lets another process catch up. The writer holds a lock on its marker
    # for as long as it lives, so that a replay (by any worker of any node
    # sharing the data directory) takes only the markers of dead writers,
    # and only one replay takes each.

    def begin_change(self, repo: RepoId, created: bool = False) -> ChangeMarker:
        """Record that ``repo`` is about to change; pass the marker to
        :meth:`end_change` once :meth:`changed` has run (or nothing changed).
        ``created``: the repository was made for this write, and is to be
        removed again if the write leaves it without refs."""
        scratch = self.layout.scratch("pending")
        scratch.parent.mkdir(parents=True, exist_ok=True)
        self.layout.pending.mkdir(parents=True, exist_ok=True)
        # Written and locked under a name nobody else knows, then renamed:
        # a marker is never seen in pending/ unlocked while its writer lives.
        scratch.write_text(f"{repo} {_CREATED}" if created else str(repo))
        held = locks.acquire(scratch, 0)
        path = self.layout.pending_change(uuid.uuid4().hex)
        try:
            os.rename(scratch, path)
        except BaseException:
            held.release()
            scratch.unlink(missing_ok=True)
            raise
        return ChangeMarker(path, held)

    def end_change(self, marker: ChangeMarker) -> None:
        """Remove the marker, then let go of it (in that order: a replay
        that gets the lock finds no file)."""
        marker.path.unlink(missing_ok=True)
        marker.lock.release()

    def change(self, repo: RepoId, caller: Caller, action: str = "change",
               created: bool = False) -> PendingChange:
        """The one way to write to ``repo``: ``with registry.change(repo,
        caller, action):`` around the write leaves the marker before it,
        tells the listeners, records ``action`` in the audit log and clears
        the marker after it. ``created``: see :meth:`begin_change`."""
        return PendingChange(self, repo, caller, action, created)

    def record(self, caller: Caller, action: str, repo: RepoId,
               details: Mapping[str, object] | None = None) -> None:
        """Write an audit log line for a write (when there is an audit log)."""
        if self.audit is not None:
            self.audit.record(caller, action, repo, details)

    def replay_pending_changes(self) -> list[RepoId]:
        """Tell the listeners about every change whose writer died before it
        could (on this node or another); the repositories named. A marker
        whose writer lives, or that another process is replaying, is locked
        and left alone; a listener that raises leaves its marker for the
        next replay."""
        replayed = []
        for marker in sorted(self.layout.pending.glob("*")) if self.layout.pending.is_dir() else []:
            held = locks.try_existing(marker)
            if held is None:
                continue
            with held:
                try:
                    started = marker.stat().st_mtime
                    text = marker.read_text()
                except FileNotFoundError:  # finished before the lock was ours
                    continue
                name, *flags = text.split() or [""]
                try:
                    repo = RepoId.parse(name)
                except ValueError:
                    marker.unlink(missing_ok=True)
                    continue
                if _CREATED in flags:
                    # What the dead writer would have done had its push
                    # failed while it lived (git has exited: it held the lock).
                    self.repos.remove_if_empty(repo)
                self.changed(repo, None)
                metrics().index_lag.observe(max(0.0, time.time() - started))
                marker.unlink(missing_ok=True)
            log.info("replayed the pending change of %s", repo)
            replayed.append(repo)
        return replayed

    def authenticate(self, credentials: Credentials | None) -> Principal | None:
        """The caller behind a request's credentials, as the configured
        identity judges them; ``None`` (anonymous) for none at all."""
        if credentials is None:
            return None
        return self.identity.authenticate(credentials)

    # -- access-checked operations shared by every interface ---------------
    # The decisions are the access policy's (heater.auth.policy); these read
    # the facts it decides on, through one open of the repository.

    def empty_repository(self) -> Path:
        """An empty bare repository of the data directory (made on first use)."""
        path = self.layout.empty_repository
        if not head_file(path).is_file():
            scratch = self.layout.scratch("empty")
            pygit2.init_repository(str(scratch), bare=True, initial_head=DEFAULT_BRANCH)
            try:
                os.rename(scratch, path)
            except OSError:  # another worker made it first
                shutil.rmtree(scratch, ignore_errors=True)
        return path

    def look_up_stand_in(self) -> None:
        """The reads :meth:`view` makes of a repository before the access
        decision, spent on a stand-in: a missing repository (or build) is
        refused only after them, as a private one is, so that the time of
        the answer does not tell a private name from a free one."""
        with RepoView(_STAND_IN, pygit2.Repository(str(self.empty_repository()))) as view:
            view.info  # noqa: B018 - the read is the point
            view.state  # noqa: B018

    def readable(self, caller: Caller, repo: RepoId, kind: Kind | None = None,
                 allow_deleted: bool = False) -> RepoInfo:
        """The repository's info if ``caller`` may read it; otherwise it does
        not exist as far as the caller can tell (404, never 403). A deleted
        repository is :class:`RepositoryGone` (410 with its tombstone)
        unless ``allow_deleted``."""
        with self.view(caller, repo, kind, allow_deleted=allow_deleted) as view:
            return view.info

    def sees(self, caller: Caller, name: str) -> RepoInfo | None:
        """The info of the repository named ``name`` (``<namespace>/<name>``)
        when it exists, is not deleted and ``caller`` may read it; None
        otherwise, whatever the reason, so that nothing leaks through it."""
        try:
            return self.readable(caller, RepoId.parse(name))
        except (InvalidInput, NotFound, Gone):
            return None

    def open_readable(self, caller: Caller, repo: RepoId,
                      kind: Kind | None = None) -> tuple[RepoInfo, pygit2.Repository]:
        """:meth:`readable`, with the repository it opened (the caller frees
        it): one open instead of two on hot read paths."""
        view = self.view(caller, repo, kind)
        return view.info, view.git

    def view(self, caller: Caller, repo: RepoId, kind: Kind | None = None,
             role: Role | None = None, allow_deleted: bool = False) -> RepoView:
        """:meth:`readable` (with ``role``, :meth:`writable`) through one
        open: the view it read, for the rest of the request (the caller
        closes it). The decision is the access policy's."""
        try:
            view = RepoView.open(self.repos, repo)
        except RepositoryNotFound:
            self.look_up_stand_in()
            raise
        try:
            policy.authorise(caller, repo, view.info, view.state.deleted,
                             kind=kind, role=role, allow_deleted=allow_deleted)
        except BaseException:
            view.close()
            raise
        return view

    def writable(self, caller: Caller, repo: RepoId, kind: Kind | None = None,
                 role: Role = Role.WRITER, allow_deleted: bool = False) -> RepoInfo:
        """The repository's info if ``caller`` may change it."""
        with self.view(caller, repo, kind, role, allow_deleted) as view:
            return view.info

    def tombstone(self, repo: RepoId) -> dict[str, object] | None:
        """How ``repo`` was deleted, or None if it was not."""
        git = self.repos.open(repo)
        try:
            return read_state(git).deleted
        finally:
            git.free()

    def create_repository(self, caller: Caller, repo: RepoId, kind: Kind,
                          visibility: Visibility,
                          files: Mapping[str, bytes] | None = None,
                          message: str = "Initial commit") -> RepoInfo:
        """Create ``repo``; with ``files``, validated first as a push would be
        and committed on the default branch, so that it never exists with
        content a push would have refused."""
        require_role(caller, repo.namespace, Role.WRITER)
        if self.repos.exists(repo) and self.tombstone(repo) is not None:
            raise NameTombstoned(repo)
        if files:
            validation.check(validation.MappingSource(files))
        with self.change(repo, caller, "create"):
            info = self.repos.create(repo, kind, visibility)
            if files:
                git = self.repos.open(repo)
                try:
                    commit_initial(git, DEFAULT_BRANCH, files, message,
                                   caller.name if caller else "anonymous")
                except BaseException:
                    self.repos.remove(repo)
                    raise
                finally:
                    git.free()
        return info


@dataclass(frozen=True)
class ChangeMarker:
    """The marker of one write in progress: its file in ``pending/``, and
    the lock on it that says its writer lives."""

    path: Path
    lock: FileLock


class PendingChange:
    """A write to a repository in progress (see :meth:`Registry.change`).

    Its marker is on disk from the start until the listeners have heard of
    the write, so a process that dies in between, or a listener that fails,
    leaves it for the next start to replay. As a context manager it
    finishes when the block ends, whether or not the block raised: a block
    that fails half-way may have written part of its change, and telling
    the listeners of nothing costs only a re-read. Code whose write ends
    elsewhere (a push streams on after its handler returns) calls
    :meth:`finish` itself.
    """

    def __init__(self, registry: Registry, repo: RepoId, caller: Caller,
                 action: str = "change", created: bool = False) -> None:
        self.registry = registry
        self.repo = repo
        self.caller = caller
        self.action = action
        # What the audit log says the write touched (refs, build), filled in
        # by the writer before it finishes.
        self.details: dict[str, object] = {}
        # False for a write that turned out to write nothing worth a line
        # (a push its hook refused); the listeners are told all the same.
        self.audited = True
        self.started = time.monotonic()
        self.marker = registry.begin_change(repo, created)

    def finish(self, notify: bool = True) -> None:
        """Tell the listeners and the audit log (unless ``notify`` is false:
        nothing was written), then clear the marker; a listener that raises
        leaves it, unlocked, for the next replay to retry."""
        try:
            if notify:
                if self.audited:
                    self.registry.record(self.caller, self.action, self.repo, self.details)
                self.registry.changed(self.repo, self.caller)
                metrics().index_lag.observe(time.monotonic() - self.started)
            self.registry.end_change(self.marker)
        finally:
            self.marker.lock.release()

    def __enter__(self) -> PendingChange:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.finish()
            return
        # The block's own error is the one to report; a listener failing
        # now only leaves the marker behind.
        with contextlib.suppress(Exception):
            self.finish()

