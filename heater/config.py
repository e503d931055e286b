"""Settings: where the data lives and which backend holds each store.

Each setting is read, first found wins, from the command line (only
``--data-dir`` and ``--config``), an environment variable, the config file
(TOML, named by ``--config`` or ``$HEATER_CONFIG``) and its default. The
README's "Configuration" table lists them; :data:`SETTINGS` is that table.
Backend names are checked here, before anything is built, so that a typo
stops the process with the allowed names instead of failing on first use.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from heater.errors import InvalidInput
from heater.names import is_host_port

# Here rather than in heater.push.sizes, which reads it: config imports
# nothing of the domain.
DEFAULT_MAX_BLOB_BYTES = 64 * 1024 * 1024
# Image bytes sent to an object store per request (and held in memory, once
# more than the parts in flight, per upload); S3 refuses smaller parts.
DEFAULT_BLOB_PART_BYTES = 16 * 1024 * 1024
MIN_BLOB_PART_BYTES = 5 * 1024 * 1024
# Parts of one upload sent at once: one while the next fills, by default.
DEFAULT_BLOB_PARTS_IN_FLIGHT = 1
MAX_BLOB_PARTS_IN_FLIGHT = 16

ENV_CONFIG = "HEATER_CONFIG"
# A signing key as text must carry at least the 128 bits of 32 hex digits.
MIN_SIGNING_KEY_CHARS = 32


@dataclass(frozen=True)
class Setting:
    key: str  # the field of Config and the key in the config file
    env: str
    default: str
    choices: tuple[str, ...] = ()  # backend names; empty for free values
    # Turns the text into the field's value, or raises ValueError saying why.
    parse: Callable[[str], object] = str


def _public_url(value: str) -> str | None:
    """The base of every link Heater gives out, without its trailing ``/``."""
    return _http_url(value, "https://heater.example.com")


def _optional_url(value: str) -> str | None:
    """The base URL of another service (Keystone, Glance)."""
    return _http_url(value, "https://keystone.example.com:5000/v3")


def _http_url(value: str, example: str) -> str | None:
    """An http(s) URL without credentials, query or fragment, without its
    trailing ``/``; None when empty."""
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or parts.username or parts.password \
            or not is_host_port(parts.netloc):
        raise ValueError(f"must be an http(s) URL such as {example}, not {value!r}")
    return value.rstrip("/")


def _count(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        value = value.strip()
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValueError(f"must be {what} ({low} to {high}), not {value!r}")
        return int(value)
    return parse


def _one_of(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, not {value!r}")
        return value.strip()
    return parse


def _origins(value: str) -> tuple[str, ...]:
    """Web origins allowed to call the API from a browser (CORS): ``*``, or
    origins separated by commas or spaces; empty: none."""
    found = tuple(part for part in value.replace(",", " ").split() if part)
    if found == ("*",):
        return found
    for origin in found:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname \
                or f"{parts.scheme}://{parts.netloc}" != origin or not is_host_port(parts.netloc):
            raise ValueError("must be *, or origins such as https://ui.example.com (scheme, "
                             f"host and port only) separated by commas, not {origin!r}")
    return found


def _signing_key(value: str) -> str | None:
    """A shared secret for signed raw URLs; empty: a key file in the data directory."""
    value = value.strip()
    if value and len(value) < MIN_SIGNING_KEY_CHARS:
        raise ValueError(f"must be at least {MIN_SIGNING_KEY_CHARS} characters "
                         "(e.g. from: openssl rand -hex 32)")
    return value or None


def _dsn(value: str) -> str | None:
    """A libpq connection string (``postgresql://user:pw@host/db`` or
    ``host=... dbname=...``); psycopg checks the rest when it connects."""
    value = value.strip()
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgres://")) and "=" not in value:
        raise ValueError("must be a PostgreSQL DSN such as "
                         "postgresql://heater:secret@db.example.com/heater")
    return value


def _optional_path(value: str) -> Path | None:
    return Path(value).expanduser().resolve() if value.strip() else None


def _mapping(value: str) -> dict[str, str]:
    """``key=value,key=value`` (spaces around the parts are ignored)."""
    pairs = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, sep, mapped = (text.strip() for text in item.partition("="))
        if not sep or not key or not mapped:
            raise ValueError(f"must be <project id>=<namespace>, comma-separated, not {item!r}")
        pairs[key] = mapped
    return pairs


def _servers(value: str) -> tuple[str, ...]:
    """``host:port`` addresses separated by commas or spaces; empty: none."""
    found = tuple(part for part in value.replace(",", " ").split() if part)
    for server in found:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not is_host_port(server):
            raise ValueError(f"must be host:port addresses separated by commas, such as "
                             f"memcached.example.com:11211, not {server!r}")
    return found


def _credential(value: str) -> tuple[str, str] | None:
    """An application credential as ``<id>:<secret>``."""
    value = value.strip()
    if not value:
        return None
    ident, sep, secret = value.partition(":")
    if not sep or not ident or not secret:
        raise ValueError("must be <application credential id>:<secret>")
    return ident, secret


# The backends that exist; the composition root (heater.wiring) has one
# factory per name, and a test checks that the two agree.
SETTINGS = (
    Setting("data_dir", "HEATER_DATA_DIR", "./repos"),
    Setting("index", "HEATER_INDEX", "sqlite", ("sqlite", "postgresql")),
    # The PostgreSQL database of index = "postgresql" (a libpq DSN).
    Setting("dsn", "HEATER_DSN", "", parse=_dsn),
    Setting("blobs", "HEATER_BLOBS", "filesystem", ("filesystem", "swift", "s3")),
    Setting("identity", "HEATER_IDENTITY", "tokens", ("tokens", "keystone")),
    # Links (clone_url, next, upload_url) are built on this when set, else on
    # the request's Host header (only a plain host[:port] is believed).
    Setting("public_url", "HEATER_PUBLIC_URL", "", parse=_public_url),
    # How many proxies in front set X-Forwarded-*; 0: the headers are ignored.
    Setting("trusted_proxies", "HEATER_TRUSTED_PROXIES", "0",
            parse=_count(0, 10, "a number of proxies")),
    # The largest file a push may add; templates are text of a few kilobytes.
    Setting("max_blob_bytes", "HEATER_MAX_BLOB_BYTES", str(DEFAULT_MAX_BLOB_BYTES),
            parse=_count(1, 2**40, "a number of bytes")),
    # Who may read GET /metrics: anyone (as scrapers expect) or any token.
    Setting("metrics_access", "HEATER_METRICS_ACCESS", "anonymous",
            parse=_one_of("anonymous", "token")),
    # The audit log of writes (JSON lines); empty: audit.jsonl in the data directory.
    Setting("audit_log", "HEATER_AUDIT_LOG", "", parse=_optional_path),
    # Browser origins whose pages may call the API and read raw files (CORS);
    # none by default, so that no other site's script reads a caller's answers.
    Setting("cors_origins", "HEATER_CORS_ORIGINS", "", parse=_origins),
    # blobs = "swift": where, who, and how (tempauth v1.0 or Keystone v3).
    Setting("swift_auth_url", "HEATER_SWIFT_AUTH_URL", ""),
    Setting("swift_auth", "HEATER_SWIFT_AUTH", "tempauth",
            parse=_one_of("tempauth", "keystone")),
    Setting("swift_user", "HEATER_SWIFT_USER", ""),
    Setting("swift_key", "HEATER_SWIFT_KEY", ""),
    Setting("swift_project", "HEATER_SWIFT_PROJECT", ""),
    Setting("swift_domain", "HEATER_SWIFT_DOMAIN", "Default"),
    Setting("swift_region", "HEATER_SWIFT_REGION", ""),
    Setting("swift_container", "HEATER_SWIFT_CONTAINER", "heater"),
    # blobs = "s3": an endpoint (empty: AWS), a bucket and keys.
    Setting("s3_endpoint", "HEATER_S3_ENDPOINT", ""),
    Setting("s3_bucket", "HEATER_S3_BUCKET", "heater"),
    Setting("s3_access_key", "HEATER_S3_ACCESS_KEY", ""),
    Setting("s3_secret_key", "HEATER_S3_SECRET_KEY", ""),
    Setting("s3_region", "HEATER_S3_REGION", "us-east-1"),
    # Above this size an image goes to an object store in parts of this size.
    Setting("blob_part_bytes", "HEATER_BLOB_PART_BYTES", str(DEFAULT_BLOB_PART_BYTES),
            parse=_count(MIN_BLOB_PART_BYTES, 2**32, "a number of bytes")),
    # Parts of one upload sent at once; each holds a part's bytes in memory.
    Setting("blob_parts_in_flight", "HEATER_BLOB_PARTS_IN_FLIGHT",
            str(DEFAULT_BLOB_PARTS_IN_FLIGHT),
            parse=_count(1, MAX_BLOB_PARTS_IN_FLIGHT, "a number of parts")),
    # > 0: downloads redirect to the object store's signed URL, valid this long.
    Setting("blob_redirect_seconds", "HEATER_BLOB_REDIRECT_SECONDS", "0",
            parse=_count(0, 7 * 24 * 3600, "a number of seconds")),
    # Keystone (identity "keystone", and the Glance hand-off): its v3 endpoint.
    Setting("keystone_url", "HEATER_KEYSTONE_URL", "", parse=_optional_url),
    # How long a validated Keystone token is believed without asking again:
    # a revoked token keeps working at most this long (per worker process).
    Setting("keystone_cache_seconds", "HEATER_KEYSTONE_CACHE_SECONDS", "60",
            parse=_count(0, 3600, "a number of seconds")),
    # Whether Heater's own tokens keep working beside Keystone's.
    Setting("keystone_heater_tokens", "HEATER_KEYSTONE_HEATER_TOKENS", "on",
            parse=_one_of("on", "off")),
    # Namespaces of projects whose names are not namespaces (or not in the
    # Default domain): "<project id>=<namespace>,...".
    Setting("keystone_namespaces", "HEATER_KEYSTONE_NAMESPACES", "", parse=_mapping),
    # The service user keystonemiddleware validates callers' tokens as (it
    # needs the "service" role, or a system reader's, by Keystone's policy).
    Setting("keystone_service_user", "HEATER_KEYSTONE_SERVICE_USER", ""),
    Setting("keystone_service_password", "HEATER_KEYSTONE_SERVICE_PASSWORD", ""),
    Setting("keystone_service_project", "HEATER_KEYSTONE_SERVICE_PROJECT", "service"),
    Setting("keystone_service_user_domain", "HEATER_KEYSTONE_SERVICE_USER_DOMAIN", "Default"),
    Setting("keystone_service_project_domain", "HEATER_KEYSTONE_SERVICE_PROJECT_DOMAIN",
            "Default"),
    # Where validated tokens are cached: memcached, shared by every worker
    # and node; empty: each worker process's memory.
    Setting("keystone_memcached_servers", "HEATER_KEYSTONE_MEMCACHED_SERVERS", "",
            parse=_servers),
    # The application credential ("<id>:<secret>") Heater publishes to Glance with.
    Setting("glance_credential", "HEATER_GLANCE_CREDENTIAL", "", parse=_credential),
    # Glance's endpoint; empty: the image service of Keystone's catalog.
    Setting("glance_url", "HEATER_GLANCE_URL", "", parse=_optional_url),
    # How often each worker replays the pending changes that a dead process
    # (of any node sharing the data directory) left unindexed; 0: only when
    # a worker starts.
    Setting("pending_replay_seconds", "HEATER_PENDING_REPLAY_SECONDS", "30",
            parse=_count(0, 24 * 3600, "a number of seconds")),
    # The key of signed raw URLs, shared by every node; empty: url-signing.key
    # in the data directory, made on first use.
    Setting("url_signing_key", "HEATER_URL_SIGNING_KEY", "", parse=_signing_key),
)

# What each object store needs set (the others have usable defaults).
_REQUIRED = {
    "swift": ("swift_auth_url", "swift_user", "swift_key"),
    "s3": ("s3_access_key", "s3_secret_key"),
}


# What identity keystone's service user needs set.
_KEYSTONE_SERVICE = ("keystone_service_user", "keystone_service_password",
                     "keystone_service_project")

_NUMBERS = frozenset({"trusted_proxies", "max_blob_bytes", "blob_part_bytes",
                      "blob_parts_in_flight",
                      "blob_redirect_seconds", "keystone_cache_seconds",
                      "pending_replay_seconds"})


class ConfigError(InvalidInput):
    """A setting the process cannot start with; says where it came from."""

    code = "invalid_config"

    def __init__(self, message: str, source: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


@dataclass(frozen=True)
class Config:
    """Every setting, checked. Build it with :meth:`load` (or directly in tests)."""

    data_dir: Path
    index: str = "sqlite"
    blobs: str = "filesystem"
    identity: str = "tokens"
    public_url: str | None = None
    trusted_proxies: int = 0
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES
    metrics_access: str = "anonymous"
    audit_log: Path | None = None
    cors_origins: tuple[str, ...] = ()
    swift_auth_url: str = ""
    swift_auth: str = "tempauth"
    swift_user: str = ""
    swift_key: str = field(default="", repr=False)
    swift_project: str = ""
    swift_domain: str = "Default"
    swift_region: str = ""
    swift_container: str = "heater"
    s3_endpoint: str = ""
    s3_bucket: str = "heater"
    s3_access_key: str = ""
    s3_secret_key: str = field(default="", repr=False)
    s3_region: str = "us-east-1"
    blob_part_bytes: int = DEFAULT_BLOB_PART_BYTES
    blob_parts_in_flight: int = DEFAULT_BLOB_PARTS_IN_FLIGHT
    blob_redirect_seconds: int = 0
    dsn: str | None = None
    keystone_url: str | None = None
    keystone_cache_seconds: int = 60
    pending_replay_seconds: int = 30
    keystone_heater_tokens: str = "on"
    keystone_namespaces: Mapping[str, str] = field(default_factory=dict)
    keystone_service_user: str = ""
    keystone_service_password: str = field(default="", repr=False)
    keystone_service_project: str = "service"
    keystone_service_user_domain: str = "Default"
    keystone_service_project_domain: str = "Default"
    keystone_memcached_servers: tuple[str, ...] = ()
    glance_credential: tuple[str, str] | None = field(default=None, repr=False)
    glance_url: str | None = None
    url_signing_key: str | None = field(default=None, repr=False)  # a secret

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().resolve())
        for setting in SETTINGS:
            if setting.choices:
                _check_choice(setting, getattr(self, setting.key), f"setting {setting.key}")
        needed = _REQUIRED.get(self.blobs, ())
        if self.blobs == "swift" and self.swift_auth == "keystone":
            needed += ("swift_project",)
        missing = [key for key in needed if not getattr(self, key)]
        if missing:
            envs = {s.key: s.env for s in SETTINGS}
            raise ConfigError(f"blobs {self.blobs} needs "
                              + ", ".join(f"{key} (${envs[key]})" for key in missing),
                              "settings")
        if self.index == "postgresql" and not self.dsn:
            raise ConfigError("index postgresql needs the database's DSN (HEATER_DSN, "
                              "or dsn in the config file)", "setting dsn")
        # Combinations that cannot work stop the process before it builds anything.
        if self.identity == "keystone" and self.keystone_url is None:
            raise ConfigError("identity keystone needs keystone_url (HEATER_KEYSTONE_URL)",
                              "setting identity")
        if self.identity == "keystone":
            lacking = [s for s in SETTINGS if s.key in _KEYSTONE_SERVICE
                       and not getattr(self, s.key)]
            if lacking:
                raise ConfigError("identity keystone validates tokens as a service user: "
                                  "it needs " + ", ".join(f"{s.key} (${s.env})" for s in lacking),
                                  "setting identity")
        if self.glance_credential is not None and self.keystone_url is None:
            raise ConfigError("glance_credential needs keystone_url (HEATER_KEYSTONE_URL)",
                              "setting glance_credential")

    @classmethod
    def load(cls, data_dir: str | None = None, config_file: str | None = None,
             environ: Mapping[str, str] | None = None) -> Config:
        """The settings of this process: ``data_dir`` and ``config_file`` are
        the command-line options (None when not given)."""
        env = os.environ if environ is None else environ
        path = config_file or env.get(ENV_CONFIG)
        from_file = _read_file(Path(path)) if path else {}
        values: dict[str, object] = {}
        for setting in SETTINGS:
            if env.get(setting.env):
                value, source = env[setting.env], f"${setting.env}"
            elif setting.key in from_file:
                value, source = from_file[setting.key], f"{path}: {setting.key}"
                if setting.key == "data_dir":  # so that a file and its data move together
                    value = str(Path(str(path)).expanduser().parent / value)
            else:
                value, source = setting.default, "default"
            if setting.choices:
                _check_choice(setting, value, source)
            try:
                values[setting.key] = setting.parse(value)
            except ValueError as exc:
                # A file's source names the key already; a variable's does not.
                label = "" if source.endswith(f": {setting.key}") else f"{setting.key} "
                raise ConfigError(f"{label}{exc}", source) from None
        if data_dir:
            values["data_dir"] = data_dir
        return cls(data_dir=Path(str(values.pop("data_dir"))), **values)  # type: ignore[arg-type]


def _check_choice(setting: Setting, value: str, source: str) -> None:
    if value not in setting.choices:
        raise ConfigError(f"unknown {setting.key} backend {value!r}; allowed: "
                          f"{', '.join(setting.choices)}", source)


def _read_file(path: Path) -> dict[str, str]:
    """The settings a TOML config file holds; unknown keys are refused, so a
    misspelt setting is not silently ignored."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a TOML file: {exc}", str(path)) from None
    known = {setting.key for setting in SETTINGS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown settings {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(known))}", str(path))
    for key, value in data.items():
        if key in _NUMBERS and isinstance(value, int) and not isinstance(value, bool):
            data[key] = str(value)  # a count may be written as a TOML integer
        elif not isinstance(value, str):
            raise ConfigError(f"{key} must be a string", str(path))
    return data
