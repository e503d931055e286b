"""Reading an image repository's manifests: at a ref, the current one, and
the manifest of every version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygit2

from heater.images import repository
from heater.images.builds import Status
from heater.names import is_uuid
from heater.repos.lifecycle import event
from heater.repos.resolve import LATEST, UnknownRef, resolve
from heater.repos.versions import TaggedVersion, Version, find_version, list_versions


class NoManifest(UnknownRef):
    """A ref whose commit records no build."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref, "no manifest.json (no build) at it")


@dataclass(frozen=True)
class ManifestAt:
    ref: str
    commit: str
    manifest: dict[str, Any]
    version: str | None
    # The ref resolved (``Ref``); a build id asked for shows as its commit.
    resolved: dict[str, str | None]

    @property
    def build_id(self) -> str | None:
        build_id = self.manifest.get("image_id")
        return build_id if isinstance(build_id, str) else None


class UnknownBuild(UnknownRef):
    """A build id, as a ref, that names no uploaded build of the image."""

    def __init__(self, build_id: str) -> None:
        super().__init__(build_id, "no uploaded build of this image has that id")
        self.build_id = build_id


def manifest_at(git: pygit2.Repository, ref: str) -> ManifestAt:
    """The manifest at ``ref`` (a version, ``latest``, a branch, a SHA, or a
    build's id: the manifest it was uploaded with, also once deleted), with
    the version whose tag is on that commit, however ``ref`` named it."""
    if is_uuid(ref):
        found = repository.find_build(git, ref)
        if found is None:
            raise UnknownBuild(ref)
        commit, manifest = found.build.sha, found.build.manifest
        shown: dict[str, str | None] = {"requested": ref, "kind": "commit", "name": None,
                                        "commit": commit, "version": None}
    else:
        resolved = resolve(git, ref)
        read = repository.manifest_of(resolved.commit)
        if read is None:
            raise NoManifest(ref)
        commit, manifest, shown = resolved.sha, read, resolved.as_json()
    tagged = next((v for v in list_versions(git) if v.commit == commit), None)
    version = str(tagged.version) if tagged else None
    return ManifestAt(ref, commit, manifest, version, {**shown, "version": version})


def current(git: pygit2.Repository) -> ManifestAt | None:
    """The manifest at ``latest``: the latest release if there is one, else
    the head of ``main``; ``None`` for an image without builds."""
    try:
        return manifest_at(git, LATEST)
    except (NoManifest, UnknownRef):
        return None


def versions(git: pygit2.Repository) -> list[dict[str, object]]:
    """Every version, newest first, with the build it names and that
    build's status: ``active``, or ``deleted`` with ``deleted`` (the tag
    still names the commit that recorded the build; the version is yanked,
    see :meth:`heater.images.service.Images.delete`)."""
    deleted = repository.deleted_builds(git)
    return [_version_entry(git, tagged, deleted) for tagged in list_versions(git)]


def version(git: pygit2.Repository, wanted: Version) -> dict[str, object] | None:
    """One version as :func:`versions` shows it; None if there is none."""
    tagged = find_version(list_versions(git), wanted)
    if tagged is None:
        return None
    return _version_entry(git, tagged, repository.deleted_builds(git))


def _version_entry(git: pygit2.Repository, tagged: TaggedVersion,
                   deleted: dict[str, repository.ManifestCommit]) -> dict[str, object]:
    entry = tagged.as_json()
    commit = git.get(tagged.commit)
    manifest = repository.manifest_of(commit) if isinstance(commit, pygit2.Commit) else None
    build_id = manifest.get("image_id") if manifest else None
    tombstone = deleted.get(build_id) if isinstance(build_id, str) else None
    entry["build_id"] = build_id
    entry["status"] = (Status.DELETED.value if tombstone
                       else manifest.get("status") if manifest else None)
    entry["deleted"] = deletion(tombstone.manifest) if tombstone else None
    return entry


def deletion(tombstone: dict[str, Any]) -> dict[str, Any] | None:
    """How a build was deleted (``Lifecycle``), from its tombstone manifest."""
    return event({"reason": None, "at": tombstone.get("deleted_at"),
                  "by": tombstone.get("deleted_by")})
