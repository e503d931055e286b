"""A real OpenStack Swift for the tests: Debian's packages, run as an
all-in-one (proxy, account, container and object servers, memcached for
tempauth) in a directory of its own, with the ``s3api`` middleware so that
the same server also speaks S3.

Each server runs in the foreground with ``workers = 0`` and
``mount_check = false`` on one device in the directory; see
``swift_aio.py`` for why the servers are started through a wrapper run by
Debian's Python.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import textwrap
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests

from tests.services.debian import ensure_packages
from tests.services.process import Service, ServiceFailed, free_port, port_open

PACKAGES = ("swift", "swift-proxy", "swift-object", "swift-container", "swift-account",
            "memcached")
DEBIAN_PYTHON = "/usr/bin/python3"  # the Python that Debian's python3-swift belongs to
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
    memcached = ensure_packages(*PACKAGES, program="memcached")
    root.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("proxy", *SERVERS, "memcached")}
    _write_config(root, ports)
    rings = subprocess.run([DEBIAN_PYTHON, str(RUNNER), "rings", str(root),
                            *(str(ports[s]) for s in SERVERS)],
                           capture_output=True, text=True, check=False, timeout=120)
    if rings.returncode != 0:
        raise ServiceFailed(f"building Swift's rings failed:\n{rings.stdout}{rings.stderr}")
    swift = Swift(root, ports["proxy"])
    user = ["-u", getpass.getuser()] if os.geteuid() == 0 else []  # memcached refuses root
    try:
        swift.services.append(Service(
            "memcached", [memcached, "-l", "127.0.0.1", "-p", str(ports["memcached"]),
                          "-U", "0", *user], root / "memcached.log"))
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
    filters = "".join(f"\n[filter:{m}]\nuse = egg:swift#{m}\n" for m in middleware)
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
