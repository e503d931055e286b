"""Reachability from the visible refs, and resolution that depends on it."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from heater.repos.reachability import Reachability, reachable
from heater.repos.resolve import AmbiguousRef, UnknownRef, resolve

SIGNATURE = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)


def commit(git: pygit2.Repository, ref: str | None, text: str,
           parents: list[pygit2.Oid]) -> pygit2.Oid:
    builder = git.TreeBuilder()
    builder.insert("template.yaml", git.create_blob(text.encode()), pygit2.enums.FileMode.BLOB)
    return git.create_commit(ref, SIGNATURE, SIGNATURE, text, builder.write(), parents)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[pygit2.Repository, dict[str, pygit2.Oid]]:
    """main: a <- b, tagged v1.0.0 at a; a deleted branch's commit c on b; a
    lifecycle commit under refs/heater/."""
    git = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    a = commit(git, "refs/heads/main", "a", [])
    b = commit(git, "refs/heads/main", "b", [a])
    tag = git.create_tag("v1.0.0", a, pygit2.enums.ObjectType.COMMIT, SIGNATURE, "v1\n")
    c = commit(git, "refs/heads/side", "c", [b])
    git.references.delete("refs/heads/side")
    life = commit(git, "refs/heater/lifecycle", "state", [])
    return git, {"a": a, "b": b, "tag": tag, "c": c, "life": life}


def test_objects_of_visible_history_are_reachable(
        repo: tuple[pygit2.Repository, dict[str, pygit2.Oid]]) -> None:
    git, ids = repo
    check = Reachability(git)
    for name in ("a", "b", "tag"):
        assert check.reachable(ids[name]), name
    first = git.get(ids["a"])
    assert isinstance(first, pygit2.Commit)
    assert check.reachable(first.tree_id)
    assert check.reachable(first.tree["template.yaml"].id)


def test_hidden_and_deleted_objects_are_not(
        repo: tuple[pygit2.Repository, dict[str, pygit2.Oid]]) -> None:
    git, ids = repo
    check = Reachability(git)
    for name in ("c", "life"):
        assert not check.reachable(ids[name]), name
    hidden = git.get(ids["life"])
    assert isinstance(hidden, pygit2.Commit)
    assert not check.reachable(hidden.tree["template.yaml"].id)
    assert not check.reachable("0" * 40)
    assert not check.reachable("not hex")


def test_answers_follow_the_refs(repo: tuple[pygit2.Repository, dict[str, pygit2.Oid]]) -> None:
    git, ids = repo
    assert not reachable(git, ids["c"])
    git.references.create("refs/heads/side", ids["c"])
    assert reachable(git, ids["c"])
    git.references.delete("refs/heads/side")
    git.references.delete("refs/heads/main")
    assert not reachable(git, ids["b"])
    assert reachable(git, ids["a"])  # the tag still holds it


@pytest.mark.parametrize("name", ["c", "life"])
@pytest.mark.parametrize("digits", [7, 40])
def test_resolve_does_not_reach_hidden_commits(
        repo: tuple[pygit2.Repository, dict[str, pygit2.Oid]], name: str, digits: int) -> None:
    git, ids = repo
    with pytest.raises(UnknownRef):
        resolve(git, str(ids[name])[:digits])


def test_a_full_sha_resolves_first(repo: tuple[pygit2.Repository, dict[str, pygit2.Oid]]) -> None:
    git, ids = repo
    git.references.create(f"refs/heads/{ids['a']}", ids["b"])
    git.references.create(f"refs/tags/{ids['b']}", ids["a"])
    resolved = resolve(git, str(ids["a"]))
    assert (resolved.kind, resolved.sha, resolved.immutable) == ("sha", str(ids["a"]), True)
    assert resolve(git, str(ids["b"])).sha == str(ids["b"])


def test_a_full_sha_of_a_ref_name_alone_is_unknown(
        repo: tuple[pygit2.Repository, dict[str, pygit2.Oid]]) -> None:
    git, ids = repo
    name = "ab" * 20
    git.references.create(f"refs/heads/{name}", ids["b"])
    with pytest.raises(UnknownRef):
        resolve(git, name)


def test_an_abbreviated_sha_that_is_a_branch_too_is_ambiguous(
        repo: tuple[pygit2.Repository, dict[str, pygit2.Oid]]) -> None:
    git, ids = repo
    short = str(ids["a"])[:8]
    git.references.create(f"refs/heads/{short}", ids["b"])
    with pytest.raises(AmbiguousRef) as raised:
        resolve(git, short)
    assert f"refs/heads/{short}" in raised.value.message
    assert str(ids["a"]) in raised.value.message
    # A branch whose name is the prefix of only a hidden commit is just a branch.
    hidden = str(ids["c"])[:8]
    git.references.create(f"refs/heads/{hidden}", ids["a"])
    assert resolve(git, hidden).kind == "branch"
