"""The access policy decides once, and the JSON API and the git endpoint
each render that decision: checked in process against the rows of the
auth matrix (tests/http/test_auth_matrix.py), which checks the same cells
over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from heater.auth import policy
from heater.auth.tokens import Caller, Principal, Role
from heater.errors import HeaterError, status_of
from heater.http.git.smarthttp import refusal
from heater.names import RepoId
from heater.repos.store import Kind, RepoInfo, Visibility
from tests.access_world import PRINCIPALS, REPOS
from tests.http.test_auth_matrix import TABLE

NS, OTHER = "acme", "elsewhere"
ROLES = {"R": Role.READER, "W": Role.WRITER, "A": Role.ADMIN}
TOMBSTONE = {"by": "admin", "at": "2026-01-01T00:00:00+00:00", "reason": "retired"}


def caller_for(principal: str) -> Caller:
    if principal == "anon":
        return None
    scope = {"'": OTHER, "*": None}.get(principal[1:], NS)
    return Principal(f"token-{principal}", ROLES[principal[0]], scope)


def facts(key: str) -> tuple[RepoId, RepoInfo | None, policy.Tombstone | None]:
    """The repository the matrix calls ``key`` (``dt``: a deleted private
    template), as the policy is given it."""
    repo = RepoId(NS, f"repo-{key}")
    if key == "none":
        return repo, None, None
    kind = Kind.IMAGE if key.endswith("i") else Kind.TEMPLATE
    visibility = Visibility.PUBLIC if key.startswith("p") else Visibility.PRIVATE
    return (repo, RepoInfo(repo, kind, visibility, "2026-01-01T00:00:00+00:00"),
            TOMBSTONE if key == "dt" else None)


Decision = Callable[[Caller, RepoId, RepoInfo | None, policy.Tombstone | None], object]


def api_status(decide: Decision, principal: str, key: str) -> int:
    repo, info, tombstone = facts(key)
    try:
        decide(caller_for(principal), repo, info, tombstone)
    except HeaterError as exc:
        return status_of(exc)
    return 200


def git_status(decide: Decision, principal: str, key: str) -> int:
    repo, info, tombstone = facts(key)
    caller = caller_for(principal)
    try:
        decide(caller, repo, info, tombstone)
    except HeaterError as exc:
        return int(refusal(exc, caller, repo).status.split()[0])
    return 200


def read(kind: Kind | None = None, role: Role | None = None) -> Decision:
    def decide(caller: Caller, repo: RepoId, info: RepoInfo | None,
               tombstone: policy.Tombstone | None) -> object:
        return policy.authorise(caller, repo, info, tombstone, kind=kind, role=role)
    return decide


# (matrix row, the decision its handler asks the policy for, how it is rendered)
T = "/api/v1/templates/<namespace>/<name>"
CELLS: list[tuple[str, Decision, Callable[[Decision, str, str], int]]] = [
    ("GET /<namespace>/<name>/raw/<ref>/<path:path>", read(), api_status),
    (f"GET {T}", read(Kind.TEMPLATE), api_status),
    (f"POST {T}/versions", read(Kind.TEMPLATE, Role.WRITER), api_status),
    (f"DELETE {T}", read(Kind.TEMPLATE, Role.ADMIN), api_status),
    ("GET /api/v1/images/<namespace>/<name>", read(Kind.IMAGE), api_status),
    (f"PATCH {T}", read(Kind.TEMPLATE, Role.WRITER), api_status),
    ("PATCH /api/v1/images/<namespace>/<name>", read(Kind.IMAGE, Role.WRITER), api_status),
    ("DELETE /api/v1/images/<namespace>/<name>", read(Kind.IMAGE, Role.ADMIN), api_status),
    ("GET /<ns>/<name>.git/info/refs?service=git-upload-pack", read(), git_status),
    ("POST /<ns>/<name>.git/git-upload-pack", read(), git_status),
    ("GET /<ns>/<name>.git/info/refs?service=git-receive-pack", policy.authorise_push,
     git_status),
    ("POST /<ns>/<name>.git/git-receive-pack", policy.authorise_push, git_status),
]


@pytest.mark.parametrize(("endpoint", "decide", "render"), CELLS,
                         ids=[endpoint for endpoint, _d, _r in CELLS])
def test_one_decision_rendered_as_the_matrix_says(
        endpoint: str, decide: Decision, render: Callable[[Decision, str, str], int]) -> None:
    wrong = []
    for key in REPOS:
        if (endpoint, key) not in TABLE:
            continue
        for principal in PRINCIPALS:
            if principal == "bad":  # refused before any policy is asked
                continue
            expected = TABLE[(endpoint, key)][principal]
            got = render(decide, principal, key)
            if got != (200 if expected in (200, 201) else expected):
                wrong.append(f"{key} {principal}: matrix {expected}, policy {got}")
    assert wrong == []


@pytest.mark.parametrize("principal", [p for p in PRINCIPALS if p != "bad"])
def test_deleted_repository_is_gone_only_to_those_who_may_read_it(principal: str) -> None:
    api = api_status(read(), principal, "dt")
    git = git_status(read(), principal, "dt")
    caller = caller_for(principal)
    if caller is not None and caller.covers(NS):
        assert (api, git) == (410, 410)
    else:  # as if it did not exist
        assert (api, git) == (api_status(read(), principal, "none"),
                              git_status(read(), principal, "none"))


def test_a_refused_push_is_decided_before_the_repository_is_looked_at() -> None:
    reader = caller_for("R")
    for key in ("pt", "st", "pi", "none", "dt"):
        repo, info, tombstone = facts(key)
        with pytest.raises(policy.LacksRole):
            policy.authorise_push(reader, repo, info, tombstone)
    writer = caller_for("W")
    repo, info, tombstone = facts("none")
    assert policy.authorise_push(writer, repo, info, tombstone) is None  # created by the push
    repo, info, tombstone = facts("pi")
    with pytest.raises(policy.NotPushable):
        policy.authorise_push(writer, repo, info, tombstone)
    repo, info, tombstone = facts("dt")
    with pytest.raises(policy.RepositoryGone) as gone:
        policy.authorise_push(writer, repo, info, tombstone)
    assert gone.value.record == {"reason": "retired", "at": "2026-01-01T00:00:00Z",
                                 "by": {"name": "admin", "email": None}}


def test_a_deleted_repository_is_readable_where_its_tombstone_is_asked_for() -> None:
    repo, info, tombstone = facts("dt")
    assert policy.authorise(caller_for("R"), repo, info, tombstone, allow_deleted=True) is info
