"""Who may do what to a repository: the one access policy.

Every interface asks it and renders its answer: the JSON API as the error
table says, the git endpoint in the few statuses git clients act on
(:mod:`heater.http.git.smarthttp`). The policy decides from facts it is
given (a repository's info and tombstone), so the caller reads them once.

Rules:

- anyone reads public repositories; a private one is readable by a token
  of any role for its namespace, or by a token without a namespace; to
  anyone else it does not exist (404, never 403), deleted or not;
- a deleted repository is gone (410, with its tombstone) to those who may
  read it, except where the tombstone itself is asked for;
- writing (push, tags, builds) needs writer or admin for the namespace;
- destructive administration (delete, undelete, deleting branches) needs admin.
"""

from __future__ import annotations

from collections.abc import Mapping

from heater.auth.tokens import Caller, Principal, Role
from heater.errors import Forbidden, Gone, NotFound, Unauthenticated
from heater.names import RepoId
from heater.repos.lifecycle import event
from heater.repos.store import Kind, RepoInfo, RepositoryNotFound

Tombstone = Mapping[str, object]


def can_read(caller: Caller, info: RepoInfo) -> bool:
    if not info.private:
        return True
    return caller is not None and caller.covers(info.repo.namespace)


def is_admin(caller: Caller, namespace: str) -> bool:
    return caller is not None and caller.has(Role.ADMIN, namespace)


class RepositoryGone(Gone):
    """The repository was deleted; ``record`` is its tombstone."""

    code = "repository_deleted"

    def __init__(self, repo: RepoId, record: Tombstone) -> None:
        # The tombstone as every lifecycle state is shown (``Lifecycle``).
        shown = event(dict(record)) or {}
        super().__init__(f"{repo} was deleted by {record.get('by')} at {shown.get('at')}: "
                         f"{record.get('reason')}", record=shown)
        self.repo = repo


class WrongKind(RepositoryNotFound):
    """Not found as the kind asked for; said only to those who may read it."""

    def __init__(self, repo: RepoId, actual: Kind, asked: Kind) -> None:
        NotFound.__init__(self, f"{repo} is {_a(actual)} repository, not {_a(asked)} one")
        self.repo = repo


class LacksRole(Forbidden):
    """A token that does not hold the role an action needs on a namespace
    (other credentials could help)."""

    def __init__(self, caller: Principal, namespace: str, role: Role) -> None:
        super().__init__(f"token {caller} lacks the {role} role on namespace {namespace}")
        self.caller = caller
        self.namespace = namespace
        self.role = role


class NotPushable(Forbidden):
    """A push to an image repository: no credentials could allow it."""

    code = "not_pushable"

    def __init__(self, repo: RepoId) -> None:
        super().__init__(f"{repo} is an image repository; its history is written by builds "
                         "(POST /api/v1/images/.../builds), not by git push")
        self.repo = repo


def _a(kind: Kind) -> str:
    return f"an {kind}" if kind is Kind.IMAGE else f"a {kind}"


def require_token(caller: Caller, role: Role = Role.WRITER) -> Principal:
    """The caller, unless anonymous (401): what a write checks before it
    reads its request, when the namespace is not known yet."""
    if caller is None:
        raise Unauthenticated(f"this needs a token with the {role} role; send it as "
                              "HTTP Basic password or Authorization: Bearer")
    return caller


def require_role(caller: Caller, namespace: str, role: Role) -> Principal:
    """The caller, if it holds ``role`` on ``namespace``: 401 when
    anonymous, :class:`LacksRole` (403) otherwise."""
    principal = require_token(caller, role)
    if not principal.has(role, namespace):
        raise LacksRole(principal, namespace, role)
    return principal


def authorise(caller: Caller, repo: RepoId, info: RepoInfo | None,
              tombstone: Tombstone | None, *, kind: Kind | None = None,
              role: Role | None = None, allow_deleted: bool = False) -> RepoInfo:
    """``info`` (None: ``repo`` does not exist) if ``caller`` may read the
    repository, as ``kind`` when given, deleted only with ``allow_deleted``,
    and holds ``role`` on its namespace when given.

    Refusals come in this order, so that a private repository answers those
    who may not read it exactly as a missing one: not found (404), wrong
    kind (404), deleted (410), then the role (401 or 403)."""
    if info is None or not can_read(caller, info):
        raise RepositoryNotFound(repo)
    if kind is not None and info.kind is not kind:
        raise WrongKind(repo, info.kind, kind)
    if tombstone is not None and not allow_deleted:
        raise RepositoryGone(repo, tombstone)
    if role is not None:
        require_role(caller, repo.namespace, role)
    return info


def authorise_push(caller: Caller, repo: RepoId, info: RepoInfo | None,
                   tombstone: Tombstone | None) -> RepoInfo | None:
    """:func:`authorise` for a push, which may create the repository
    (``None``: it does not exist yet). Who may push depends on the token
    alone, so that is decided first: a refused push reads the same for a
    private repository as for one that does not exist."""
    require_role(caller, repo.namespace, Role.WRITER)
    if info is None:
        return None
    authorise(caller, repo, info, tombstone)
    if info.kind is not Kind.TEMPLATE:
        raise NotPushable(repo)
    return info
