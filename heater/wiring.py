"""The composition root: the one place where configuration becomes objects.

Every store, listener and sweeper is built here, explicitly; no module
registers anything with another as a side effect of being imported. The
HTTP application, ``heater serve`` and the other commands each call the
function that builds what they use, and nothing more: ``heater token``
opens the token store alone, so it creates no repositories, hooks or blob
directories.

Kept apart from :mod:`heater.registry` so that code which only uses a
registry (services, handlers) does not import every backend, and so that
adding a backend (PostgreSQL, Swift, S3, Keystone) means adding one entry
to a table below and a name to :data:`heater.config.SETTINGS`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from functools import partial

from heater.auth.identity import HeaterTokens, Identity
from heater.auth.keystone import AuthToken, KeystoneIdentity, ServiceUser
from heater.auth.signing import Signing
from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import Caller, TokenStore
from heater.blobs import BlobStore
from heater.blobs.filesystem import FilesystemBlobStore
from heater.catalog import EXTRACTORS
from heater.catalog.index import CatalogIndex, IndexUnavailable
from heater.catalog.indexer import Catalog
from heater.catalog.sqlite import SqliteIndex
from heater.cli.cleanup import DEFAULT_GRACE_SECONDS, Report, Sweeper, sweep
from heater.config import Config
from heater.git.housekeeping import repack
from heater.images.builds import BuildStore
from heater.images.glance import Glance
from heater.images.sqlite import SqliteBuildStore
from heater.images.sweep import abandoned_uploads, finished_upload_locks, orphan_blobs
from heater.names import RepoId
from heater.observe.audit import AuditLog
from heater.observe.metrics import metrics
from heater.paths import Layout
from heater.push.hook import install as install_hook
from heater.registry import ChangeListener, Registry
from heater.repos.store import RepositoryStore

log = logging.getLogger(__name__)

# The PostgreSQL stores are imported when configured: psycopg takes 0.15 s
# to import, which every command would pay. (config.dsn is set whenever
# index is postgresql: Config checks it.)
def _postgres_index(_layout: Layout, config: Config) -> CatalogIndex:
    from heater.catalog.postgres import PostgresIndex

    return PostgresIndex(str(config.dsn))


def _postgres_builds(_layout: Layout, config: Config) -> BuildStore:
    from heater.images.postgres import PostgresBuildStore

    return PostgresBuildStore(str(config.dsn))


def _postgres_tokens(_layout: Layout, config: Config) -> TokenStore:
    from heater.auth.postgres import PostgresTokenStore

    return PostgresTokenStore(str(config.dsn))


# One factory per backend name that heater.config allows. The index is
# created only by a rebuild (Catalog.rebuild, Catalog.ensure_built), never
# by a read or a write.
INDEX_BACKENDS: Mapping[str, Callable[[Layout, Config], CatalogIndex]] = {
    "sqlite": lambda layout, _config: SqliteIndex(layout.index_db, create=False),
    "postgresql": _postgres_index,
}
# Queued builds and tokens live in the database the index setting names
# (files of their own for SQLite: the index is a cache that a rebuild may
# discard), so that with PostgreSQL every node shares them.
BUILD_BACKENDS: Mapping[str, Callable[[Layout, Config], BuildStore]] = {
    "sqlite": lambda layout, _config: SqliteBuildStore(layout.builds_db),
    "postgresql": _postgres_builds,
}
TOKEN_BACKENDS: Mapping[str, Callable[[Layout, Config], TokenStore]] = {
    "sqlite": lambda layout, _config: SqliteTokenStore(layout.auth_db),
    "postgresql": _postgres_tokens,
}


def _swift(layout: Layout, config: Config) -> BlobStore:
    from heater.blobs.swift import SwiftBlobStore, SwiftSettings  # its client only when chosen
    return SwiftBlobStore(SwiftSettings(
        auth_url=config.swift_auth_url, user=config.swift_user, key=config.swift_key,
        container=config.swift_container, auth=config.swift_auth,
        project=config.swift_project, user_domain=config.swift_domain,
        project_domain=config.swift_domain, region=config.swift_region,
        part_bytes=config.blob_part_bytes, parts_in_flight=config.blob_parts_in_flight))


def _s3(layout: Layout, config: Config) -> BlobStore:
    from heater.blobs.s3 import S3BlobStore, S3Settings  # botocore only when chosen
    return S3BlobStore(S3Settings(
        endpoint=config.s3_endpoint, bucket=config.s3_bucket,
        access_key=config.s3_access_key, secret_key=config.s3_secret_key,
        region=config.s3_region, part_bytes=config.blob_part_bytes,
        parts_in_flight=config.blob_parts_in_flight))


BLOB_BACKENDS: Mapping[str, Callable[[Layout, Config], BlobStore]] = {
    "filesystem": lambda layout, _config: FilesystemBlobStore(layout),
    "swift": _swift,
    "s3": _s3,
}
# Heater's own tokens are kept with the index (its SQLite file or database)
# whatever the identity:
# `heater token` manages them, and identity keystone accepts them too
# unless switched off.
def _keystone(tokens: TokenStore, config: Config) -> Identity:
    url = config.keystone_url or ""  # Config requires it with identity keystone
    service = ServiceUser(config.keystone_service_user, config.keystone_service_password,
                          config.keystone_service_project, config.keystone_service_user_domain,
                          config.keystone_service_project_domain)
    return KeystoneIdentity(
        url, auth_token=AuthToken(url, service, cache_seconds=config.keystone_cache_seconds,
                                  memcached_servers=config.keystone_memcached_servers),
        cache_seconds=config.keystone_cache_seconds, namespaces=config.keystone_namespaces,
        heater_tokens=HeaterTokens(tokens) if config.keystone_heater_tokens == "on" else None)


IDENTITY_BACKENDS: Mapping[str, Callable[[TokenStore, Config], Identity]] = {
    "tokens": lambda tokens, config: HeaterTokens(tokens),
    "keystone": _keystone,
}


def build_registry(config: Config) -> Registry:
    """The stores of ``config``'s data directory on its backends. Nothing
    is created on disk until a store is used."""
    layout = Layout(config.data_dir)
    tokens = TOKEN_BACKENDS[config.index](layout, config)
    return Registry(
        layout,
        repos=RepositoryStore(layout),
        tokens=tokens,
        identity=IDENTITY_BACKENDS[config.identity](tokens, config),
        blobs=BLOB_BACKENDS[config.blobs](layout, config),
        builds=BUILD_BACKENDS[config.index](layout, config),
        audit=AuditLog(config.audit_log or layout.audit_log),
        glance=Glance(config.keystone_url or "", config.glance_credential, config.glance_url)
        if config.glance_credential is not None else None,
        signing=Signing(layout.url_signing_key, config.url_signing_key),
    )


def build_catalog(registry: Registry, config: Config) -> Catalog:
    """The catalog of ``registry``'s repositories on the configured index."""
    index = INDEX_BACKENDS[config.index](registry.layout, config)
    return Catalog(registry.repos, index, EXTRACTORS)


def prepare_to_serve(registry: Registry) -> None:
    """Make what serving needs: the data directory's layout, the
    pre-receive hook every repository runs and the build store's schema
    (all idempotent)."""
    registry.layout.ensure()
    install_hook(registry.layout.hooks)
    registry.builds.ensure_schema()


def sweepers(registry: Registry) -> list[Sweeper]:
    """The stores' own clean-ups, beside the scratch that git leaves."""
    return [
        partial(orphan_blobs, registry.blobs, registry.repos, registry.builds),
        partial(finished_upload_locks, registry.layout, registry.builds),
        partial(abandoned_uploads, registry.blobs),
    ]


def clean_up(registry: Registry, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> Report:
    """Remove what interrupted pushes, creations and uploads left behind."""
    return sweep(registry.repos, grace_seconds, sweepers(registry))


def repack_all(registry: Registry, min_packs: int) -> list[RepoId]:
    """Repack every repository with ``min_packs`` packs or more (see
    :mod:`heater.git.housekeeping`); those it repacked."""
    return [repo for repo in registry.repos if repack(registry.repos.path(repo), min_packs)]


def _timed(listener: ChangeListener) -> ChangeListener:
    """``listener``, its run time observed as the index refresh time."""
    def timed(repo: RepoId, caller: Caller) -> None:
        with metrics().index_refresh.time():
            listener(repo, caller)
    return timed


def start_application(config: Config) -> tuple[Registry, Catalog]:
    """The registry and catalog an application process serves from, wired:
    every change is told to the catalog before its request answers, a
    missing or lost index is rebuilt, and what a crashed process could
    not tell the index is replayed."""
    registry = build_registry(config)
    prepare_to_serve(registry)
    catalog = build_catalog(registry, config)
    try:
        catalog.ensure_built()  # also heals a lost index when a crashed worker restarts
    except IndexUnavailable as exc:  # git and reads by name still serve; listings say 503
        log.error("%s", exc.message)
    registry.on_change(_timed(catalog.on_change))
    registry.replay_pending_changes()
    return registry, catalog


def replay_in_background(registry: Registry, seconds: int) -> threading.Event | None:
    """Every ``seconds``, on a daemon thread of this process, replay the
    pending changes whose writers died, on this node or another (a node
    that stays up would otherwise never hear of them); set the event
    returned to stop. None for 0 (never)."""
    if seconds <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                registry.replay_pending_changes()
            except Exception:  # the next round tries again
                log.exception("replaying pending changes failed")

    threading.Thread(target=loop, name="heater-replay", daemon=True).start()
    return stop
