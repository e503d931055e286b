"""The registry: one object that holds a data directory's stores.

Built once per process from a data directory; the HTTP layer, the CLI and
the git hooks all reach storage through it, so a backend chosen by
configuration is chosen in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pygit2

from heater.auth import Caller, Principal, Role, TokenStore, can_read, can_write, is_admin
from heater.errors import Forbidden, Unauthenticated
from heater.names import RepoId
from heater.paths import Layout
from heater.repositories import (
    Kind,
    RepoInfo,
    RepositoryNotFound,
    RepositoryStore,
    Visibility,
    read_info,
)

# Called after a repository changed (push, tag, build...), with who did it.
ChangeListener = Callable[[RepoId, Caller], None]


class Registry:
    def __init__(self, data_dir: Path) -> None:
        self.layout = Layout(data_dir)
        self.layout.ensure()
        self.repos = RepositoryStore(self.layout)
        self.tokens = TokenStore(self.layout.auth_db)
        self._listeners: list[ChangeListener] = []

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def changed(self, repo: RepoId, caller: Caller) -> None:
        """Tell every listener (the catalog index, caches) that ``repo`` changed."""
        for listener in self._listeners:
            listener(repo, caller)

    def authenticate(self, secret: str | None) -> Principal | None:
        """The caller behind a token secret; ``None`` for no secret at all."""
        if secret is None:
            return None
        if not secret:
            raise Unauthenticated("an empty token was given")
        return self.tokens.authenticate(secret)

    # -- access-checked operations shared by every interface ---------------

    def readable(self, caller: Caller, repo: RepoId, kind: Kind | None = None) -> RepoInfo:
        """The repository's info if ``caller`` may read it; otherwise it does
        not exist as far as the caller can tell (404, never 403)."""
        info = self.repos.info(repo)
        _check_readable(caller, info, kind)
        return info

    def open_readable(self, caller: Caller, repo: RepoId,
                      kind: Kind | None = None) -> tuple[RepoInfo, pygit2.Repository]:
        """:meth:`readable`, with the repository it opened (the caller frees
        it): one open instead of two on hot read paths."""
        git = self.repos.open(repo)
        try:
            info = read_info(repo, git)
            _check_readable(caller, info, kind)
        except BaseException:
            git.free()
            raise
        return info, git

    def writable(self, caller: Caller, repo: RepoId, kind: Kind | None = None,
                 role: Role = Role.WRITER) -> RepoInfo:
        """The repository's info if ``caller`` may change it."""
        info = self.readable(caller, repo, kind)
        require_role(caller, repo.namespace, role)
        return info

    def create_repository(self, caller: Caller, repo: RepoId, kind: Kind,
                          visibility: Visibility) -> RepoInfo:
        require_role(caller, repo.namespace, Role.WRITER)
        info = self.repos.create(repo, kind, visibility)
        self.changed(repo, caller)
        return info


def _check_readable(caller: Caller, info: RepoInfo, kind: Kind | None) -> None:
    if not can_read(caller, info) or (kind is not None and info.kind is not kind):
        raise RepositoryNotFound(info.repo)


def require_role(caller: Caller, namespace: str, role: Role) -> None:
    """Raise unless ``caller`` holds ``role`` on ``namespace``."""
    if caller is None:
        raise Unauthenticated(f"this needs a token with the {role} role; send it as "
                              "HTTP Basic password or Authorization: Bearer")
    allowed = is_admin(caller, namespace) if role is Role.ADMIN else (
        can_write(caller, namespace) if role is Role.WRITER else caller.covers(namespace))
    if not allowed:
        raise Forbidden(f"token {caller} lacks the {role} role on namespace {namespace}",
                        code="forbidden")
