"""The blob store contract: every backend runs every test here, the object
stores against a real Swift (and S3 through Swift's s3api) that the
``swift`` fixture starts.

A new backend adds its factory to the ``backend`` fixture; nothing else
here changes."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import swiftclient

from heater.auth.tokens import Principal, Role
from heater.blobs import (
    BlobExists,
    BlobNotFound,
    BlobStore,
    BlobStoreUnavailable,
    RangeNotSatisfiable,
)
from heater.blobs.filesystem import FilesystemBlobStore
from heater.blobs.parts import PartedWriter
from heater.blobs.s3 import S3BlobStore
from heater.blobs.swift import SwiftBlobStore
from heater.cli.cleanup import sweep
from heater.config import MIN_BLOB_PART_BYTES, Config
from heater.images.builds import Status
from heater.images.service import Images, upload_lock
from heater.images.sweep import abandoned_uploads, orphan_blobs
from heater.names import InvalidName, RepoId
from heater.paths import Layout
from heater.registry import Registry
from heater.repos.store import RepositoryStore
from heater.wiring import build_registry
from tests.blobs.memory import MemoryBlobStore
from tests.conftest import CLOUD_GROUP
from tests.services.swift_server import Swift, SwiftOnKeystone

BLOB = "0b5e9a2c-6c1e-4f7a-9d0e-3f2a1b4c5d6e"
# Object stores take parts of at least this much; smaller blobs go whole.
PART = MIN_BLOB_PART_BYTES


@dataclass
class Backend:
    """A store, and ways to look behind it."""

    store: BlobStore
    # Everything the store keeps (files, objects, segments, multipart
    # uploads), committed blobs included.
    leftovers: Callable[[], list[str]]
    # The directory under which its bytes rest on disk.
    disk: Path
    # The settings that build the same store in another process (None: the
    # memory store, which no other process can see).
    env: dict[str, str] | None = None
    data: Path = field(default_factory=Path)


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def _swift_objects(swift: Swift, *containers: str) -> list[str]:
    conn = swiftclient.Connection(authurl=swift.auth_url, user=swift.user, key=swift.key)
    return _listed(conn, *containers)


def _listed(conn: swiftclient.Connection, *containers: str) -> list[str]:
    names = []
    for container in containers:
        try:
            names += [o["name"] for o in conn.get_container(container, full_listing=True)[1]]
        except swiftclient.ClientException as exc:
            if exc.http_status != 404:
                raise
    return sorted(names)


BACKENDS = ["filesystem", "memory", pytest.param("swift", marks=pytest.mark.e2e),
            pytest.param("s3", marks=pytest.mark.e2e)]
# Swift through Keystone v3 (its fixture needs the session's cloud, so its
# tests share the OpenStack tests' worker, already the longest) runs the
# core of the contract: what goes through Keystone's token on every request.
KEYSTONE = pytest.param("swift-keystone", marks=[pytest.mark.e2e, CLOUD_GROUP])
KEYSTONE_CORE = frozenset({
    "test_put_then_read_back", "test_ranges", "test_write_once",
    "test_large_blob_goes_in_parts_and_reads_back_in_ranges", "test_delete_removes_the_bytes",
    "test_signed_url_serves_the_bytes", "test_dead_writer_leaves_nothing_visible_and_is_swept",
    "test_listing_pages_through_every_blob_with_its_size_and_age",
    "test_bytes_that_no_build_has_are_swept_after_the_grace_period"})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a store runs on every backend (the core on Keystone too)."""
    if "backend" in metafunc.fixturenames:
        keystone = [KEYSTONE] if metafunc.function.__name__ in KEYSTONE_CORE else []
        metafunc.parametrize("backend", [*BACKENDS, *keystone], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    data = tmp_path / "data"
    layout = Layout(data)
    layout.ensure()
    env = {"HEATER_DATA_DIR": str(data)}
    if request.param == "filesystem":
        return Backend(FilesystemBlobStore(layout), lambda: _files(tmp_path), tmp_path,
                       {**env, "HEATER_BLOBS": "filesystem"}, data)
    if request.param == "memory":
        memory = MemoryBlobStore()
        return Backend(memory, lambda: sorted(memory._blobs), tmp_path, None, data)
    swift: Swift = request.getfixturevalue("swift")
    name = f"t{uuid.uuid4().hex[:16]}"  # a container or bucket of this test's own
    if request.param == "swift-keystone":
        keystone: SwiftOnKeystone = request.getfixturevalue("swift_keystone")
        env |= {"HEATER_BLOBS": "swift", "HEATER_SWIFT_AUTH": "keystone",
                "HEATER_SWIFT_AUTH_URL": keystone.auth_url,
                "HEATER_SWIFT_USER": keystone.username, "HEATER_SWIFT_KEY": keystone.password,
                "HEATER_SWIFT_PROJECT": keystone.project,
                "HEATER_SWIFT_REGION": keystone.region,
                "HEATER_SWIFT_CONTAINER": name, "HEATER_BLOB_PART_BYTES": str(PART)}
        on_keystone = _from_env(env)
        assert isinstance(on_keystone, SwiftBlobStore)

        def through_keystone() -> list[str]:
            with on_keystone.connection() as conn:
                return _listed(conn, name, f"{name}_segments")
        return Backend(on_keystone, through_keystone, swift.devices, env, data)
    if request.param == "swift":
        env |= {"HEATER_BLOBS": "swift", "HEATER_SWIFT_AUTH_URL": swift.auth_url,
                "HEATER_SWIFT_USER": swift.user, "HEATER_SWIFT_KEY": swift.key,
                "HEATER_SWIFT_CONTAINER": name, "HEATER_BLOB_PART_BYTES": str(PART)}
        return Backend(_from_env(env), lambda: _swift_objects(swift, name, f"{name}_segments"),
                       swift.devices, env, data)
    env |= {"HEATER_BLOBS": "s3", "HEATER_S3_ENDPOINT": swift.url, "HEATER_S3_BUCKET": name,
            "HEATER_S3_ACCESS_KEY": swift.user, "HEATER_S3_SECRET_KEY": swift.key,
            "HEATER_BLOB_PART_BYTES": str(PART)}
    store = _from_env(env)
    assert isinstance(store, S3BlobStore)

    def leftovers() -> list[str]:
        uploads = store.client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        # s3api keeps the parts in a container of its own.
        return _swift_objects(swift, name, f"{name}+segments") + [
            f"upload:{u['Key']}" for u in uploads]
    return Backend(store, leftovers, swift.devices, env, data)


def _from_env(env: dict[str, str]) -> BlobStore:
    """The store ``heater serve`` would build from these settings."""
    return build_registry(Config.load(environ=env)).blobs


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.store


def on_disk(backend: Backend, marker: bytes) -> list[Path]:
    """The files below the store's disk that hold ``marker``."""
    return [p for p in backend.disk.rglob("*") if p.is_file() and marker in p.read_bytes()]


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def read_all(store: BlobStore, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
    reader = store.open(blob_id, start, end)
    try:
        parts = []
        while part := reader.read(777):
            parts.append(part)
        return b"".join(parts)
    finally:
        reader.close()


def test_put_then_read_back(store: BlobStore) -> None:
    data = os.urandom(10_000)
    assert store.put(BLOB, chunks(data)) == len(data)
    assert store.stat(BLOB).size == len(data)
    assert hashlib.sha256(read_all(store, BLOB)).digest() == hashlib.sha256(data).digest()


def test_empty_blob(store: BlobStore) -> None:
    assert store.put(BLOB, iter([])) == 0
    assert store.stat(BLOB).size == 0
    assert read_all(store, BLOB) == b""


def test_ranges(store: BlobStore) -> None:
    data = bytes(range(256)) * 10
    store.put(BLOB, chunks(data))
    assert read_all(store, BLOB, 10, 20) == data[10:20]
    assert read_all(store, BLOB, 2000) == data[2000:]
    assert read_all(store, BLOB, len(data), len(data)) == b""
    reader = store.open(BLOB, 5, 9)
    assert reader.read() == data[5:9]
    assert reader.read() == b""
    reader.close()


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 4), (0, 2561), (2561, None)])
def test_range_outside_is_refused(store: BlobStore, start: int, end: int | None) -> None:
    store.put(BLOB, chunks(bytes(2560)))
    with pytest.raises(RangeNotSatisfiable, match="not inside") as refused:
        store.open(BLOB, start, end)
    assert (refused.value.size, refused.value.start, refused.value.end) == (2560, start, end)
    assert refused.value.code == "invalid_range"


def test_write_once(store: BlobStore) -> None:
    store.put(BLOB, chunks(b"first"))
    with pytest.raises(BlobExists):
        store.put(BLOB, chunks(b"second"))
    assert read_all(store, BLOB) == b"first"


@pytest.mark.parametrize("size", [5000, 3 * PART + 1], ids=["small", "in-parts"])
def test_failed_stream_leaves_nothing(backend: Backend, size: int) -> None:
    store = backend.store

    def broken() -> Iterator[bytes]:
        yield from chunks(os.urandom(size), 1024 * 1024)
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(BLOB, broken())
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    assert backend.leftovers() == []
    assert store.put(BLOB, chunks(b"retry")) == 5  # the id is still free


def test_missing_blob(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    with pytest.raises(BlobNotFound):
        store.open(BLOB)
    assert store.delete(BLOB) is False


@pytest.mark.parametrize("parts", [0, 3], ids=["whole", "in-parts"])
def test_delete_removes_the_bytes(backend: Backend, parts: int) -> None:
    store = backend.store
    marker = f"secret image {uuid.uuid4()}".encode()
    data = marker + os.urandom(parts * PART)
    store.put(BLOB, chunks(data, 1024 * 1024))
    assert on_disk(backend, marker) or isinstance(store, MemoryBlobStore)
    assert store.delete(BLOB) is True
    with pytest.raises(BlobNotFound):
        store.open(BLOB)
    assert store.delete(BLOB) is False
    assert backend.leftovers() == []  # segments and parts too
    assert on_disk(backend, marker) == []


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", "AB", "", ".hidden"])
def test_ids_that_could_escape_are_refused(store: BlobStore, bad: str) -> None:
    with pytest.raises(InvalidName):
        store.stat(bad)


def test_writer_commits_what_was_written(store: BlobStore) -> None:
    with store.writer(BLOB) as writer:
        writer.write(b"abc")
        writer.write(b"")
        writer.write(b"def")
        assert writer.size == 6
        with pytest.raises(BlobNotFound):  # nothing is visible before the commit
            store.stat(BLOB)
        assert writer.commit() == 6
    assert read_all(store, BLOB) == b"abcdef"


class Dribble:
    """A source giving at most ``most`` bytes per read, as a socket does."""

    def __init__(self, data: bytes, most: int) -> None:
        self.data = io.BytesIO(data)
        self.most = most

    def readinto(self, buffer: memoryview, /) -> int:
        return self.data.readinto(buffer[:self.most])


@pytest.mark.parametrize("size", [0, 5000, PART, 2 * PART + 1],
                         ids=["empty", "small", "one-part", "in-parts"])
@pytest.mark.parametrize("in_flight", [1, 3])
def test_fill_reads_the_source_into_the_blob(backend: Backend, size: int,
                                             in_flight: int) -> None:
    """``fill`` stores what it returns, and overwrites the memory of what it
    returned only after ``before_reuse`` covered it."""
    store = backend.store if backend.env is None else _from_env(
        {**backend.env, "HEATER_BLOB_PARTS_IN_FLIGHT": str(in_flight)})
    data = os.urandom(size)
    looked_at: list[tuple[int, memoryview]] = []  # (offset, view) not yet released

    def before_reuse(offset: int) -> None:
        for start, view in looked_at:
            assert view == data[start:start + len(view)], "overwritten before its release"
        looked_at[:] = [(start, view) for start, view in looked_at
                        if start + len(view) > offset]

    with store.writer(BLOB) as writer:
        writer.before_reuse = before_reuse
        while received := writer.fill(Dribble(data[writer.size:], 700_001), 1024 * 1024):
            assert received.readonly
            looked_at.append((writer.size - len(received), received))
        before_reuse(0)
        assert len(writer.fill(Dribble(b"", 1))) == 0
        assert writer.commit() == size
    assert read_all(store, BLOB) == data
    if backend.env is not None and backend.env["HEATER_BLOBS"] != "filesystem":
        # A blob that ends with its first part is one object, not a large one.
        assert (backend.leftovers() == [BLOB]) is (size <= PART)


@pytest.mark.parametrize("size", [5000, 2 * PART + 1], ids=["small", "in-parts"])
def test_cancelled_writer_leaves_nothing(backend: Backend, size: int) -> None:
    store = backend.store
    writer = store.writer(BLOB)
    writer.write(os.urandom(size))
    writer.cancel()
    writer.cancel()  # harmless twice
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    assert backend.leftovers() == []


def test_writer_left_without_commit_is_cancelled(backend: Backend) -> None:
    store = backend.store
    with pytest.raises(RuntimeError), store.writer(BLOB) as writer:
        writer.write(b"half an image")
        raise RuntimeError("the request failed")
    with store.writer(BLOB):  # and without an error too
        pass
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    assert backend.leftovers() == []


def test_writer_of_a_stored_blob_is_refused(store: BlobStore) -> None:
    store.put(BLOB, chunks(b"first"))
    with pytest.raises(BlobExists) as refused:
        store.writer(BLOB)
    assert refused.value.blob_id == BLOB


@pytest.mark.parametrize("size", [5, 2 * PART + 1], ids=["small", "in-parts"])
def test_second_of_two_racing_writers_loses(backend: Backend, size: int) -> None:
    store = backend.store
    first, second = store.writer(BLOB), store.writer(BLOB)
    first.write(b"first")
    second.write(b"second" * size)
    assert first.commit() == 5
    with pytest.raises(BlobExists):
        second.commit()
    assert read_all(store, BLOB) == b"first"
    # The loser's bytes are gone: the store keeps the winner's only.
    assert backend.leftovers() == [BLOB]


def test_download_url_is_absent_or_a_url(store: BlobStore) -> None:
    url = store.url_for(BLOB, expires_in=300)
    assert url is None or "://" in url


def test_large_blob_goes_in_parts_and_reads_back_in_ranges(backend: Backend) -> None:
    store = backend.store
    data = os.urandom(3 * PART + 123)
    assert store.put(BLOB, chunks(data, 1024 * 1024 + 7)) == len(data)
    assert store.stat(BLOB).size == len(data)
    assert hashlib.sha256(read_all(store, BLOB)).digest() == hashlib.sha256(data).digest()
    for start, end in [(PART - 10, PART + 10), (2 * PART, None), (0, 1), (len(data) - 1, None)]:
        assert read_all(store, BLOB, start, end) == data[start:end]
    if isinstance(store, FilesystemBlobStore | MemoryBlobStore):
        return
    # In an object store: one large object of several parts, not one request.
    assert len(backend.leftovers()) >= 4


def test_signed_url_serves_the_bytes(store: BlobStore) -> None:
    data = os.urandom(3000)
    store.put(BLOB, chunks(data))
    url = store.url_for(BLOB, expires_in=300)
    if url is None or not url.startswith("http"):
        return  # nothing to fetch: Heater streams the bytes itself
    whole = requests.get(url, timeout=30)
    assert (whole.status_code, whole.content) == (200, data)
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=30)
    assert (part.status_code, part.content) == (206, data[100:200])
    forged = requests.get(url.replace(BLOB, BLOB[:-1] + "f"), timeout=30)
    assert forged.status_code in (401, 403)


# Run by another Python: a writer whose process dies (no commit, no cancel)
# after sending parts, with one more in flight.
DYING_WRITER = textwrap.dedent("""
    import os, sys
    from heater.config import Config
    from heater.wiring import build_registry
    writer = build_registry(Config.load()).blobs.writer(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        writer.write(os.urandom(1024 * 1024))
    os._exit(0)
""")


def test_dead_writer_leaves_nothing_visible_and_is_swept(backend: Backend) -> None:
    store = backend.store
    if backend.env is None:  # the memory store: its writer dies with the writer object
        writer = store.writer(BLOB)
        writer.write(os.urandom(5000))
        del writer
    else:
        mib = 3 * PART // (1024 * 1024) + 1
        subprocess.run([sys.executable, "-c", DYING_WRITER, BLOB, str(mib)],
                       env={**os.environ, **backend.env}, check=True, timeout=120)
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    report = sweep(RepositoryStore(Layout(backend.data)), grace_seconds=-60,
                   sweepers=[lambda cutoff: abandoned_uploads(store, cutoff)])
    assert backend.leftovers() == []
    if backend.env is not None:
        assert report.removed  # something was there, and is gone
    assert store.put(BLOB, chunks(b"retry")) == 5


def test_sweep_spares_committed_blobs_and_live_uploads(backend: Backend) -> None:
    store = backend.store
    data = os.urandom(2 * PART + 1)
    store.put(BLOB, chunks(data, 1024 * 1024))
    stored = backend.leftovers()
    with store.writer(str(uuid.uuid4())) as live:
        live.write(os.urandom(2 * PART + 1))  # a part or more sent already
        assert store.abandoned(time.time() - 60) == []  # younger than the cutoff: alive
    # However old, a committed blob's parts are never taken for a dead upload's.
    assert store.abandoned(time.time() + 60) == []
    assert backend.leftovers() == stored
    assert read_all(store, BLOB) == data


def test_listing_pages_through_every_blob_with_its_size_and_age(backend: Backend) -> None:
    store = backend.store
    assert list(store.stored()) == []
    sizes = {str(uuid.uuid4()): size for size in (0, 1, 5000, 5001, 2 * PART + 1)}
    before = time.time()
    for blob_id, size in sizes.items():
        store.put(blob_id, chunks(os.urandom(size), 1024 * 1024))
    with store.writer(str(uuid.uuid4())) as live:
        live.write(os.urandom(2 * PART + 1))  # its parts are on their way: not a blob
        listed = list(store.stored(page=2))  # three pages and an empty one
    after = time.time()
    assert sorted(blob.blob_id for blob in listed) == sorted(sizes)  # each once
    assert {blob.blob_id: blob.size for blob in listed} == sizes
    # The store's clock (S3 lists whole seconds) is this machine's.
    assert all(before - 2 <= blob.modified <= after + 2 for blob in listed), listed
    store.delete(next(iter(sizes)))
    assert len(list(store.stored())) == len(sizes) - 1


ADMIN = Principal("sweep-test", Role.ADMIN, None)
MANIFEST = {"disk_format": "qcow2", "container_format": "bare",
            "os": {"distro": "debian", "version": "12"}, "packages": []}


def _registry(data: Path, blobs: BlobStore) -> Registry:
    """A registry on ``data`` keeping its image bytes in ``blobs``."""
    registry = build_registry(Config.load(environ={"HEATER_DATA_DIR": str(data)}))
    registry.blobs = blobs
    return registry


def _failing(backend: Backend) -> BlobStore:
    """A store that does not remove ``backend``'s bytes: the object store
    refusing wrong credentials, or (local stores) another, empty, store."""
    if backend.env is None or backend.env["HEATER_BLOBS"] == "filesystem":
        return MemoryBlobStore()
    wrong = {"HEATER_SWIFT_KEY": "not-the-key", "HEATER_S3_SECRET_KEY": "not-the-key"}
    return _from_env({**backend.env, **{k: v for k, v in wrong.items() if k in backend.env}})


def test_bytes_that_no_build_has_are_swept_after_the_grace_period(
        backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    registry = _registry(backend.data, store)
    images = Images(registry)
    image = RepoId("acme", "img")

    def queued() -> str:
        return images.create_build(ADMIN, image, dict(MANIFEST)).id

    kept = queued()
    images.upload(ADMIN, kept, io.BytesIO(b"an uploaded build"), None)
    died = queued()  # its upload stored the bytes and died before committing
    store.put(died, chunks(os.urandom(2 * PART + 1), 1024 * 1024))
    deleted = queued()
    images.upload(ADMIN, deleted, io.BytesIO(b"a deleted build"), None)
    # The tombstone is committed, the removal of the bytes fails.
    with contextlib.suppress(BlobStoreUnavailable):
        Images(_registry(backend.data, _failing(backend))).delete(ADMIN, deleted)
    assert images.builds.get(deleted).status in (Status.ACTIVE, Status.DELETED)
    unnamed = str(uuid.uuid4())  # bytes whose build row was never written, or lost
    store.put(unnamed, chunks(b"nobody's"))
    busy = queued()  # being uploaded again right now
    store.put(busy, chunks(b"a dead upload's"))
    assert sorted(b.blob_id for b in store.stored()) == sorted(
        [kept, died, deleted, unnamed, busy])

    def sweep_at(cutoff: float, on: Registry = registry) -> list[str]:
        return sorted(p.name for p in orphan_blobs(store, on.repos, on.builds, cutoff))

    assert sweep_at(time.time() - 600) == []  # all younger than the grace period
    # A data directory without a single build does not own the store's bytes.
    assert sweep_at(time.time() + 60, _registry(tmp_path / "other", store)) == []
    with upload_lock(registry.layout.upload_lock(busy), busy):
        assert sweep_at(time.time() + 60) == sorted([died, deleted, unnamed])
    assert sweep_at(time.time() + 60) == [busy]
    assert [b.blob_id for b in store.stored()] == [kept]
    if not isinstance(store, FilesystemBlobStore | MemoryBlobStore):
        assert backend.leftovers() == [kept]  # the segments and parts too
    assert read_all(store, kept) == b"an uploaded build"
    # Nothing is left to refuse the ids: retries store their bytes again.
    assert images.upload(ADMIN, died, io.BytesIO(b"retry"), None).status is Status.ACTIVE
    assert store.put(unnamed, chunks(b"again")) == 5


def test_parts_sent_at_once_keep_their_order(backend: Backend) -> None:
    """With several parts in flight (``blob_parts_in_flight``) they may end
    in any order: the blob is still the bytes in the order written, and a
    stream that breaks while parts are in flight leaves nothing."""
    store = backend.store if backend.env is None else _from_env(
        {**backend.env, "HEATER_BLOB_PARTS_IN_FLIGHT": "3"})
    data = b"".join(os.urandom(64) * (PART // 64) for _ in range(4)) + b"tail"
    other = str(uuid.uuid4())

    def broken() -> Iterator[bytes]:
        yield from chunks(data, 1024 * 1024)
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(other, broken())
    assert backend.leftovers() == []
    assert store.put(BLOB, chunks(data, 1024 * 1024 + 7)) == len(data)
    assert hashlib.sha256(read_all(store, BLOB)).digest() == hashlib.sha256(data).digest()
    for start in range(0, 4 * PART, PART):  # each part where it belongs
        assert read_all(store, BLOB, start, start + 64) == data[start:start + 64]
    with store.writer(str(uuid.uuid4())) as writer:
        assert not isinstance(writer, PartedWriter) or writer.parts_in_flight == 3
