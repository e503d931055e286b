"""Where a build was published, recorded in its image's repository.

Each publication is a commit on a hidden ref of its own,
``refs/heater/published/<build uuid>`` (hidden from clones like every
``refs/heater/`` ref), whose tree holds ``publication.json``::

    {"glance": {"image_id": "<uuid>", "url": "<Glance's URL of the image>"},
     "at": "<time>", "by": {"name": "...", "email": null}}

The ref is created once (``git update-ref`` with the zero id as the old
value), so two publications of one build cannot both be recorded; its
commit's author is who published and ``git log`` of the ref is the record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2

from heater.clock import now, to_utc
from heater.errors import AlreadyDone
from heater.git.command import GitFailed, run_git
from heater.git.identity import signature

PUBLISHED_PREFIX = "refs/heater/published/"
RECORD_FILE = "publication.json"
COMMITTER = pygit2.Signature("Heater", "heater@localhost")


class AlreadyPublished(AlreadyDone):
    """Publishing a build that is published already."""

    def __init__(self, build_id: str, record: dict[str, Any]) -> None:
        super().__init__(f"build {build_id} is published to Glance already")
        self.build_id = build_id
        self.record = record


def as_json(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored publication (a deleted build's tombstone adds
    ``glance.deleted``) as the API shows it (``Publication``): the Glance
    image's id is the build's, so only its URL is shown."""
    if record is None:
        return None
    glance = record.get("glance")
    glance = glance if isinstance(glance, dict) else {}
    deleted = glance.get("deleted")
    by = record.get("by")
    return {"glance_url": glance.get("url"),
            "at": to_utc(at) if isinstance(at := record.get("at"), str) else None,
            "by": by if isinstance(by, dict) else None,
            "glance_image_deleted": deleted if isinstance(deleted, bool) else None}


def read(git: pygit2.Repository, build_id: str) -> dict[str, Any] | None:
    """The publication record of ``build_id``, None if it was never published."""
    ref = git.references.get(PUBLISHED_PREFIX + build_id)
    if ref is None:
        return None
    commit = git.get(ref.target)
    if not isinstance(commit, pygit2.Commit):
        return None
    try:
        blob = commit.tree[RECORD_FILE]
        loaded = json.loads(blob.data) if isinstance(blob, pygit2.Blob) else None
    except (KeyError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def record(path: Path, build_id: str, glance_id: str, url: str, who: str) -> dict[str, Any]:
    """Record that ``build_id`` is published as Glance's ``glance_id`` at
    ``url``; :class:`AlreadyPublished` if it was recorded before."""
    body = {"glance": {"image_id": glance_id, "url": url}, "at": now(),
            "by": {"name": who, "email": None}}
    git = pygit2.Repository(str(path))
    try:
        existing = read(git, build_id)
        if existing is not None:
            raise AlreadyPublished(build_id, existing)
        data = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()
        builder = git.TreeBuilder()
        builder.insert(RECORD_FILE, git.create_blob(data), pygit2.enums.FileMode.BLOB)
        sha = git.create_commit(None, signature(who), COMMITTER,
                                f"Publish build {build_id} to Glance\n\n{url}\n",
                                builder.write(), [])
    finally:
        git.free()
    try:
        run_git(path, ["update-ref", "--stdin"],
                input=f"create {PUBLISHED_PREFIX}{build_id} {sha}\n".encode())
    except GitFailed:  # another request recorded it first
        raise AlreadyPublished(build_id, {}) from None
    return body
