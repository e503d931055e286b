"""The signature of signed raw URLs, and where its key comes from."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from heater.auth.signing import KEY_BYTES, Signing, UrlSigner, load_key
from heater.config import Config, ConfigError
from heater.names import RepoId

REPO, OTHER = RepoId("acme", "web"), RepoId("acme", "db")
COMMIT, LATER = "a" * 40, "b" * 40
NOW = 1_800_000_000


def test_a_signature_opens_one_commit_of_one_repository_until_it_expires() -> None:
    signer = UrlSigner(b"k" * KEY_BYTES)
    signature = signer.sign(REPO, COMMIT, NOW + 60)
    assert signature.startswith(f"{NOW + 60}.")
    assert signer.verify(REPO, COMMIT, signature, NOW)
    assert not signer.verify(REPO, COMMIT, signature, NOW + 60)  # expired
    assert not signer.verify(OTHER, COMMIT, signature, NOW)
    assert not signer.verify(RepoId("acme", "webx"), COMMIT, signature, NOW)
    assert not signer.verify(REPO, LATER, signature, NOW)
    assert not signer.verify(REPO, COMMIT[:12], signature, NOW)
    assert not signer.verify(REPO, COMMIT.upper(), signature, NOW)
    # The expiry is signed: moving it breaks the signature.
    assert not signer.verify(REPO, COMMIT, f"{NOW + 9999}.{signature.split('.')[1]}", NOW)
    assert not UrlSigner(b"x" * KEY_BYTES).verify(REPO, COMMIT, signature, NOW)
    for broken in ("", signature[:-1], signature + "A", signature.replace(".", "-"),
                   f"-1.{signature.split('.')[1]}", "1e9." + signature.split(".")[1]):
        assert not signer.verify(REPO, COMMIT, broken, NOW), broken


def test_the_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "url-signing.key"
    first = load_key(None, path)
    assert len(first) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(None, path) == first
    assert [p.name for p in path.parent.iterdir()] == ["url-signing.key"]
    # A configured key wins, and no file is made for it.
    other = tmp_path / "other.key"
    assert load_key("s" * 32, other) == b"s" * 32
    assert not other.exists()


def test_nothing_is_made_until_something_is_signed(tmp_path: Path) -> None:
    signing = Signing(tmp_path / "url-signing.key")
    assert not (tmp_path / "url-signing.key").exists()
    signing.signer().sign(REPO, COMMIT, NOW)
    assert (tmp_path / "url-signing.key").exists()


def test_a_configured_key_must_be_long_enough(tmp_path: Path) -> None:
    config = Config.load(str(tmp_path), environ={"HEATER_URL_SIGNING_KEY": "k" * 32})
    assert config.url_signing_key == "k" * 32
    assert "k" * 32 not in repr(config)
    with pytest.raises(ConfigError, match="url_signing_key must be at least 32 characters"):
        Config.load(str(tmp_path), environ={"HEATER_URL_SIGNING_KEY": "short"})
