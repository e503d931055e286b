"""Which objects a reader may reach: those reachable from the refs it may see.

A repository's object database holds more than its visible history: the
commits of a deleted branch stay until garbage collection, and Heater's own
bookkeeping lives under hidden refs (``refs/heater/``, lifecycle state that
names other namespaces' repositories). Every read by SHA, over git or REST,
asks :class:`Reachability` first, so that what a SHA shows depends on the
SHA alone and never on what happens to lie in the database.

Cost: the answer for a ref's own target is a set lookup. Other commits are
found by one walk from every visible tip, newest first, that stops at the
commit asked for; every commit it passes is remembered, and a walk that
went to the end answers every later question by a set lookup. What is
remembered is kept per process for each state of the refs
(:data:`MAX_STATES` of them), so a repository's history is walked whole at
most once between two pushes. Trees and blobs (a partial clone fetching what it
left out) need every tree of that history read once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

import pygit2

# Heater's bookkeeping refs; the git config hides the same prefix
# (transfer.hideRefs in heater.git.command).
HIDDEN_REF_PREFIX = "refs/heater/"
# Ref states (one per repository and set of ref values) whose walks are kept.
MAX_STATES = 32

_Key = tuple[str, frozenset[tuple[str, str]]]


class _Walk:
    """What is known to be reachable in one ref state, grown on demand.

    Shared by the threads of a process (under ``lock``), but it keeps no
    repository handle: each question walks with the asker's own.
    """

    def __init__(self, git: pygit2.Repository, tips: dict[str, pygit2.Oid]) -> None:
        self.lock = threading.Lock()
        self.tips = set(tips.values())
        self.tags: set[pygit2.Oid] = set()
        self.starts: set[pygit2.Oid] = set()
        for oid in self.tips:
            obj = git.get(oid)
            while isinstance(obj, pygit2.Tag):
                self.tags.add(obj.id)
                obj = git.get(obj.target)
            if isinstance(obj, pygit2.Commit):
                self.starts.add(obj.id)
        self.commits: set[pygit2.Oid] = set()
        self.complete = False
        self.contents: set[pygit2.Oid] | None = None

    def has_commit(self, git: pygit2.Repository, oid: pygit2.Oid) -> bool:
        if oid in self.commits:
            return True
        if self.complete:
            return False
        # Newest first: a commit near a tip, the usual question, is found
        # after a few steps; only a miss walks the whole history, once.
        for found in _walk(git, self.starts):
            self.commits.add(found)
            if found == oid:
                return True
        self.complete = True
        return False

    def has_content(self, git: pygit2.Repository, oid: pygit2.Oid) -> bool:
        if self.contents is None:
            if not self.complete:
                self.commits.update(_walk(git, self.starts))
                self.complete = True
            self.contents = _trees_and_blobs(git, self.commits)
        return oid in self.contents


def _walk(git: pygit2.Repository, starts: set[pygit2.Oid]) -> Iterator[pygit2.Oid]:
    if not starts:
        return
    walker = git.walk(None, pygit2.enums.SortMode.TIME)
    for oid in starts:
        walker.push(oid)
    for commit in walker:
        yield commit.id


def _trees_and_blobs(git: pygit2.Repository, commits: set[pygit2.Oid]) -> set[pygit2.Oid]:
    seen: set[pygit2.Oid] = set()
    stack: list[pygit2.Oid] = []
    for oid in commits:
        commit = git.get(oid)
        assert isinstance(commit, pygit2.Commit)
        stack.append(commit.tree_id)
    while stack:
        tree_id = stack.pop()
        if tree_id in seen:
            continue
        seen.add(tree_id)
        tree = git.get(tree_id)
        assert isinstance(tree, pygit2.Tree)
        for entry in tree:
            if entry.type == pygit2.enums.ObjectType.TREE:
                stack.append(entry.id)
            elif entry.type == pygit2.enums.ObjectType.BLOB:
                seen.add(entry.id)
    return seen


_walks: OrderedDict[_Key, _Walk] = OrderedDict()
_walks_lock = threading.Lock()


def visible_refs(git: pygit2.Repository) -> dict[str, pygit2.Oid]:
    """Every ref a reader may see (all but Heater's hidden ones), with its
    direct target (symbolic refs such as HEAD add nothing)."""
    found = {}
    for reference in git.references.iterator():
        if reference.name.startswith(HIDDEN_REF_PREFIX):
            continue
        target = reference.target
        if isinstance(target, pygit2.Oid):
            found[reference.name] = target
    return found


class Reachability:
    """Answers "may a reader reach this object?" for one repository as its
    refs are now; cheap to make, meant for one request."""

    def __init__(self, git: pygit2.Repository) -> None:
        self.git = git
        tips = visible_refs(git)
        key: _Key = (git.path, frozenset((name, str(oid)) for name, oid in tips.items()))
        with _walks_lock:
            walk = _walks.get(key)
            if walk is None:
                walk = _walks[key] = _Walk(git, tips)
                while len(_walks) > MAX_STATES:
                    _walks.popitem(last=False)
            else:
                _walks.move_to_end(key)
        self._walk = walk

    def reachable(self, oid: pygit2.Oid | str) -> bool:
        """Whether the object ``oid`` exists and some visible ref reaches it."""
        if isinstance(oid, str):
            try:
                oid = pygit2.Oid(hex=oid)
            except ValueError:
                return False
        walk = self._walk
        if oid in walk.tips or oid in walk.tags:
            return True
        obj = self.git.get(oid)
        if obj is None or isinstance(obj, pygit2.Tag):
            # A tag object is reachable only from a ref (or another tag),
            # and those were all seen when the walk began.
            return False
        with walk.lock:
            if isinstance(obj, pygit2.Commit):
                return walk.has_commit(self.git, oid)
            return walk.has_content(self.git, oid)


def reachable(git: pygit2.Repository, oid: pygit2.Oid | str) -> bool:
    """Whether a reader may reach the object ``oid`` of ``git``."""
    return Reachability(git).reachable(oid)
