"""Signed raw URLs: a private template that Heat can read without credentials.

Heat and python-heatclient fetch ``template_url``, ``get_file`` and nested
templates with no credentials, so a private template reaches them only
through a URL that is itself the credential: unguessable, scoped to one
repository and one commit, and expiring. The signature sits in the path
before ``/raw/``::

    /<ns>/<name>/signed/<expires>.<signature>/raw/<commit>/<path>

so that a relative ``get_file`` or nested ``type:`` resolved with
``urljoin`` lands on a sibling file under the same signature. The
signature is an HMAC-SHA256 of the repository, the full commit SHA and the
expiry (Unix seconds), under a key only the servers know; one signature
opens every file of that commit, nothing else. A signature that does not
verify, has expired or names another repository or commit is answered
exactly as a missing repository.

The key is the ``url_signing_key`` setting when given (every node behind a
load balancer must share it), else a random key kept in the data directory
(``url-signing.key``), made on first use. Replacing it revokes every signed
URL at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from heater.names import RepoId

KEY_BYTES = 32
# A signed URL is for a deployment about to happen (Heat stores the template
# it read): an hour by default, a week at most, as object stores allow.
DEFAULT_EXPIRES_IN = 3600
MIN_EXPIRES_IN = 1
MAX_EXPIRES_IN = 7 * 24 * 3600
_SIGNATURE = re.compile(r"^([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")


@dataclass(frozen=True)
class UrlSigner:
    """Makes and checks the signature part of signed raw URLs."""

    key: bytes

    def sign(self, repo: RepoId, commit: str, expires: int) -> str:
        """The path segment that opens ``commit`` of ``repo`` until
        ``expires`` (Unix seconds): ``<expires>.<signature>``."""
        return f"{expires}.{self._mac(repo, commit, expires)}"

    def verify(self, repo: RepoId, commit: str, signature: str, now: float) -> bool:
        """Whether ``signature`` opens ``commit`` of ``repo`` at ``now``.
        ``commit`` must be written as signed: a full SHA, lower case."""
        match = _SIGNATURE.match(signature)
        if match is None or _FULL_SHA.match(commit) is None:
            return False
        expires = int(match.group(1))
        # Compared in constant time whatever the expiry, so timing tells nothing.
        valid = hmac.compare_digest(match.group(2), self._mac(repo, commit, expires))
        return valid and now < expires

    def _mac(self, repo: RepoId, commit: str, expires: int) -> str:
        message = f"heater signed raw url\n{repo.namespace}/{repo.name}\n{commit}\n{expires}"
        digest = hmac.new(self.key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Signing:
    """The signer of one data directory, its key read (or made) on first use,
    so that commands that sign nothing never create the key file."""

    def __init__(self, path: Path, configured: str | None = None) -> None:
        self.path = path
        self.configured = configured
        self._signer: UrlSigner | None = None

    def signer(self) -> UrlSigner:
        if self._signer is None:
            self._signer = UrlSigner(load_key(self.configured, self.path))
        return self._signer


def load_key(configured: str | None, path: Path) -> bytes:
    """The signing key: ``configured`` (the setting's text) when given,
    else the key file at ``path``, created with a random key if missing."""
    if configured:
        return configured.encode()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    scratch.write_bytes(secrets.token_bytes(KEY_BYTES))
    scratch.chmod(0o600)
    try:
        # link() fails if another process made the key first: both use theirs.
        os.link(scratch, path)
    except FileExistsError:
        pass
    finally:
        scratch.unlink()
    return path.read_bytes()
