"""The blob store contract: every backend runs every test here.

A new backend adds its factory to the ``store`` fixture; nothing else here
changes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from heater.blobs import BlobExists, BlobNotFound, BlobStore, RangeNotSatisfiable
from heater.blobs.filesystem import FilesystemBlobStore
from heater.blobs.memory import MemoryBlobStore
from heater.names import InvalidName
from heater.paths import Layout

BLOB = "0b5e9a2c-6c1e-4f7a-9d0e-3f2a1b4c5d6e"


@pytest.fixture(params=["filesystem", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "filesystem":
        layout = Layout(tmp_path / "data")
        layout.ensure()
        return FilesystemBlobStore(layout)
    return MemoryBlobStore()


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


def test_failed_stream_leaves_nothing(store: BlobStore, tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"x" * 5000
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(BLOB, broken())
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []
    assert store.put(BLOB, chunks(b"retry")) == 5  # the id is still free


def test_missing_blob(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    with pytest.raises(BlobNotFound):
        store.open(BLOB)
    assert store.delete(BLOB) is False


def test_delete_removes_the_bytes(store: BlobStore, tmp_path: Path) -> None:
    store.put(BLOB, chunks(b"secret image"))
    assert store.delete(BLOB) is True
    with pytest.raises(BlobNotFound):
        store.open(BLOB)
    assert not any(b"secret image" in p.read_bytes()
                   for p in tmp_path.rglob("*") if p.is_file())


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


def test_cancelled_writer_leaves_nothing(store: BlobStore, tmp_path: Path) -> None:
    writer = store.writer(BLOB)
    writer.write(b"x" * 5000)
    writer.cancel()
    writer.cancel()  # harmless twice
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_writer_left_without_commit_is_cancelled(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), store.writer(BLOB) as writer:
        writer.write(b"half an image")
        raise RuntimeError("the request failed")
    with store.writer(BLOB):  # and without an error too
        pass
    with pytest.raises(BlobNotFound):
        store.stat(BLOB)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_writer_of_a_stored_blob_is_refused(store: BlobStore) -> None:
    store.put(BLOB, chunks(b"first"))
    with pytest.raises(BlobExists) as refused:
        store.writer(BLOB)
    assert refused.value.blob_id == BLOB


def test_second_of_two_racing_writers_loses(store: BlobStore, tmp_path: Path) -> None:
    first, second = store.writer(BLOB), store.writer(BLOB)
    first.write(b"first")
    second.write(b"second")
    assert first.commit() == 5
    with pytest.raises(BlobExists):
        second.commit()
    assert read_all(store, BLOB) == b"first"
    # The loser's bytes are gone (a file-based store keeps the winner's only).
    assert all(p.name == BLOB for p in tmp_path.rglob("*") if p.is_file())


def test_download_url_is_absent_or_a_url(store: BlobStore) -> None:
    url = store.url_for(BLOB, expires_in=300)
    assert url is None or "://" in url
