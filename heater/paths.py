"""The on-disk layout of a data directory: the only module that builds paths.

::

    <data-dir>/
      git/<namespace>/<name>.git/   one bare repository per template or image
        HEAD, config, objects/pack/ git's own files (read by Heater for
                                    existence, settings and cleanup)
        heater-push.lock            serialises pushes (and API tags) from
                                    validation to ref update
        heater-parsed/<blob id>     large YAML files as parsed, for every
                                    process (heater.templates.parsed)
      tmp/                          scratch space, same filesystem as the rest,
                                    so that a finished item is renamed into
                                    place atomically:
        create-<uuid>.git/            a repository being created
        remove-<uuid>/                a repository being erased
        empty-<uuid>/                 the empty repository being made
        blob-<uuid>.part              an image's bytes being uploaded
        pending-<uuid>                a pending-change marker being written
      hooks/                        git hooks shared by every repository
        pre-receive                   (replaced through .pre-receive.<pid>.tmp)
      empty.git/                    an empty repository whose advertisement
                                    answers a push that will create a new one
      blobs/<aa>/<uuid>             image binaries, fanned out by UUID prefix
      locks/upload-<uuid>           held while a build's bytes are uploaded
      pending/<id>                  a write whose listeners (the index) have not
                                    run yet, locked (flock) by its writer while
                                    it lives; left unlocked by one that died
      auth.sqlite                   API tokens (secrets stored hashed)
      url-signing.key               the key of signed raw URLs, unless configured
      builds.sqlite                 image builds still waiting for their bytes
      index.sqlite                  catalog index, a cache rebuilt from git/
        index.sqlite.lock             serialises its repairs and rebuilds
        index.sqlite-wal, -shm, -journal  SQLite's own side files

Every method takes names that :mod:`heater.names` has already validated and
checks again that the result stays below the data directory, so that a
missed validation fails closed instead of escaping. The module functions
build paths inside a directory the caller already holds (an open
repository, a SQLite file).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from heater.names import RepoId

UPLOAD_LOCK_PREFIX = "upload-"
REPOSITORY_SUFFIX = ".git"


def push_lock_file(repo_path: Path) -> Path:
    """The push lock of the repository at ``repo_path`` (for code that holds
    an open repository rather than its name)."""
    return repo_path / "heater-push.lock"


def parsed_dir(repo_path: Path) -> Path:
    """Where the parsed documents of the repository's large YAML blobs are
    kept (a cache: deleting it loses nothing)."""
    return repo_path / "heater-parsed"


def head_file(repo_path: Path) -> Path:
    """git's ``HEAD``: a directory is a repository once it has one."""
    return repo_path / "HEAD"


def config_file(repo_path: Path) -> Path:
    return repo_path / "config"


def objects_dir(repo_path: Path) -> Path:
    return repo_path / "objects"


def pack_dir(repo_path: Path) -> Path:
    return objects_dir(repo_path) / "pack"


def hook_file(hooks_dir: Path, name: str) -> Path:
    return hooks_dir / name


def sqlite_lock(db: Path) -> Path:
    """The lock file that serialises repairs of the SQLite file ``db``."""
    return db.with_name(db.name + ".lock")


def sqlite_side_files(db: Path) -> tuple[Path, ...]:
    """The files SQLite keeps beside ``db`` and finds by name."""
    return tuple(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))


def replacement(path: Path) -> Path:
    """A scratch file beside ``path``, written and then renamed over it
    (one per process, so that concurrent writers never share one)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


class PathEscape(RuntimeError):
    """A computed path left the data directory: a bug, never user error."""


@dataclass(frozen=True)
class Layout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    def _inside(self, path: Path) -> Path:
        # Lexical: this runs on every request, where resolving symlinks
        # costs a syscall per component, and the names it guards hold no
        # "/" and never start with "." anyway. A symlink the operator placed
        # (a namespace on another disk) is followed, as it should be.
        normalised = os.path.normpath(path)
        root = str(self.root)
        if normalised != root and not normalised.startswith(root + os.sep):
            raise PathEscape(f"{path} is outside {self.root}")
        return path

    @property
    def git_root(self) -> Path:
        return self.root / "git"

    def namespace_dir(self, namespace: str) -> Path:
        return self._inside(self.git_root / namespace)

    def repository(self, repo: RepoId) -> Path:
        return self._inside(self.git_root / repo.namespace / f"{repo.name}{REPOSITORY_SUFFIX}")

    def push_lock(self, repo: RepoId) -> Path:
        """Held from a push's validation until its refs have moved."""
        return push_lock_file(self.repository(repo))

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def scratch(self, purpose: str, suffix: str = "") -> Path:
        """A fresh, unique name in tmp/ (nothing is created)."""
        return self._inside(self.tmp / f"{purpose}-{uuid.uuid4().hex}{suffix}")

    @property
    def hooks(self) -> Path:
        return self.root / "hooks"

    @property
    def empty_repository(self) -> Path:
        return self.root / "empty.git"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    def pending_change(self, token: str) -> Path:
        """The marker of one write in progress (see Registry.begin_change)."""
        return self._inside(self.root / "pending" / token)

    @property
    def pending(self) -> Path:
        return self.root / "pending"

    def upload_lock(self, build_id: str) -> Path:
        """Held by the one upload of a build in progress (never in tmp/: an
        upload may outlast the cleanup's grace period)."""
        return self._inside(self.locks / f"{UPLOAD_LOCK_PREFIX}{build_id}")

    def upload_locks(self) -> Iterator[tuple[str, Path]]:
        """Every upload lock file there is, with its build id."""
        if self.locks.is_dir():
            for path in self.locks.glob(f"{UPLOAD_LOCK_PREFIX}*"):
                yield path.name.removeprefix(UPLOAD_LOCK_PREFIX), path

    def blob(self, blob_id: str) -> Path:
        return self._inside(self.blobs / blob_id[:2] / blob_id)

    @property
    def auth_db(self) -> Path:
        return self.root / "auth.sqlite"

    @property
    def url_signing_key(self) -> Path:
        """The key signed raw URLs are made with (the ``url_signing_key``
        setting replaces it)."""
        return self.root / "url-signing.key"

    @property
    def builds_db(self) -> Path:
        return self.root / "builds.sqlite"

    @property
    def index_db(self) -> Path:
        return self.root / "index.sqlite"

    @property
    def audit_log(self) -> Path:
        """The default audit log (the ``audit_log`` setting moves it)."""
        return self.root / "audit.jsonl"

    def ensure(self) -> None:
        """Create the top-level directories (idempotent). Only serving needs
        them all; other commands create what their stores use, when used."""
        for directory in (self.root, self.git_root, self.tmp, self.hooks, self.blobs):
            directory.mkdir(parents=True, exist_ok=True)
