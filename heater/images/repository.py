"""Manifests in an image repository: one ``manifest.json`` per commit on
``main``, release tags on the commits of versioned builds.

Commits are made with pygit2 and published with one ``git update-ref
--stdin`` transaction that moves ``main`` only from the head it was built
on and creates the version tag in the same step, so concurrent writers on
any node (git's lock files) never lose a build and a tag is never created
without its commit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from heater.errors import Conflict
from heater.git.command import GitFailed, run_git
from heater.git.objects import ZERO_OID, peel_commit
from heater.images.builds import Status
from heater.repos.store import DEFAULT_BRANCH
from heater.repos.versions import Version, VersionExists, find_version, list_versions, tag_name

MANIFEST = "manifest.json"
BRANCH_REF = f"refs/heads/{DEFAULT_BRANCH}"
# Another writer moved main between our read and our update: rebuild on the
# new head. Contention is between a few uploads finishing at once.
MAX_ATTEMPTS = 20
COMMITTER = pygit2.Signature("Heater", "heater@localhost")
# Every commit about a build names it in this trailer of its message.
TRAILER = "Heater-Build"


class ConcurrentUpdate(Conflict):
    code = "concurrent_update"

    def __init__(self) -> None:
        super().__init__("the image repository kept changing; try again")


@dataclass(frozen=True)
class ManifestCommit:
    sha: str
    manifest: dict[str, Any]
    committed_at: int


def check_version_free(git: pygit2.Repository, version: str) -> None:
    if find_version(list_versions(git), Version.parse(version)) is not None:
        raise VersionExists(version, "in this image")


def head(git: pygit2.Repository) -> pygit2.Commit | None:
    """The tip of ``main``, the branch :func:`commit_manifest` moves."""
    ref = git.references.get(BRANCH_REF)
    return peel_commit(git, ref.target) if ref is not None else None


def manifest_of(commit: pygit2.Commit) -> dict[str, Any] | None:
    """The manifest a commit holds, ``None`` if it holds none (or a broken one)."""
    try:
        blob = commit.tree[MANIFEST]
    except KeyError:
        return None
    if not isinstance(blob, pygit2.Blob):
        return None
    try:
        loaded = json.loads(blob.data)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _commits(git: pygit2.Repository) -> Iterator[pygit2.Commit]:
    """Every commit on ``main``, newest first."""
    tip = head(git)
    if tip is not None:
        yield from git.walk(tip.id, pygit2.enums.SortMode.TOPOLOGICAL)


@dataclass(frozen=True)
class BuildHistory:
    """A build as git knows it: the commit that recorded its bytes and the
    newest commit about it (a tombstone once deleted)."""

    build: ManifestCommit
    latest: ManifestCommit


def find_build(git: pygit2.Repository, image_id: str) -> BuildHistory | None:
    """Where ``image_id`` appears on ``main``. Commits are picked by their
    :data:`TRAILER` (reading a commit is cheap; a manifest with thousands of
    packages is not) and confirmed by their manifest."""
    trailer = f"{TRAILER}: {image_id}"
    found: list[ManifestCommit] = []
    for commit in _commits(git):
        if trailer not in commit.message.splitlines():
            continue
        manifest = manifest_of(commit)
        if manifest is not None and manifest.get("image_id") == image_id:
            found.append(ManifestCommit(str(commit.id), manifest, commit.commit_time))
    return BuildHistory(found[-1], found[0]) if found else None


def deleted_builds(git: pygit2.Repository) -> dict[str, ManifestCommit]:
    """The tombstone of every build deleted on ``main``, by image id.

    A build has one commit with its :data:`TRAILER` when it is uploaded and
    one more when it is deleted, so only the newest commit of an id seen
    twice is read (and confirmed by its ``status``)."""
    newest: dict[str, pygit2.Commit] = {}
    found: dict[str, ManifestCommit] = {}
    for commit in _commits(git):
        image_id = build_of(commit)
        if image_id is None:
            continue
        if image_id not in newest:
            newest[image_id] = commit
            continue
        tip = newest[image_id]
        if image_id not in found and tip.id != commit.id:
            manifest = manifest_of(tip)
            if manifest is not None and manifest.get("status") == Status.DELETED.value:
                found[image_id] = ManifestCommit(str(tip.id), manifest, tip.commit_time)
    return found


def live_builds(git: pygit2.Repository) -> set[str]:
    """Every build on ``main`` that has bytes: uploaded and not deleted since."""
    named = {build for commit in _commits(git) if (build := build_of(commit)) is not None}
    return named - deleted_builds(git).keys()


def build_of(commit: pygit2.Commit) -> str | None:
    """The build a commit names in its :data:`TRAILER`, if any."""
    prefix = f"{TRAILER}: "
    for line in reversed(commit.message.splitlines()):
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return None


def commit_manifest(path: Path, manifest: dict[str, Any], message: str,
                    author: pygit2.Signature, version: str | None = None) -> str:
    """Commit ``manifest`` as the new head of ``main`` (and tag it with
    ``version``); the new commit's SHA. :class:`VersionExists` if the tag
    is taken; nothing is published then."""
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    commit_message = f"{message}\n\n{TRAILER}: {manifest['image_id']}\n"
    for _attempt in range(MAX_ATTEMPTS):
        git = pygit2.Repository(str(path))
        try:
            if version is not None:
                check_version_free(git, version)
            tip = head(git)
            builder = git.TreeBuilder()
            builder.insert(MANIFEST, git.create_blob(data), pygit2.enums.FileMode.BLOB)
            tree = builder.write()
            parents = [tip.id] if tip is not None else []
            sha = git.create_commit(None, author, COMMITTER, commit_message, tree, parents)
            commands = f"update {BRANCH_REF} {sha} {tip.id if tip else ZERO_OID}\n"
            if version is not None:
                tag = tag_name(version)
                tag_oid = git.odb.write(pygit2.enums.ObjectType.TAG,
                                        _tag_object(str(sha), tag, author, message))
                commands += f"create refs/tags/{tag} {tag_oid}\n"
        finally:
            git.free()
        try:
            run_git(path, ["update-ref", "--stdin"], input=commands.encode())
            return str(sha)
        except GitFailed as exc:
            if version is not None and "refs/tags/" in exc.stderr and "exists" in exc.stderr:
                raise VersionExists(version, "in this image") from None
            time.sleep(0.01)  # main moved under us: rebuild on the new head
    raise ConcurrentUpdate()


def _tag_object(target: str, tag: str, tagger: pygit2.Signature, message: str) -> bytes:
    sign = "-" if tagger.offset < 0 else "+"
    offset = f"{sign}{abs(tagger.offset) // 60:02d}{abs(tagger.offset) % 60:02d}"
    return (f"object {target}\ntype commit\ntag {tag}\n"
            f"tagger {tagger.name} <{tagger.email}> {tagger.time} {offset}\n\n"
            f"{message}\n").encode()
