"""Hashing while streaming, and short or long bodies."""

from __future__ import annotations

import hashlib
import os

import pytest

from heater.images.digests import HashingStream, UploadIncomplete, UploadTooLong


def test_digests_match_hashlib() -> None:
    chunks = [os.urandom(70_000) for _ in range(20)]
    stream = HashingStream(chunks, sum(map(len, chunks)))
    assert list(stream) == chunks
    data = b"".join(chunks)
    assert stream.size == len(data)
    assert stream.hexdigests() == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
    }


def test_short_body_fails_before_its_end() -> None:
    stream = HashingStream([b"abc"], 10)
    with pytest.raises(UploadIncomplete) as caught:
        list(stream)
    assert (caught.value.received, caught.value.expected) == (3, 10)


def test_long_body_is_refused() -> None:
    with pytest.raises(UploadTooLong):
        list(HashingStream([b"abc", b"def"], 4))


def test_unknown_length_is_whatever_arrives() -> None:
    stream = HashingStream([b"abc", b""], None)
    list(stream)
    assert stream.size == 3
