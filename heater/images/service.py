"""Image builds: create one, upload its bytes, read it, delete it.

Life of a build::

    POST manifest -> queued (SQLite) -> PUT bytes -> active (blob + commit)
                                                  -> DELETE -> deleted (tombstone commit,
                                                               bytes removed)

Every operation checks access through the registry, like every other
write. The state of an uploaded build is read from git, never from the
SQLite cache alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heater.auth.policy import WrongKind, require_role
from heater.auth.tokens import Caller, Role
from heater.blobs import BlobReader, BlobStore, ReadsInto
from heater.clock import now, to_utc
from heater.errors import AlreadyDone, Conflict, Gone, InvalidInput, NotFound
from heater.git import locks
from heater.git.identity import actor, signature
from heater.images import lookup, publication, referrers, repository, schema
from heater.images.buildlist import BuildsPage, list_builds
from heater.images.builds import BuildNotFound, BuildRecord, BuildStore, Status
from heater.images.digests import Hashing
from heater.images.glance import (
    Glance,
    GlanceIdTaken,
    GlanceImage,
    GlanceMismatch,
    GlanceNotConfigured,
)
from heater.images.lookup import ManifestAt
from heater.images.referrers import Referrer
from heater.names import RepoId, check_uuid
from heater.observe.metrics import blob_errors, metrics
from heater.registry import Registry
from heater.repos import lifecycle_actions
from heater.repos.browse import default_branch
from heater.repos.lifecycle import deprecation
from heater.repos.lifecycle_actions import LifecycleConflict, VersionNotFound
from heater.repos.resolve import LATEST
from heater.repos.service import Body, Repositories
from heater.repos.store import Kind, RepoInfo, RepositoryExists, RepositoryNotFound, Visibility
from heater.repos.versions import Version, latest
from heater.repos.view import RepoView

log = logging.getLogger(__name__)

# A second upload of the same build is refused at once, not queued: the
# first one may take as long as its bytes take to arrive.
UPLOAD_LOCK_WAIT_SECONDS = 0.0


class BuildNotQueued(Conflict):
    code = "build_not_queued"

    def __init__(self, build_id: str, status: str) -> None:
        super().__init__(f"build {build_id} is {status}; its bytes are written once")
        self.build_id = build_id
        self.status = status


class UploadInProgress(Conflict):
    code = "upload_in_progress"

    def __init__(self, build_id: str) -> None:
        super().__init__(f"build {build_id} is being uploaded by another request; "
                         "retry once that one has finished or failed")
        self.build_id = build_id


def upload_lock(path: Path, build_id: str) -> locks.FileLock:
    """Hold the upload lock of a build, or raise :class:`UploadInProgress`
    at once (a crashed upload's lock dies with its process, so the retry
    is never blocked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return locks.acquire(path, UPLOAD_LOCK_WAIT_SECONDS)
    except locks.LockTimeout:
        raise UploadInProgress(build_id) from None


class BuildDeleted(Gone):
    code = "build_deleted"

    def __init__(self, build_id: str, record: dict[str, object]) -> None:
        super().__init__(f"build {build_id} was deleted; its bytes are gone", record=record)
        self.build_id = build_id


class BuildAlreadyDeleted(AlreadyDone):
    """A deleted build deleted again; ``tombstone`` is its record."""

    def __init__(self, build_id: str, tombstone: dict[str, object]) -> None:
        super().__init__(f"build {build_id} is already deleted")
        self.build_id = build_id
        self.tombstone = tombstone

    def details(self) -> dict[str, object]:
        return {"tombstone": self.tombstone}


class BuildNotUploaded(NotFound):
    code = "build_not_uploaded"

    def __init__(self, build_id: str) -> None:
        super().__init__(f"build {build_id} is queued: its bytes have not been uploaded")
        self.build_id = build_id


class VisibilityMismatch(Conflict):
    """A build asked for a visibility its existing image does not have:
    visibility is chosen by the first build and changed by a PATCH of the
    image, and a later build must not appear to change it."""

    code = "visibility_mismatch"

    def __init__(self, repo: RepoId, asked: Visibility, actual: Visibility) -> None:
        super().__init__(f"{repo} is {actual.value}; a build cannot make it {asked.value} "
                         f"(change it with PATCH /api/v1/images/{repo})")
        self.repo = repo
        self.asked = asked
        self.actual = actual


class EmptyUpload(InvalidInput):
    """No image is zero bytes long: an empty body is a client mistake (a
    wrong file, a failed redirect), never a build to keep."""

    code = "empty_upload"

    def __init__(self, build_id: str) -> None:
        super().__init__(f"the body is empty: send the image file as the body; build "
                         f"{build_id} stays queued")
        self.build_id = build_id


@dataclass(frozen=True)
class Build:
    """A build as a reader sees it."""

    id: str
    repo: RepoId
    status: Status
    manifest: dict[str, Any]
    commit: str | None
    version: str | None
    created_at: str | None
    # Whether its image is private (downloads are then cached privately).
    private: bool = False
    # Where it was published (heater.images.publication), None if nowhere.
    published: dict[str, Any] | None = None

    @property
    def size(self) -> int | None:
        size = self.manifest.get("size")
        return size if isinstance(size, int) else None

    @property
    def sha256(self) -> str | None:
        hashes = self.manifest.get("hashes")
        return hashes.get("sha256") if isinstance(hashes, dict) else None

    def as_json(self) -> dict[str, object]:
        """The build as the API shows it (``Build``); ``upload_url`` is the
        web layer's to fill in while it is queued."""
        return build_json(self.id, self.repo, self.status, self.version, self.commit, None,
                          self.manifest, None, self.published, self.created_at)


def build_json(build_id: str, repo: RepoId, status: Status, version: str | None,
               commit: str | None, last_commit: str | None, manifest: dict[str, Any],
               deleted: dict[str, Any] | None, published: dict[str, Any] | None,
               created_at: str | None) -> dict[str, object]:
    """A build, live or deleted, in the one shape (``Build``)."""
    size = manifest.get("size") if status is not Status.QUEUED else None
    return {
        "build_id": build_id,
        "image": repo.as_json(),
        "status": status.value,
        "version": version,
        "commit": commit,
        "last_commit": last_commit,
        "size": size if isinstance(size, int) else None,
        "hashes": manifest.get("hashes") if status is not Status.QUEUED else None,
        "deleted": deleted,
        "published": publication.as_json(published),
        "created_at": to_utc(created_at) if created_at else None,
        "upload_url": None,
        "manifest": manifest,
    }


def _cancelled(record: BuildRecord, at: str | None = None,
               by: str | None = None) -> dict[str, object]:
    """The tombstone of a build deleted while queued (when and by whom is
    known only to the deletion's own answer)."""
    deleted = {"reason": "cancelled before its upload", "at": at,
               "by": actor(by) if by is not None else None}
    return build_json(record.id, record.repo, Status.DELETED, _version(record.manifest), None,
                      None, record.manifest, deleted, None, record.created_at)


@dataclass(frozen=True)
class ImageDetail:
    """An image as its detail shows it."""

    info: RepoInfo
    current: ManifestAt | None   # the manifest at ``latest``
    versions: list[dict[str, object]]
    latest_version: str | None
    deprecated: dict[str, Any] | None   # as :func:`heater.repos.lifecycle.deprecation` shows it
    default_branch: str | None

    def as_json(self) -> dict[str, Any]:
        """The image as the API shows it (``ImageDetail``); ``clone_url`` is
        the web layer's to fill in."""
        info, shown = self.info, self.current
        return {
            "namespace": info.repo.namespace,
            "name": info.repo.name,
            "repository_kind": info.kind.value,
            "visibility": info.visibility.value,
            "latest_version": self.latest_version,
            "deprecated": self.deprecated,
            "deleted": None,  # a deleted image answers 410 instead
            "created_at": to_utc(info.created_at) if info.created_at else None,
            "clone_url": None,
            "default_branch": self.default_branch,
            "ref": {**shown.resolved, "requested": LATEST} if shown else None,
            "build_id": shown.build_id if shown else None,
            "manifest": shown.manifest if shown else None,
            "versions": self.versions,
        }


def _version(manifest: dict[str, Any]) -> str | None:
    """The version a manifest asks for, spelt as the versions listing spells it."""
    version = manifest.get("version")
    return str(Version.parse(version)) if isinstance(version, str) else None


def _who(caller: Caller) -> str:
    return caller.name if caller is not None else "anonymous"


class Images:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.blobs: BlobStore = registry.blobs
        self.builds: BuildStore = registry.builds
        # Lifecycle and settings: the same for every kind.
        self.repositories = Repositories(registry, Kind.IMAGE)

    # -- create ------------------------------------------------------------

    def create_build(self, caller: Caller, repo: RepoId, body: object,
                     visibility: Visibility | None = None) -> Build:
        """Validate the manifest and queue a build; the image repository is
        created by its first build, with ``visibility`` (public by default).
        A ``visibility`` given for an existing image must be the one it has
        (:class:`VisibilityMismatch` otherwise)."""
        checked = schema.validate(body)
        # The role is checked before the repository is looked at: a caller
        # without it is refused alike whether the image exists or not, so
        # the answer shows nothing of a private one.
        require_role(caller, repo.namespace, Role.WRITER)
        try:
            view = self.registry.view(caller, repo, role=Role.WRITER)
        except RepositoryNotFound:
            if self.registry.repos.exists(repo):
                raise  # exists but the caller may not see it
            # A concurrent first build may have created it: that is fine.
            with contextlib.suppress(RepositoryExists):
                self.registry.create_repository(caller, repo, Kind.IMAGE,
                                                visibility or Visibility.PUBLIC)
            view = RepoView.open(self.registry.repos, repo)
        with view:
            info = view.info
            if info.kind is not Kind.IMAGE:
                raise WrongKind(repo, info.kind, Kind.IMAGE)
            if visibility is not None and visibility is not info.visibility:
                raise VisibilityMismatch(repo, visibility, info.visibility)
            if "version" in checked:
                repository.check_version_free(view.git, checked["version"])
        record = BuildRecord(str(uuid.uuid4()), repo, checked, Status.QUEUED, now(),
                             _who(caller))
        self.builds.add(record)
        self.registry.record(caller, "queue_build", repo, {"build": record.id})
        return Build(record.id, repo, Status.QUEUED, record.manifest, None,
                     _version(record.manifest), record.created_at)

    # -- read --------------------------------------------------------------

    def show(self, caller: Caller, repo: RepoId) -> ImageDetail:
        """The image's info, its current manifest, versions and deprecation."""
        return self._detail(caller, repo)

    def _detail(self, caller: Caller, repo: RepoId) -> ImageDetail:
        with self.registry.view(caller, repo, Kind.IMAGE) as view:
            deprecated = deprecation(view.state.deprecated, self.repositories.visible(caller))
            best = latest(view.versions)
            return ImageDetail(view.info, lookup.current(view.git), lookup.versions(view.git),
                               str(best.version) if best else None, deprecated,
                               default_branch(view.git))

    def versions(self, caller: Caller, repo: RepoId) -> list[dict[str, object]]:
        with self.registry.view(caller, repo, Kind.IMAGE) as view:
            return lookup.versions(view.git)

    def version(self, caller: Caller, repo: RepoId, version: str) -> dict[str, object]:
        """One version, as :meth:`versions` lists it."""
        wanted = Version.parse(version)  # 400 before anything is read
        with self.registry.view(caller, repo, Kind.IMAGE) as view:
            found = lookup.version(view.git, wanted)
        if found is None:
            raise VersionNotFound(version)
        return found

    def builds_of(self, caller: Caller, repo: RepoId, limit: int,
                  marker: str | None) -> BuildsPage:
        """A page of the image's builds, queued ones included, newest first."""
        with self.registry.view(caller, repo, Kind.IMAGE) as view:
            queued = self.builds.queued(repo)
            return list_builds(view.git, queued, self.builds, limit, marker)

    def update(self, caller: Caller, repo: RepoId, body: Body) -> ImageDetail:
        """Change the image's settings (see
        :meth:`~heater.repos.service.Repositories.update`); its detail after."""
        self.repositories.update(caller, repo, body)
        return self._detail(caller, repo)

    def manifest(self, caller: Caller, repo: RepoId, ref: str) -> ManifestAt:
        """The manifest at ``ref`` (see :func:`heater.images.lookup.manifest_at`)."""
        with self.registry.view(caller, repo, Kind.IMAGE) as view:
            return lookup.manifest_at(view.git, ref)

    def manifests(self, caller: Caller, repo: RepoId, old: str,
                  new: str) -> tuple[ManifestAt, ManifestAt]:
        """The manifests at two refs (see :func:`heater.images.lookup.manifest_at`)."""
        with self.registry.view(caller, repo, Kind.IMAGE) as view:
            return lookup.manifest_at(view.git, old), lookup.manifest_at(view.git, new)

    def get(self, caller: Caller, build_id: str) -> Build:
        """The build as it is now; :class:`BuildDeleted` (410) once deleted."""
        record, view = self._open(caller, build_id, write=False)
        with view:
            return self._state(record, view)

    def _open(self, caller: Caller, build_id: str, *,
              write: bool) -> tuple[BuildRecord, RepoView]:
        """The build's record and a view of its image, if ``caller`` may
        read (or write) it. A build in an image the caller cannot see does
        not exist for them, and the answer does not name the image."""
        try:
            record = self.builds.get(check_uuid(build_id))
        except BuildNotFound:
            # A build of a private image costs a repository look-up to
            # refuse; a missing one must take as long.
            self.registry.look_up_stand_in()
            raise
        try:
            view = self.registry.view(caller, record.repo, Kind.IMAGE,
                                      Role.WRITER if write else None)
        except RepositoryNotFound:
            raise BuildNotFound(record.id) from None
        return record, view

    def _state(self, record: BuildRecord, view: RepoView) -> Build:
        found = repository.find_build(view.git, record.id)
        private = view.info.private
        if found is None:
            if record.status is Status.DELETED:  # cancelled before any upload
                raise BuildDeleted(record.id, _cancelled(record))
            return Build(record.id, record.repo, Status.QUEUED, record.manifest, None,
                         _version(record.manifest), record.created_at, private)
        latest = found.latest.manifest
        version = next((str(v.version) for v in view.versions
                        if v.commit == found.build.sha), None)
        if latest.get("status") == Status.DELETED.value:
            published = latest.get("published")
            raise BuildDeleted(record.id, build_json(
                record.id, record.repo, Status.DELETED, version, found.latest.sha,
                found.build.sha, latest, lookup.deletion(latest),
                published if isinstance(published, dict) else None, record.created_at))
        return Build(record.id, record.repo, Status.ACTIVE, latest, found.build.sha,
                     version, record.created_at, private,
                     publication.read(view.git, record.id))

    def referrers(self, caller: Caller, build_id: str) -> list[Referrer]:
        """The template releases ``caller`` may read that name the build by
        its id (see :mod:`heater.images.referrers`); of a deleted build too,
        whose referrers are what its deletion breaks."""
        record, view = self._open(caller, build_id, write=False)
        view.close()
        return referrers.find(self.registry, caller, record.id)

    def uploaded(self, caller: Caller, build_id: str) -> Build:
        """The build if its bytes can be read (active); 404 while queued."""
        build = self.get(caller, build_id)
        if build.status is not Status.ACTIVE:
            raise BuildNotUploaded(build.id)
        return build

    def read(self, build: Build, start: int, end: int) -> BlobReader:
        """Bytes ``[start, end)`` of an active build (see :meth:`uploaded`)."""
        with blob_errors("read"):
            return self.blobs.open(build.id, start, end)

    def signed_url(self, build: Build, seconds: int) -> str | None:
        """A URL of the blob store serving an active build's bytes for
        ``seconds`` without Heater, or None if the store has none."""
        with blob_errors("read"):
            return self.blobs.url_for(build.id, seconds)

    # -- upload ------------------------------------------------------------

    def upload(self, caller: Caller, build_id: str, body: ReadsInto,
               length: int | None) -> Build:
        """Store the bytes read from ``body`` as a queued build's, then
        commit its manifest.

        On any failure (the stream breaks or is empty, the version got
        taken) nothing is kept and the build stays queued. One upload of a
        build runs at a time (:class:`UploadInProgress` for another); bytes
        that an earlier upload stored but never committed (its process died
        in between) are replaced, so the retry after a crash works at once.
        """
        record, view = self._open(caller, build_id, write=True)
        with upload_lock(self.registry.layout.upload_lock(record.id), record.id):
            with view:  # closed before the bytes stream in, however long that takes
                current = self._state(record, view)
            if current.status is not Status.QUEUED:
                raise BuildNotQueued(record.id, current.status.value)
            if length == 0:
                raise EmptyUpload(record.id)
            # Queued, with no commit in git, and no upload alive: any bytes
            # stored are a dead upload's.
            if self.blobs.delete(record.id):
                log.warning("build %s: removed bytes of an upload that died before "
                            "committing", record.id)
            return self._store(caller, record, body, length, current.private)

    def _store(self, caller: Caller, record: BuildRecord, source: ReadsInto,
               length: int | None, private: bool) -> Build:
        # Refusals come before the commit, so that refused bytes are never stored.
        try:
            with Hashing(length) as hashes, blob_errors("write"), \
                    self.blobs.writer(record.id) as writer:
                # The bytes are received into the writer's memory and hashed
                # there: the writer waits for the hashes before reusing it.
                writer.before_reuse = hashes.hashed
                while received := writer.fill(source):
                    hashes.update(received)
                hashes.finish()
                if writer.size == 0:  # chunked, without a length to refuse it by
                    raise EmptyUpload(record.id)
                if self.builds.get(record.id).status is not Status.QUEUED:
                    raise BuildNotQueued(record.id, "cancelled")
                size = writer.commit()
        except BaseException:
            metrics().uploads.labels("failed").inc()
            raise
        metrics().uploads.labels("stored").inc()
        metrics().upload_bytes.inc(size)
        with self.registry.change(record.repo, caller, "upload") as change:
            change.details.update(build=record.id, bytes=size)
            try:
                body = {"image_id": record.id, "status": Status.ACTIVE.value,
                        **record.manifest, "size": size, "hashes": hashes.hexdigests()}
                version = record.manifest.get("version")
                title = f"Build {record.id}" + (f" ({version})" if version else "")
                sha = repository.commit_manifest(self.registry.repos.path(record.repo), body,
                                                 title, signature(_who(caller)), version)
            except BaseException:
                self.blobs.delete(record.id)
                raise
            self.builds.set_status(record.id, Status.ACTIVE)
        return Build(record.id, record.repo, Status.ACTIVE, body, sha,
                     _version(record.manifest), record.created_at, private)

    # -- delete ------------------------------------------------------------

    def delete(self, caller: Caller, build_id: str,
               delete_published: bool = False) -> dict[str, object]:
        """Commit a tombstone, then remove the bytes; the tombstone record,
        which names the Glance image the build was published as (deleted
        too with ``delete_published``; kept otherwise: clouds may boot it)."""
        record, view = self._open(caller, build_id, write=True)
        with view:
            try:
                current = self._state(record, view)
            except BuildDeleted as gone:
                raise BuildAlreadyDeleted(record.id, gone.record) from None
            if current.status is Status.QUEUED:
                self.builds.set_status(record.id, Status.DELETED)
                return _cancelled(record, now(), _who(caller))
            published = self._unpublish(current, delete_published)
            with self.registry.change(record.repo, caller, "delete_build") as change:
                change.details["build"] = record.id
                if current.version is not None:
                    self._yank(view, record, current.version, caller)
                tombstone: dict[str, Any] = {**current.manifest, "status": Status.DELETED.value,
                                             "deleted_at": now(), "deleted_by": _who(caller)}
                if published is not None:
                    tombstone["published"] = published
                sha = repository.commit_manifest(self.registry.repos.path(record.repo),
                                                 tombstone, f"Delete build {record.id}",
                                                 signature(_who(caller)))
                self.blobs.delete(record.id)
                self.builds.set_status(record.id, Status.DELETED)
        return build_json(record.id, record.repo, Status.DELETED, current.version, sha,
                          current.commit, tombstone, lookup.deletion(tombstone), published,
                          record.created_at)

    def _unpublish(self, build: Build, delete: bool) -> dict[str, Any] | None:
        """The build's publication as its tombstone reports it, with
        ``glance.deleted`` saying whether the Glance image was deleted now
        (asked to, before anything else is: a Glance that cannot be reached
        then stops the deletion, which can simply be asked again)."""
        if build.published is None:
            return None
        glance = build.published.get("glance", {})
        deleted = False
        if delete:
            deleted = self._glance().delete(str(glance.get("image_id")))
        return {**build.published, "glance": {**glance, "deleted": deleted}}

    def _glance(self) -> Glance:
        if self.registry.glance is None:
            raise GlanceNotConfigured()
        return self.registry.glance

    # -- publish -------------------------------------------------------------

    def publish(self, caller: Caller, build_id: str, base_url: str) -> Build:
        """Upload an active build's bytes to Glance under the build's own id,
        check Glance's checksums against the build's, and record where it
        went; the build as it is then. The Glance image points back at the
        raw URL of the build's manifest at its commit, under ``base_url``.

        A publication that stopped half-way (Glance holds a queued or
        active image of this build, not yet recorded) is taken up again."""
        record, view = self._open(caller, build_id, write=True)
        with view:
            build = self._state(record, view)  # BuildDeleted (410) once deleted
        if build.status is not Status.ACTIVE:
            raise BuildNotUploaded(build.id)
        if build.published is not None:
            raise publication.AlreadyPublished(build.id, build.published)
        glance = self._glance()
        # One publication of a build at a time (on any node sharing the data
        # directory): Glance takes the bytes of an image once.
        with upload_lock(self.registry.layout.upload_lock(build.id), build.id):
            image = self._to_glance(glance, build, base_url)
            path = self.registry.repos.path(record.repo)
            recorded = publication.record(path, build.id, image.id, image.url, _who(caller))
        self.registry.record(caller, "publish_build", record.repo,
                             {"build": build.id, "glance": image.url})
        return dataclasses.replace(build, published=recorded)

    def _to_glance(self, glance: Glance, build: Build, base_url: str) -> GlanceImage:
        """Glance's image of ``build``, made and filled now unless an earlier
        attempt did, and checked."""
        image = glance.show(build.id)
        if image is None:
            manifest_url = (f"{base_url}/{build.repo.namespace}/{build.repo.name}/raw/"
                            f"{build.commit}/{repository.MANIFEST}")
            image = glance.create(build.id, glance_fields(build, manifest_url))
        elif image.properties.get(GLANCE_BUILD) != build.id:
            raise GlanceIdTaken(build.id)
        if image.status == "queued":
            with blob_errors("read"):
                reader = self.blobs.open(build.id)
            try:
                glance.upload(build.id, reader, build.size or 0)
            finally:
                reader.close()
            image = glance.show(build.id) or image
        elif image.status != "active":  # Glance is still busy with an earlier attempt
            raise UploadInProgress(build.id)
        try:
            check_glance_copy(build, image)
        except GlanceMismatch:
            # A wrong copy must not be booted. Glance never reuses the id:
            # such a build cannot be published again.
            glance.delete(build.id)
            raise
        return image

    def _yank(self, view: RepoView, record: BuildRecord, version: str, caller: Caller) -> None:
        """Yank the version a deleted build carries, so that it is never
        ``latest`` again for any reader (detail, listing, diff, raw URLs);
        its tag does not move. Done before the tombstone: a delete that
        fails half-way leaves a yanked but intact build, and a retry
        finishes it."""
        # Yanked already: by an earlier attempt of this delete.
        with contextlib.suppress(LifecycleConflict):
            lifecycle_actions.yank(view.git, version, f"build {record.id} was deleted",
                                   _who(caller))


# The Glance property that names the build an image was published from.
GLANCE_BUILD = "heater_build"
# Glance's own image attributes, which a manifest's properties may not set.
GLANCE_RESERVED = frozenset({
    "id", "name", "status", "visibility", "protected", "os_hidden", "owner", "size",
    "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "container_format",
    "disk_format", "created_at", "updated_at", "tags", "file", "self", "schema",
    "direct_url", "locations", "min_ram", "min_disk", "stores",
})


def glance_fields(build: Build, manifest_url: str) -> dict[str, str]:
    """The Glance image record of ``build``: formats, os, the manifest's
    properties, and the way back to the manifest (repository, commit,
    version, its raw URL). A public image is ``community`` in Glance (any
    project boots it by id; ``public`` needs a Glance admin), a private
    one ``private`` to Heater's project."""
    manifest = build.manifest
    os_info: dict[str, Any] = manifest.get("os") or {}
    properties: dict[str, Any] = manifest.get("properties") or {}
    fields = {str(k): str(v) for k, v in properties.items()
              if str(k) not in GLANCE_RESERVED and not str(k).startswith("heater_")}
    fields.update({
        "name": f"{build.repo} {build.version or build.id}",
        "disk_format": str(manifest.get("disk_format")),
        "container_format": str(manifest.get("container_format")),
        "visibility": "private" if build.private else "community",
        "os_distro": str(os_info.get("distro", "")),
        "os_version": str(os_info.get("version", "")),
        GLANCE_BUILD: build.id,
        "heater_repository": str(build.repo),
        "heater_commit": str(build.commit),
        "heater_manifest": manifest_url,
    })
    if build.version is not None:
        fields["heater_version"] = build.version
    return fields


def check_glance_copy(build: Build, image: GlanceImage) -> None:
    """:class:`GlanceMismatch` unless Glance holds exactly the build's bytes:
    the same size, md5 (``checksum``) and ``os_hash_value`` by Glance's
    algorithm (sha512 unless its operator chose another)."""
    hashes = build.manifest.get("hashes") or {}
    wanted = {"status": "active", "size": build.size, "checksum": hashes.get("md5"),
              "os_hash_value": hashes.get(image.hash_algo or "sha512")}
    got = {"status": image.status, "size": image.size, "checksum": image.checksum,
           "os_hash_value": image.hash_value}
    if wanted != got or wanted["os_hash_value"] is None:
        raise GlanceMismatch(build.id, wanted, got)


__all__ = ["Build", "BuildDeleted", "BuildNotFound", "BuildNotQueued", "EmptyUpload", "Images",
           "UploadInProgress"]
