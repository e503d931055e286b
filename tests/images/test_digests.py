"""Hashing while streaming, and short or long bodies."""

from __future__ import annotations

import hashlib
import os

import pytest

from heater.images.digests import Hashing, UploadIncomplete, UploadTooLong


def test_digests_match_hashlib() -> None:
    chunks = [os.urandom(70_000) for _ in range(20)]
    data = b"".join(chunks)
    with Hashing(len(data)) as hashes:
        for chunk in chunks:
            hashes.update(memoryview(chunk))
        hashes.hashed(len(data))  # returns: every byte given is hashed
        hashes.finish()
    assert hashes.size == len(data)
    assert hashes.hexdigests() == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
    }


def test_short_body_fails_at_its_end() -> None:
    with Hashing(10) as hashes:
        hashes.update(b"abc")
        with pytest.raises(UploadIncomplete) as caught:
            hashes.finish()
    assert (caught.value.received, caught.value.expected) == (3, 10)


def test_long_body_is_refused() -> None:
    with Hashing(4) as hashes:
        hashes.update(b"abc")
        with pytest.raises(UploadTooLong):
            hashes.update(b"def")


def test_unknown_length_is_whatever_arrives() -> None:
    with Hashing(None) as hashes:
        hashes.update(b"abc")
        hashes.update(b"")
        hashes.finish()
    assert hashes.size == 3
