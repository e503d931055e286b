"""Releasing a version: an annotated semver tag, made by pygit2 as the caller.

The tag is always spelt ``v1.2.0`` (:func:`~heater.repos.versions.tag_name`),
whether ``1.2.0`` or ``v1.2.0`` was asked for. A version has one tag
whatever its spelling: ``1.2.0`` is refused while a pushed ``1.2.0`` or
``v1.2.0`` exists (and so is ``1.2.0+build``, equal in precedence). Tags
are made under an exclusive lock on the repository, so two concurrent
requests cannot both succeed.
"""

from __future__ import annotations

from pathlib import Path

import pygit2

from heater.errors import InvalidValue, NotFound
from heater.git import locks
from heater.git.identity import signature
from heater.git.objects import ZERO_OID
from heater.names import check_free_text, check_ref_name
from heater.paths import push_lock_file
from heater.push.admission import admit
from heater.push.refrules import RefUpdate
from heater.repos.resolve import UnknownRef, default_branch, resolve
from heater.repos.versions import (
    TaggedVersion,
    Version,
    VersionExists,
    Yanked,
    find_version,
    list_versions,
    lookup_version,
    tag_name,
)

MAX_MESSAGE_LENGTH = 64 * 1024


class UnknownTarget(UnknownRef):
    """The ref a version should point at does not exist."""

    def __init__(self, ref: str, reason: str) -> None:
        NotFound.__init__(self, f"cannot tag {ref!r}: {reason}")
        self.ref = ref


def _taken(version: Version, tag: str) -> VersionExists:
    return VersionExists(str(version), f"as tag {tag!r}; versions never move, release a new one")


def repository_lock(git: pygit2.Repository) -> locks.FileLock:
    """Hold the repository's push lock, the one the pre-receive relay holds,
    so that a tag made over the API and a pushed tag are decided one after
    the other, across processes."""
    return locks.acquire(push_lock_file(Path(git.path)), locks.PUSH_LOCK_WAIT_SECONDS)


def create_version(git: pygit2.Repository, version_text: str, ref: str | None,
                   message: str | None, tagger: str,
                   yanked: Yanked | None = None) -> TaggedVersion:
    """Tag the commit ``ref`` names (None: the default branch's head) as
    ``version_text``, annotated with ``message``, tagged by ``tagger``; the
    new version. ``yanked``: the yanks of the lifecycle state, if the caller
    has read it."""
    version = Version.parse(version_text)
    tag = tag_name(version)
    tag_ref = check_ref_name(f"refs/tags/{tag}")
    if message is not None and len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidValue("message", f"message is longer than {MAX_MESSAGE_LENGTH} characters")
    if message is not None:
        check_free_text(message, "message")
    text = message if message and message.strip() else f"Release {version}"
    with repository_lock(git):
        # Listed under the lock: a version tagged meanwhile is seen here.
        versions = list_versions(git, yanked)
        existing = find_version(versions, version)
        if existing is not None:
            raise _taken(version, existing.tag)
        if tag_ref in git.references:
            raise _taken(version, tag)
        try:
            target = resolve(git, ref, versions) if ref is not None else default_branch(git)
        except UnknownRef as exc:
            raise UnknownTarget(ref or "the default branch", exc.message) from None
        # The same decision a pushed tag gets: ref rules, the tagged tree's
        # validity, and the repository's versioning policy.
        admit(git, [RefUpdate(ZERO_OID, target.sha, tag_ref)], admin=False)
        git.create_tag(tag, target.commit.id, pygit2.enums.ObjectType.COMMIT,
                       signature(tagger), text if text.endswith("\n") else text + "\n")
    created = lookup_version(git, version, yanked)
    assert created is not None
    return created
