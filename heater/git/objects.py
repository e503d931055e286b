"""Small readers of git objects shared by every package: the zero id, the
commit a name or tag stands for, and the default branch's head."""

from __future__ import annotations

import pygit2

# The "old" side of a ref being created (and the "new" side of one being
# deleted), as git spells it in hooks and ``update-ref``.
ZERO_OID = "0" * 40


def peel_commit(git: pygit2.Repository,
                target: pygit2.Object | pygit2.Oid | str | None) -> pygit2.Commit | None:
    """The commit ``target`` (an object or its id) is or points at through
    annotated tags; None if there is no such object or it is no commit."""
    if not isinstance(target, pygit2.Object):
        try:
            target = git.get(target) if target is not None else None
        except ValueError:
            return None
    if target is None:
        return None
    try:
        commit = target.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError):  # a tree, or a tag of one (InvalidSpecError is one)
        return None
    return commit if isinstance(commit, pygit2.Commit) else None


def head_commit(git: pygit2.Repository) -> pygit2.Commit | None:
    """The default branch's head commit, None when the branch has none."""
    try:
        target = git.head.peel(pygit2.Commit)
    except (pygit2.GitError, KeyError, ValueError):
        return None
    return target if isinstance(target, pygit2.Commit) else None
