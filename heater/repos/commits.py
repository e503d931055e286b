"""The commit history of a ref, a page at a time.

A page's marker holds the commit the walk started from and how many
commits were shown before, so that later pages walk the same history even
when the branch moves meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pygit2

from heater.clock import utc_iso
from heater.errors import InvalidMarker, decode_marker, encode_marker
from heater.git.identity import actor
from heater.repos.reachability import reachable

_MARKER_RE = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64}):(\d{1,9})$")


@dataclass(frozen=True)
class HistoryPage:
    commits: list[dict[str, Any]]
    next_marker: str | None


def commit_json(commit: pygit2.Commit) -> dict[str, Any]:
    """A commit as the API shows it (``Commit``)."""
    return {
        "commit": str(commit.id),
        "parents": [str(p) for p in commit.parent_ids],
        "author": actor(commit.author),
        "authored_at": utc_iso(commit.author.time),
        "committer": actor(commit.committer),
        "created_at": utc_iso(commit.committer.time),
        "message": commit.message,
    }


def _marker(start: str, offset: int) -> str:
    return encode_marker(f"{start}:{offset}")


def _decode(marker: str) -> tuple[str, int]:
    match = decode_marker(marker, _MARKER_RE)
    return match.group(1), int(match.group(2))


def history(git: pygit2.Repository, start: pygit2.Commit, limit: int,
            marker: str | None = None) -> HistoryPage:
    """Up to ``limit`` commits reachable from ``start`` (or from where
    ``marker`` says), newest first in topological order."""
    head, offset = _decode(marker) if marker else (str(start.id), 0)
    if marker:
        found = git.get(head)
        # A marker is the client's to forge: it may not start a walk where
        # no visible ref leads (saying so would tell that the commit exists).
        if not isinstance(found, pygit2.Commit) or not reachable(git, found.id):
            raise InvalidMarker("its commit is not in this repository")
        start = found
    walker = git.walk(start.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    commits: list[dict[str, Any]] = []
    more = False
    for index, commit in enumerate(walker):
        if index < offset:
            continue
        if len(commits) == limit:
            more = True
            break
        commits.append(commit_json(commit))
    return HistoryPage(commits, _marker(head, offset + limit) if more else None)
