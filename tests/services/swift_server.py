"""A real OpenStack Swift for the tests: Debian's packages, run as an
all-in-one (proxy, account, container and object servers, memcached for
tempauth) in a directory of its own, with the ``s3api`` middleware so that
the same server also speaks S3. :func:`start_keystone_proxy` adds a second
proxy in front of the same servers that takes Keystone v3 tokens instead.

Each server runs in the foreground with ``workers = 0`` and
``mount_check = false`` on one device in the directory; see
``swift_aio.py`` for why the servers are started through a wrapper run by
Debian's Python.
"""

from __future__ import annotations

import getpass
import subprocess
import textwrap
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests

from tests.services.debian import DEBIAN_PYTHON, ensure_module, ensure_packages
from tests.services.memcached import memcached_service
from tests.services.process import Service, ServiceFailed, free_port, port_open

PACKAGES = ("swift", "swift-proxy", "swift-object", "swift-container", "swift-account",
            "memcached")
RUNNER = Path(__file__).with_name("swift_aio.py")
# tempauth's user: account "test", user "tester"; also the S3 access key
# ("test:tester") and secret of s3api.
ACCOUNT, USER, KEY = "test", "tester", "testing"
SERVERS = ("account", "container", "object")


@dataclass
class Swift:
    """A running all-in-one: where to authenticate, and where its bytes rest."""

    root: Path
    proxy_port: int
    memcached_port: int = 0
    services: list[Service] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def auth_url(self) -> str:
        """tempauth's v1.0 endpoint."""
        return f"{self.url}/auth/v1.0"

    @property
    def user(self) -> str:
        return f"{ACCOUNT}:{USER}"

    @property
    def key(self) -> str:
        return KEY

    @property
    def storage_url(self) -> str:
        return f"{self.url}/v1/AUTH_{ACCOUNT}"

    @property
    def devices(self) -> Path:
        """Every byte Swift stores is below this directory."""
        return self.root / "devices"

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log()}" for s in self.services)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def start_swift(root: Path) -> Swift:
    """Install Swift if missing, start an all-in-one in ``root`` and wait
    until tempauth hands out tokens."""
    ensure_packages(*PACKAGES, program="swift-proxy-server")
    root.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("proxy", *SERVERS, "memcached")}
    _write_config(root, ports)
    rings = subprocess.run([DEBIAN_PYTHON, str(RUNNER), "rings", str(root),
                            *(str(ports[s]) for s in SERVERS)],
                           capture_output=True, text=True, check=False, timeout=120)
    if rings.returncode != 0:
        raise ServiceFailed(f"building Swift's rings failed:\n{rings.stdout}{rings.stderr}")
    swift = Swift(root, ports["proxy"], ports["memcached"])
    try:
        swift.services.append(memcached_service(ports["memcached"], root / "memcached.log"))
        for name in (*SERVERS, "proxy"):
            swift.services.append(Service(
                f"swift-{name}", [DEBIAN_PYTHON, str(RUNNER), "serve", str(root), name],
                root / f"{name}.log"))
        for service, name in zip(swift.services, ("memcached", *SERVERS), strict=False):
            service.wait_ready(partial(port_open, ports[name]))
        swift.services[-1].wait_ready(lambda: _authenticates(swift))
    except BaseException:
        swift.stop()
        raise
    return swift


def _authenticates(swift: Swift) -> bool:
    answer = requests.get(swift.auth_url, headers={"X-Auth-User": swift.user,
                                                   "X-Auth-Key": swift.key}, timeout=5)
    return answer.status_code == 200


def _write_config(root: Path, ports: dict[str, int]) -> None:
    devices = root / "devices"
    (devices / "d1").mkdir(parents=True, exist_ok=True)
    (root / "swift.conf").write_text(textwrap.dedent("""\
        [swift-hash]
        swift_hash_path_prefix = heater
        swift_hash_path_suffix = tests

        [storage-policy:0]
        name = only
        default = yes
        """))
    common = textwrap.dedent(f"""\
        [DEFAULT]
        bind_ip = 127.0.0.1
        workers = 0
        mount_check = false
        disable_fallocate = true
        devices = {devices}
        swift_dir = {root}
        user = {getpass.getuser()}
        log_level = WARNING
        """)
    for name in SERVERS:
        (root / f"{name}-server.conf").write_text(common + textwrap.dedent(f"""\
            bind_port = {ports[name]}

            [pipeline:main]
            pipeline = {name}-server

            [app:{name}-server]
            use = egg:swift#{name}
            """))
    middleware = ("catch_errors", "gatekeeper", "healthcheck", "proxy_logging", "memcache",
                  "listing_formats", "bulk", "tempurl", "s3api", "tempauth", "copy", "slo",
                  "dlo")
    filters = _filters(*middleware)
    (root / "proxy-server.conf").write_text(common + textwrap.dedent(f"""\
        bind_port = {ports["proxy"]}

        [pipeline:main]
        pipeline = catch_errors gatekeeper healthcheck proxy_logging memcache listing_formats
            bulk tempurl s3api tempauth copy slo dlo proxy_logging proxy-server

        [app:proxy-server]
        use = egg:swift#proxy
        account_autocreate = true
        allow_account_management = true
        """) + filters.replace(
        "use = egg:swift#memcache\n",
        f"use = egg:swift#memcache\nmemcache_servers = 127.0.0.1:{ports['memcached']}\n").replace(
        "use = egg:swift#tempauth\n",
        f"use = egg:swift#tempauth\nuser_{ACCOUNT}_{USER} = {KEY} .admin\n"))


def _filters(*middleware: str) -> str:
    """The sections of Swift's own ``middleware``, with their defaults."""
    return "".join(f"\n[filter:{m}]\nuse = egg:swift#{m}\n" for m in middleware)


# Swift's Keystone middleware: authtoken (keystonemiddleware, a Debian
# python3 package like Swift itself) checks the token, keystoneauth maps
# the project to the account AUTH_<project id>.
KEYSTONE_PACKAGES = ("python3-keystonemiddleware",)
KEYSTONE_MODULE = "keystonemiddleware.auth_token"


@dataclass(frozen=True)
class ServiceUser:
    """The user a proxy checks tokens as (Keystone's ``service`` role)."""

    username: str
    password: str
    project: str


@dataclass
class KeystoneProxy:
    """The proxy that takes Keystone tokens, and where it listens."""

    service: Service
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.service.stop()


def start_keystone_proxy(swift: Swift, keystone_url: str, checker: ServiceUser,
                         operator_roles: tuple[str, ...] = ("admin", "member")
                         ) -> KeystoneProxy:
    """A second proxy of ``swift``'s servers (same rings, storage and
    memcached) whose pipeline takes Keystone v3 tokens, on a free port;
    a user with one of ``operator_roles`` on a project owns the account
    ``AUTH_<project id>``."""
    ensure_module(*KEYSTONE_PACKAGES, module=KEYSTONE_MODULE)
    port = free_port()
    identity = keystone_url.removesuffix("/v3")
    common = (swift.root / "proxy-server.conf").read_text().split("[pipeline:main]")[0]
    conf = "keystone-proxy-server.conf"
    (swift.root / conf).write_text(common.replace(
        f"bind_port = {swift.proxy_port}", f"bind_port = {port}") + textwrap.dedent(f"""\
        [pipeline:main]
        pipeline = catch_errors gatekeeper healthcheck proxy_logging memcache listing_formats
            bulk tempurl authtoken keystoneauth copy slo dlo proxy_logging proxy-server

        [app:proxy-server]
        use = egg:swift#proxy
        account_autocreate = true

        [filter:authtoken]
        paste.filter_factory = keystonemiddleware.auth_token:filter_factory
        www_authenticate_uri = {identity}
        auth_url = {identity}
        auth_type = password
        username = {checker.username}
        password = {checker.password}
        project_name = {checker.project}
        user_domain_id = default
        project_domain_id = default
        # keystoneauth decides, so that tempurl's requests (no token) pass.
        delay_auth_decision = true
        cache = swift.cache
        service_token_roles_required = true

        [filter:keystoneauth]
        use = egg:swift#keystoneauth
        operator_roles = {", ".join(operator_roles)}

        [filter:memcache]
        use = egg:swift#memcache
        memcache_servers = 127.0.0.1:{swift.memcached_port}
        """) + _filters("catch_errors", "gatekeeper", "healthcheck", "proxy_logging",
                        "listing_formats", "bulk", "tempurl", "copy", "slo", "dlo"))
    proxy = Service("swift-keystone-proxy",
                    [DEBIAN_PYTHON, str(RUNNER), "serve", str(swift.root), "proxy", conf],
                    swift.root / "keystone-proxy.log")
    try:
        proxy.wait_ready(partial(_healthy, port))
    except BaseException:
        proxy.stop()
        raise
    return KeystoneProxy(proxy, port)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthcheck", timeout=5).status_code == 200
    except requests.RequestException:
        return False


@dataclass(frozen=True)
class SwiftOnKeystone:
    """Swift reached through Keystone v3: where to authenticate, and a user
    (Default domain) of a project whose account is its own."""

    proxy: KeystoneProxy
    auth_url: str  # Keystone's, ending in /v3
    username: str
    password: str = field(repr=False)
    project: str = ""
    region: str = ""
