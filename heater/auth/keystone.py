"""Identity ``keystone``: callers proven by OpenStack Keystone.

- A Keystone token (``X-Auth-Token``, or ``Authorization: Bearer``) is
  validated by Keystone (``GET /v3/auth/tokens``, the token validating
  itself: Keystone's default policy lets a token's subject do that, so
  Heater needs no service account), and the answer is believed for
  ``keystone_cache_seconds``: a revoked token keeps working that long at
  most, in each worker process.
- An application credential (HTTP Basic: its id as the user name, its
  secret as the password, as git sends them) is exchanged for a token,
  kept until shortly before it expires; that token is then validated as
  above, so deleting the credential (which revokes its tokens) takes
  effect within the same cache time.
- HTTP Basic with the user name ``token`` carries a Keystone token as its
  password (for git, which sends nothing else, and tokens that no
  application credential can stand for: system-scoped ones).
- Heater's own tokens keep working beside them unless switched off.

Who the caller is: a project-scoped token acts on one namespace (the
project's name if it is a valid namespace and the project is in the
Default domain, else the namespace ``keystone_namespaces`` maps its id to);
a system-scoped token acts on every namespace. Keystone's default roles map
to Heater's: ``reader`` to reader, ``member`` to writer, ``admin`` to admin
(the highest the token holds). Domain-scoped and unscoped tokens are refused:
a domain is not a namespace.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keystoneauth1 import access
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from heater.auth.identity import Credentials, HeaterTokens, Scheme
from heater.auth.tokens import BadToken, Principal, Role
from heater.errors import Unauthenticated, Unavailable
from heater.names import InvalidName, check_name

# Keystone's default roles (keystone-manage bootstrap makes them, admin
# implying member implying reader), as Heater's.
ROLES = {"reader": Role.READER, "member": Role.WRITER, "admin": Role.ADMIN}
# The project whose name is taken as a namespace: names are unique within
# a domain only, and the Default domain is the one every cloud has.
NAME_DOMAIN = "default"
# An exchanged token is used until this long before it expires.
EXPIRY_MARGIN_SECONDS = 60
# Entries kept per cache (least recently used go first): bounded memory
# whatever the number of callers.
CACHE_ENTRIES = 10_000
# Keystone answers in milliseconds; a busy one may queue a request for a
# while before it fails the caller with 503.
TIMEOUT_SECONDS = 30
# The Basic user name that says the password is a Keystone token, not an
# application credential's secret (whose ids are hexadecimal).
TOKEN_USER = "token"


class KeystoneRefused(BadToken):
    """Keystone does not vouch for the credentials, or what it vouches for
    has no namespace or role in Heater (the same code as a bad Heater token)."""

    def __init__(self, message: str) -> None:
        Unauthenticated.__init__(self, message)


class IdentityUnavailable(Unavailable):
    code = "identity_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Keystone cannot be asked now ({detail}); try again, or tell the "
                         "operator to check HEATER_KEYSTONE_URL")


def v3_url(url: str) -> str:
    """Keystone's v3 base URL, whether ``url`` names it or Keystone's root."""
    url = url.rstrip("/")
    return url if url.endswith("/v3") else f"{url}/v3"


class _Expiring:
    """A bounded, thread-safe map whose entries expire at their own time."""

    def __init__(self) -> None:
        self._entries: OrderedDict[object, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: object, value: Any, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > CACHE_ENTRIES:
                self._entries.popitem(last=False)


@dataclass(frozen=True)
class _Exchanged:
    token: str
    expires_at: float  # time.time()


def _digest(secret: str) -> bytes:
    # Cache keys: a dump of the process must not hand out live secrets.
    return hashlib.sha256(secret.encode()).digest()


class KeystoneIdentity:
    """See the module docstring. ``heater_tokens`` (None: switched off)
    judges credentials of Heater's token form."""

    def __init__(self, url: str, *, cache_seconds: int, namespaces: Mapping[str, str],
                 heater_tokens: HeaterTokens | None,
                 session: ks_session.Session | None = None) -> None:
        self.url = v3_url(url)
        self.cache_seconds = cache_seconds
        # A mistyped mapping stops the server at start, not a caller later.
        self.namespaces = {project: check_name(ns, "namespace")
                           for project, ns in namespaces.items()}
        self.heater_tokens = heater_tokens
        self.session = session or ks_session.Session(timeout=TIMEOUT_SECONDS)
        self._validated = _Expiring()   # token digest -> Principal | KeystoneRefused
        self._exchanged = _Expiring()   # (credential id, secret digest) -> _Exchanged

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.heater_token() is not None:
            if self.heater_tokens is None:
                raise KeystoneRefused("Heater's own tokens are switched off on this server "
                                      "(HEATER_KEYSTONE_HEATER_TOKENS); use Keystone")
            return self.heater_tokens.authenticate(credentials)
        if not credentials.secret:
            raise Unauthenticated("empty credentials were given")
        if credentials.scheme is Scheme.BASIC and credentials.user != TOKEN_USER:
            return self.validate(self._exchange(credentials.user, credentials.secret))
        return self.validate(credentials.secret)

    # -- tokens ------------------------------------------------------------

    def validate(self, token: str) -> Principal:
        """The caller a Keystone token proves (see the module docstring)."""
        key = _digest(token)
        known = self._validated.get(key)
        if known is None:
            known, seconds = self._ask(token)
            self._validated.put(key, known, seconds)
        if isinstance(known, KeystoneRefused):
            raise known
        assert isinstance(known, Principal)
        return known

    def _ask(self, token: str) -> tuple[Principal | KeystoneRefused, float]:
        """Keystone's verdict on ``token`` and how long to believe it."""
        try:
            response = self.session.get(
                f"{self.url}/auth/tokens", authenticated=False, raise_exc=False,
                headers={"X-Auth-Token": token, "X-Subject-Token": token})
        except ks_exceptions.ClientException as exc:
            raise IdentityUnavailable(type(exc).__name__) from None
        if response.status_code in (401, 404):
            # Unknown, expired or revoked: it never becomes valid again.
            return KeystoneRefused("Keystone does not accept the token (unknown, expired "
                                   "or revoked)"), self.cache_seconds
        if response.status_code != 200:
            raise IdentityUnavailable(f"token validation answered {response.status_code}")
        info = access.create(resp=response, body=response.json())
        try:
            principal: Principal | KeystoneRefused = self.principal(info)
        except KeystoneRefused as exc:
            principal = exc
        remaining = info.expires.timestamp() - time.time() if info.expires else 0
        return principal, min(float(self.cache_seconds), remaining)

    def principal(self, info: access.AccessInfo) -> Principal:
        """Heater's caller for a token Keystone vouched for."""
        held = [ROLES[name] for name in info.role_names or () if name in ROLES]
        user = info.username or info.user_id or "keystone"
        if info.system_scoped:
            namespace = None
        elif info.project_scoped:
            namespace = self.namespace(info.project_id or "", info.project_name or "",
                                       info.project_domain_id or "")
        else:
            raise KeystoneRefused("the Keystone token is not scoped to a project or the "
                                  "system; a domain is not a namespace")
        if not held:
            raise KeystoneRefused(f"the Keystone token of {user} holds none of the roles "
                                  f"{', '.join(ROLES)}")
        return Principal(user, max(held), namespace)

    def namespace(self, project_id: str, project_name: str, domain_id: str) -> str:
        """The namespace of a project: configured by its id, else its name."""
        mapped = self.namespaces.get(project_id)
        if mapped is not None:
            return mapped
        if domain_id == NAME_DOMAIN:
            try:
                return check_name(project_name, "namespace")
            except InvalidName:
                pass
        raise KeystoneRefused(f"project {project_name} ({project_id}) has no namespace: its "
                              "name is not a valid namespace or it is outside the Default "
                              "domain; map its id in HEATER_KEYSTONE_NAMESPACES")

    # -- application credentials ---------------------------------------------

    def _exchange(self, credential_id: str, secret: str) -> str:
        """A token for an application credential, made once per lifetime."""
        if not credential_id:
            raise KeystoneRefused("give the application credential's id as the user name")
        key = (credential_id, _digest(secret))
        known = self._exchanged.get(key)
        if isinstance(known, _Exchanged) and known.expires_at - EXPIRY_MARGIN_SECONDS > time.time():
            return known.token
        plugin = v3.ApplicationCredential(self.url, application_credential_id=credential_id,
                                          application_credential_secret=secret)
        try:
            info = plugin.get_access(self.session)
        except ks_exceptions.http.HttpError as exc:
            if exc.http_status in (400, 401, 403, 404):
                raise KeystoneRefused("Keystone does not accept the application credential "
                                      "(its id as the user name, its secret as the "
                                      "password)") from None
            raise IdentityUnavailable(f"application credential exchange answered "
                                      f"{exc.http_status}") from None
        except ks_exceptions.ClientException as exc:
            raise IdentityUnavailable(type(exc).__name__) from None
        token = str(info.auth_token or "")
        expires = info.expires.timestamp() if info.expires else time.time()
        self._exchanged.put(key, _Exchanged(token, expires), expires - time.time())
        return token
