"""Bare git repositories on disk: create, open, describe, list.

A repository's kind (template or image), visibility and creation time live
in its own git config under ``heater.*``, so that the repositories alone are
enough to rebuild everything else.
"""

from __future__ import annotations

import enum
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from heater.clock import now
from heater.errors import Conflict, InvalidValue, NotFound
from heater.names import InvalidName, RepoId, check_name
from heater.paths import REPOSITORY_SUFFIX, Layout, config_file, head_file

DEFAULT_BRANCH = "main"


class Kind(enum.StrEnum):
    TEMPLATE = "template"
    IMAGE = "image"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class RepositoryNotFound(NotFound):
    code = "repository_not_found"

    def __init__(self, repo: RepoId | str) -> None:
        super().__init__(f"repository {repo} does not exist")
        self.repo = repo


class RepositoryExists(Conflict):
    code = "repository_exists"

    def __init__(self, repo: RepoId, kind: str) -> None:
        super().__init__(f"{repo} already exists (as {'an' if kind == 'image' else 'a'} "
                         f"{kind} repository)")
        self.repo = repo
        self.kind = kind


class InvalidChoice(InvalidValue):
    def __init__(self, field: str, value: object, allowed: list[str]) -> None:
        super().__init__(field, f"{field} must be one of {', '.join(allowed)}, not {value!r}")


def parse_kind(value: object) -> Kind:
    try:
        return Kind(str(value))
    except ValueError:
        raise InvalidChoice("kind", value, [k.value for k in Kind]) from None


def parse_visibility(value: object) -> Visibility:
    try:
        return Visibility(str(value))
    except ValueError:
        raise InvalidChoice("visibility", value, [v.value for v in Visibility]) from None


@dataclass(frozen=True)
class RepoInfo:
    repo: RepoId
    kind: Kind
    visibility: Visibility
    created_at: str

    @property
    def private(self) -> bool:
        return self.visibility is Visibility.PRIVATE


class RepositoryStore:
    """The set of bare repositories below a data directory."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def path(self, repo: RepoId) -> Path:
        return self.layout.repository(repo)

    def exists(self, repo: RepoId) -> bool:
        return head_file(self.path(repo)).is_file()

    def create(self, repo: RepoId, kind: Kind = Kind.TEMPLATE,
               visibility: Visibility = Visibility.PUBLIC) -> RepoInfo:
        """Create an empty bare repository, atomically.

        It is initialised in the scratch directory and renamed into place, so
        a concurrent reader never sees half a repository and two concurrent
        creators cannot both win.
        """
        final = self.path(repo)
        if self.exists(repo):
            raise RepositoryExists(repo, self.info(repo).kind.value)
        self.layout.tmp.mkdir(parents=True, exist_ok=True)
        scratch = self.layout.scratch("create", ".git")
        created = now()
        try:
            git = pygit2.init_repository(str(scratch), bare=True,
                                         initial_head=DEFAULT_BRANCH)
            git.config["heater.kind"] = kind.value
            git.config["heater.visibility"] = visibility.value
            git.config["heater.created"] = created
            git.free()
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(scratch, final)
            except OSError as exc:  # ENOTEMPTY/EEXIST: someone else won
                raise RepositoryExists(repo, kind.value) from exc
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        return RepoInfo(repo, kind, visibility, created)

    def open(self, repo: RepoId) -> pygit2.Repository:
        if not self.exists(repo):
            raise RepositoryNotFound(repo)
        return pygit2.Repository(str(self.path(repo)))

    def info(self, repo: RepoId) -> RepoInfo:
        git = self.open(repo)
        try:
            return read_info(repo, git)
        finally:
            git.free()

    def set_visibility(self, repo: RepoId, visibility: Visibility) -> None:
        git = self.open(repo)
        git.config["heater.visibility"] = visibility.value
        git.free()

    def remove_if_empty(self, repo: RepoId) -> bool:
        """Erase ``repo`` if it has no refs at all: undoing a create-on-push
        whose push did not land. Whether it did."""
        try:
            git = self.open(repo)
        except (RepositoryNotFound, pygit2.GitError):
            return False
        try:
            if any(True for _ in git.references):
                return False
        finally:
            git.free()
        self.remove(repo)
        return True

    def remove(self, repo: RepoId) -> None:
        """Erase a repository (only for undoing a failed create-on-push)."""
        final = self.path(repo)
        doomed = self.layout.scratch("remove")
        try:
            os.rename(final, doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def __iter__(self) -> Iterator[RepoId]:
        """Every repository, in name order; stray entries are skipped."""
        return (repo for repo in self.candidates() if self.exists(repo))

    def candidates(self) -> Iterator[RepoId]:
        """Every directory named as a repository, in name order, whether or
        not it is one (yet, or still): from the directory listings alone.
        :meth:`__iter__` also checks each; that check reads each
        repository's directory, which for a cold cache means a disk read
        apiece, better paid by whoever opens it next anyway."""
        root = self.layout.git_root
        if not root.is_dir():
            return
        for ns_dir in sorted(root.iterdir()):
            try:
                check_name(ns_dir.name, "namespace")
            except InvalidName:
                continue
            for entry in sorted(os.listdir(ns_dir)):
                if not entry.endswith(REPOSITORY_SUFFIX):
                    continue
                try:
                    yield RepoId(ns_dir.name, entry.removesuffix(REPOSITORY_SUFFIX))
                except InvalidName:
                    continue


# Config file -> (its identity when read, what it said). Reading a git
# config through libgit2 stats and may parse four files; every request that
# opens a repository needs this, and it changes only when the file does
# (libgit2 and git write it through a new file renamed into place).
_INFO_CACHE: dict[str, tuple[tuple[int, int, int], RepoInfo]] = {}
_INFO_CACHE_SIZE = 4096


def read_info(repo: RepoId, git: pygit2.Repository) -> RepoInfo:
    """The info of ``repo`` from its already opened repository."""
    config_path = str(config_file(Path(git.path)))
    try:
        st = os.stat(config_path)
        identity: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        identity = None
    cached = _INFO_CACHE.get(config_path)
    if cached is not None and cached[0] == identity and cached[1].repo == repo:
        return cached[1]
    config = git.config
    kind = _config_get(config, "heater.kind", Kind.TEMPLATE.value)
    visibility = _config_get(config, "heater.visibility", Visibility.PUBLIC.value)
    created = _config_get(config, "heater.created", "")
    info = RepoInfo(repo, parse_kind(kind), parse_visibility(visibility), created)
    if identity is not None:
        if len(_INFO_CACHE) >= _INFO_CACHE_SIZE:
            _INFO_CACHE.clear()  # crude, and rare: one entry per repository read
        _INFO_CACHE[config_path] = (identity, info)
    return info


def _config_get(config: pygit2.Config, key: str, default: str) -> str:
    try:
        return str(config[key])
    except KeyError:
        return default
