"""What the Swift backend does beyond the contract: parts sent from their
memory files (``sendfile``), with the token renewal and the fallback that
path needs, against the real Swift all-in-one."""

from __future__ import annotations

import os
import uuid

import pytest
import swiftclient

from heater.blobs import CHUNK, BlobStoreUnavailable
from heater.blobs.swift import SwiftBlobStore, SwiftSettings
from heater.config import MIN_BLOB_PART_BYTES
from tests.services.swift_server import Swift

pytestmark = pytest.mark.e2e

PART = MIN_BLOB_PART_BYTES


def _store(swift: Swift) -> SwiftBlobStore:
    return SwiftBlobStore(SwiftSettings(auth_url=swift.auth_url, user=swift.user, key=swift.key,
                                        container=f"t{uuid.uuid4().hex[:16]}", part_bytes=PART))


def _chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


def _read(store: SwiftBlobStore, blob_id: str) -> bytes:
    reader = store.open(blob_id)
    try:
        return b"".join(iter(lambda: reader.read(CHUNK), b""))
    finally:
        reader.close()


@pytest.mark.parametrize("size", [5000, 2 * PART + 1], ids=["whole", "in-parts"])
def test_a_refused_token_is_renewed(swift: Swift, size: int) -> None:
    store = _store(swift)
    blob = str(uuid.uuid4())
    data = os.urandom(size)
    expired = "AUTH_tk" + "0" * 32  # as far as Swift knows
    with store.writer(blob) as writer:  # the containers exist, a token is kept
        assert store._auth is not None
        store._auth = (store._auth[0], expired)  # the parts' and the whole's token
        writer.write(data)
        assert writer.commit() == size
    assert store._auth[1] != expired
    assert _read(store, blob) == data


def test_parts_go_through_swiftclient_without_memory_files(
        swift: Swift, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the system has no memory files (not Linux), the parts are read
    by swiftclient from their buffers, as large blobs still are."""
    monkeypatch.delattr(os, "memfd_create")
    store = _store(swift)
    blob = str(uuid.uuid4())
    data = os.urandom(2 * PART + 1)
    assert store.put(blob, _chunks(data)) == len(data)
    assert _read(store, blob) == data
    conn = swiftclient.Connection(authurl=swift.auth_url, user=swift.user, key=swift.key)
    segments = conn.get_container(f"{store.container}_segments")[1]
    assert [s["bytes"] for s in segments] == [PART, PART, 1]


def test_a_refused_part_is_a_store_failure(swift: Swift) -> None:
    """Swift's refusal of a part (here: the segments container is gone) is
    the store's failure, and nothing is left under the blob's name."""
    store = _store(swift)
    store.writer(str(uuid.uuid4())).cancel()
    conn = swiftclient.Connection(authurl=swift.auth_url, user=swift.user, key=swift.key)
    conn.delete_container(f"{store.container}_segments")
    blob = str(uuid.uuid4())
    with pytest.raises(BlobStoreUnavailable, match="404"):
        store.put(blob, _chunks(os.urandom(2 * PART + 1)))
    assert conn.get_container(store.container)[1] == []
