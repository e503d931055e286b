"""Identity ``keystone``: callers proven by OpenStack Keystone.

- A Keystone token (``X-Auth-Token``, ``Authorization: Bearer``, or the
  password of HTTP Basic with the user name ``token``) is validated by
  keystonemiddleware's ``auth_token`` (:class:`AuthToken`), as every
  OpenStack service validates tokens: as a configured service user, its
  answer cached (in each worker's memory, or in memcached) for
  ``keystone_cache_seconds``, so a revoked token keeps working that long at
  most. Heater reads the caller from the headers the middleware sets
  (``X-Identity-Status``, ``X-Roles``, ``X-Project-*``, ``X-User-Name``,
  ``OpenStack-System-Scope``). The middleware is called once per token
  rather than wrapped around the WSGI application: Heater accepts Keystone
  tokens in three places and application credentials beside them, where
  the middleware reads ``X-Auth-Token`` only, and a wrapped middleware that
  lets anonymous requests through (``delay_auth_decision``) reports an
  unreachable Keystone as an invalid token, where Heater answers 503.
  Tokens it refused are remembered for the same time (it caches only those
  it accepts).
- An application credential (HTTP Basic: its id as the user name, its
  secret as the password, as git sends them) is exchanged for a token with
  keystoneauth1, kept until shortly before it expires; that token is then
  validated as above, so deleting the credential (which revokes its tokens)
  takes effect within the same cache time.
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
import io
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading
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
# The headers auth_token sets on a request whose token it confirmed, that
# Heater reads.
IDENTITY_HEADERS = ("X-Identity-Status", "X-User-Id", "X-User-Name", "X-Roles",
                    "X-Project-Id", "X-Project-Name", "X-Project-Domain-Id",
                    "X-Domain-Id", "OpenStack-System-Scope")
# auth_token's oslo.config group.
GROUP = "keystone_authtoken"
# Marks, in the environ auth_token passes on, that it let the token through.
_CONFIRMED = "heater.keystone.confirmed"


class KeystoneRefused(BadToken):
    """Keystone does not vouch for the credentials, or what it vouches for
    has no namespace or role in Heater (the same code as a bad Heater token)."""

    def __init__(self, message: str) -> None:
        Unauthenticated.__init__(self, message)


class IdentityUnavailable(Unavailable):
    code = "identity_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Keystone cannot be asked now ({detail}); try again, or tell the "
                         "operator to check HEATER_KEYSTONE_URL and the service user "
                         "(HEATER_KEYSTONE_SERVICE_USER)")


def v3_url(url: str) -> str:
    """Keystone's v3 base URL, whether ``url`` names it or Keystone's root."""
    url = url.rstrip("/")
    return url if url.endswith("/v3") else f"{url}/v3"


@dataclass(frozen=True)
class ServiceUser:
    """The Keystone user auth_token validates tokens as (a ``service`` role
    on its project lets it, by Keystone's default policy)."""

    name: str
    password: str = field(repr=False)
    project: str
    user_domain: str = "Default"
    project_domain: str = "Default"


class AuthToken:
    """keystonemiddleware's ``auth_token`` middleware, asked about one token
    at a time: it validates the token (or finds it in its cache) and sets
    the identity headers on a request of its own, which :meth:`identity`
    returns. Safe to call from any thread."""

    def __init__(self, url: str, service: ServiceUser, *, cache_seconds: int,
                 memcached_servers: Sequence[str] = ()) -> None:
        # Imported when used: with oslo.config, webob and oslo.cache they take
        # longer to import than the rest of Heater, which every command would pay.
        from keystonemiddleware.auth_token import AuthProtocol  # type: ignore[import-untyped]
        from oslo_config import cfg

        # Options of its own: none of the process's global oslo.config state
        # or configuration files. The service user's are the password
        # plugin's, which auth_token reads from its oslo.config group.
        options = cfg.ConfigOpts()
        options.register_opts(loading.get_auth_plugin_conf_options("v3password"), GROUP)
        for name, value in (("auth_url", v3_url(url)), ("username", service.name),
                            ("password", service.password), ("project_name", service.project),
                            ("user_domain_name", service.user_domain),
                            ("project_domain_name", service.project_domain)):
            options.set_override(name, value, GROUP)
        conf: dict[str, object] = {
            "oslo_config_config": options,
            "auth_type": "v3password",
            # Tokens are validated at the identity endpoint the catalog lists
            # for the public, where Heater's callers got them.
            "interface": "public", "www_authenticate_uri": v3_url(url),
            "http_connect_timeout": str(TIMEOUT_SECONDS),
            # Heater reads no X-Service-Token (its requests carry none).
            "service_token_roles_required": "true",
            "include_service_catalog": "false",
            # 0 caches nothing: auth_token's -1 (its 0 would keep forever).
            "token_cache_time": str(cache_seconds or -1),
        }
        if memcached_servers:
            conf["memcached_servers"] = ",".join(memcached_servers)
        self._middleware: Any = AuthProtocol(_confirmed, conf)

    def identity(self, token: str) -> dict[str, str]:
        """The identity headers auth_token set for ``token``;
        :class:`KeystoneRefused` when it refused the token,
        :class:`IdentityUnavailable` when it could not ask Keystone."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
            "SERVER_NAME": "heater", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "HTTP_X_AUTH_TOKEN": token}
        statuses: list[str] = []

        def start_response(status: str, _headers: object, _exc_info: object = None) -> object:
            statuses.append(status)
            return lambda _data: None

        try:
            _drain(self._middleware(environ, start_response))
        except ks_exceptions.ClientException as exc:  # e.g. no identity endpoint in the catalog
            raise IdentityUnavailable(type(exc).__name__) from None
        if environ.get(_CONFIRMED):
            found = {name: environ.get("HTTP_" + name.upper().replace("-", "_"))
                     for name in IDENTITY_HEADERS}
            return {name: str(value) for name, value in found.items() if value}
        status = statuses[-1] if statuses else "no answer"
        if status.startswith("401"):
            raise KeystoneRefused("Keystone does not accept the token (unknown, expired "
                                  "or revoked)")
        raise IdentityUnavailable(f"auth_token answered {status} validating the token: "
                                  "Keystone out of reach, or refusing the service user; "
                                  "the server log says which")


def _confirmed(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The application behind auth_token: reached only with a confirmed token."""
    environ[_CONFIRMED] = True
    start_response("204 No Content", [])
    return []


def _drain(body: Iterable[bytes]) -> None:
    for _chunk in body:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()


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
    judges credentials of Heater's token form, ``auth_token`` Keystone's."""

    def __init__(self, url: str, *, auth_token: AuthToken, cache_seconds: int,
                 namespaces: Mapping[str, str], heater_tokens: HeaterTokens | None,
                 session: ks_session.Session | None = None) -> None:
        self.url = v3_url(url)
        self.auth_token = auth_token
        self.cache_seconds = cache_seconds
        # A mistyped mapping stops the server at start, not a caller later.
        self.namespaces = {project: check_name(ns, "namespace")
                           for project, ns in namespaces.items()}
        self.heater_tokens = heater_tokens
        self.session = session or ks_session.Session(timeout=TIMEOUT_SECONDS)
        self._refused = _Expiring()     # token digest -> KeystoneRefused
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
        refused = self._refused.get(key)
        if isinstance(refused, KeystoneRefused):
            raise refused
        try:
            return self.principal(self.auth_token.identity(token))
        except KeystoneRefused as exc:
            # Unknown, expired or revoked never becomes valid again, and
            # auth_token's cache keeps only the tokens it accepts.
            self._refused.put(key, exc, self.cache_seconds)
            raise

    def principal(self, identity: Mapping[str, str]) -> Principal:
        """Heater's caller for the identity headers of a confirmed token."""
        if identity.get("X-Identity-Status") != "Confirmed":
            raise KeystoneRefused("Keystone does not accept the token")
        roles = (name.strip() for name in identity.get("X-Roles", "").split(","))
        held = [ROLES[name] for name in roles if name in ROLES]
        user = identity.get("X-User-Name") or identity.get("X-User-Id") or "keystone"
        if identity.get("OpenStack-System-Scope") == "all":
            namespace = None
        elif identity.get("X-Project-Id"):
            namespace = self.namespace(identity["X-Project-Id"],
                                       identity.get("X-Project-Name", ""),
                                       identity.get("X-Project-Domain-Id", ""))
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
