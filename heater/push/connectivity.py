"""A push brings its objects; it does not borrow hidden ones.

Git's own connectivity check after a push asks only whether every object the
new refs reach exists in the repository. Heater keeps objects that no
client may read in the same object store (the commits of a deleted branch,
the lifecycle history on a hidden ref), so a writer who knows such an id
could push a branch or a commit that points at it and then read it through
the new ref. Here every object that the pushed refs reach and that the
refs clients see do not reach must have arrived with
the push, in git's quarantine directory. An honest client always sends
those objects: it only leaves out what the advertised refs reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pygit2

from heater.git.command import run_git
from heater.paths import objects_dir
from heater.repos.reachability import visible_refs

# Enough ids to make a refusal actionable without echoing a whole pack.
MAX_NAMED = 3


def borrowed_objects(git: pygit2.Repository, quarantine: Path | None,
                     tips: Iterable[str]) -> list[str]:
    """The objects ``tips`` reach that neither the visible refs reach nor the
    push brought (it lies in ``quarantine``; None when the push sent no
    pack); empty for an honest push."""
    new = sorted(set(tips))
    if not new:
        return []
    visible = {str(oid) for oid in visible_refs(git).values()}
    repo_path = Path(git.path)
    # Ids go on stdin, never on the command line: none can be read as an option.
    listing = "".join(f"{oid}\n" for oid in new) + "".join(f"^{oid}\n" for oid in sorted(visible))
    env = {} if quarantine is None else {
        "GIT_OBJECT_DIRECTORY": str(quarantine),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects_dir(repo_path))}
    out = run_git(repo_path, ["rev-list", "--objects", "--no-object-names", "--stdin"],
                  input=listing.encode(), env=env)
    reached = out.decode().split()
    if quarantine is None:
        return reached
    received = pygit2.Odb(str(quarantine))
    return [oid for oid in reached if oid not in received]


def refusal(borrowed: list[str]) -> str:
    """What the pusher is told."""
    named = ", ".join(borrowed[:MAX_NAMED]) + (" ..." if len(borrowed) > MAX_NAMED else "")
    return (f"the push refers to objects it does not carry ({named}); push from a "
            "clone of this repository, whose objects git sends as needed")
