"""A small real OpenStack cloud for tests: Keystone, Heat and Glance.

The services are Debian's packages (Keystone 22, Heat 19, Glance 25),
installed by :func:`ensure_openstack` when missing, run with Debian's own
``/usr/bin/python3`` from a scratch directory: SQLite databases (in WAL
mode: Keystone answers 500 "database is locked" without it), no message
bus (Heat's ``transport_url = fake://``, API and engine in one
``heat-all`` process), Glance storing images on the local disk.

Building the databases and the identities (``db_sync``, fernet keys,
``bootstrap``, the service users, Heat's domain, the catalog) takes half a
minute, so it is done once per machine and kept as the *prepared state*, a
directory named after a hash of this file and the package versions; every
:func:`start_cloud` copies it and rewrites the catalog's endpoints to the
ports it got, so a cloud is ready in a few seconds.

What a test gets (:class:`Cloud`): the services' URLs, the admin's
credentials, :meth:`Cloud.make_user` for a project of its own with a user
in it (and :meth:`Cloud.app_credential` for that user), an environment
for the ``openstack`` command line (:meth:`Cloud.openstack`), and a
:class:`Keystone` client for anything else. Nothing is mocked: a service
that cannot start fails the fixture with its log.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.services.debian import ensure_packages
from tests.services.process import Service, ServiceFailed, free_port

PACKAGES = ("keystone", "heat-api", "heat-engine", "python3-heatclient", "glance-api",
            "python3-openstackclient", "uwsgi-core", "uwsgi-plugin-python3")
# The services are Debian python3 packages: they run with Debian's Python,
# never the test suite's virtual environment.
PYTHON = "/usr/bin/python3"
REGION = "RegionOne"
ADMIN = "admin"
# Heat's stacks are owned by users with this role, its in-instance users
# (wait conditions, signals) get the other.
HEAT_ROLES = ("heat_stack_owner", "heat_stack_user")
_STATE_ROOT = Path(tempfile.gettempdir())
# Keystone answers in milliseconds, but a loaded 2-core CI machine may stall it.
_HTTP_TIMEOUT = 90
# Cold starts on a small loaded machine: Heat imports for a long while.
_READY_SECONDS = 180.0


def ensure_openstack() -> None:
    """Install the Debian packages of the cloud and its command line."""
    for program in ("keystone-manage", "heat-all", "glance-api", "openstack", "uwsgi"):
        ensure_packages(*PACKAGES, program=program)


@dataclass(frozen=True)
class Credentials:
    """A Keystone user scoped to a project (both in the Default domain)."""

    username: str
    password: str
    project: str
    user_id: str = ""
    project_id: str = ""

    def auth(self) -> dict[str, Any]:
        """The ``auth`` object of ``POST /v3/auth/tokens`` for these credentials."""
        return {"identity": {"methods": ["password"], "password": {"user": {
            "name": self.username, "password": self.password,
            "domain": {"id": "default"}}}},
            "scope": {"project": {"name": self.project, "domain": {"id": "default"}}}}


@dataclass(frozen=True)
class AppCredential:
    """A Keystone application credential: what git sends as Basic user and password."""

    id: str
    secret: str
    name: str


class Keystone:
    """Keystone's v3 API, as much of it as the fixtures and tests use."""

    def __init__(self, url: str, admin: Credentials) -> None:
        self.url = url  # ends in /v3
        self.admin = admin
        self._admin_token: str | None = None

    def token(self, credentials: Credentials) -> str:
        """A new project-scoped token for ``credentials``."""
        return self.token_for({"auth": credentials.auth()})

    def token_for(self, body: Mapping[str, Any]) -> str:
        """A new token for an ``auth`` body (password, application credential...)."""
        answer = requests.post(f"{self.url}/auth/tokens", json=body, timeout=_HTTP_TIMEOUT)
        if answer.status_code != 201:
            raise AssertionError(f"Keystone refused a token: {answer.status_code} {answer.text}")
        return answer.headers["X-Subject-Token"]

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                token: str | None = None) -> dict[str, Any]:
        """One call with ``token`` (the admin's by default); the JSON answer."""
        if token is None:
            if self._admin_token is None:
                self._admin_token = self.token(self.admin)
            token = self._admin_token
        answer = requests.request(method, f"{self.url}{path}", json=body,
                                  headers={"X-Auth-Token": token}, timeout=_HTTP_TIMEOUT)
        if answer.status_code >= 300:
            raise AssertionError(f"Keystone {method} {path}: {answer.status_code} {answer.text}")
        return answer.json() if answer.content else {}

    def find(self, collection: str, name: str, **query: str) -> str:
        """The id of the one ``collection`` entry called ``name``."""
        params = "&".join(f"{k}={v}" for k, v in {"name": name, **query}.items())
        found = self.request("GET", f"/{collection}?{params}")[collection]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} {collection} named {name!r}")
        return str(found[0]["id"])

    def create(self, collection: str, **fields: Any) -> str:
        """Create one ``collection`` entry; its id."""
        singular = collection[:-1]
        return str(self.request("POST", f"/{collection}", {singular: fields})[singular]["id"])

    def grant(self, role: str, user_id: str, *, project_id: str | None = None,
              domain_id: str | None = None) -> None:
        """Give ``user_id`` the role named ``role`` on a project or a domain."""
        target = f"projects/{project_id}" if project_id else f"domains/{domain_id}"
        self.request("PUT", f"/{target}/users/{user_id}/roles/{self.find('roles', role)}")

    def revoke_token(self, token: str) -> None:
        """Revoke ``token`` (as the admin)."""
        answer = requests.delete(f"{self.url}/auth/tokens", timeout=_HTTP_TIMEOUT,
                                 headers={"X-Auth-Token": self.token(self.admin),
                                          "X-Subject-Token": token})
        if answer.status_code != 204:
            raise AssertionError(f"Keystone kept the token: {answer.status_code} {answer.text}")


@dataclass
class Cloud:
    """A running cloud: URLs, the admin, and helpers to make identities."""

    root: Path
    keystone_url: str  # the identity endpoint, ending in /v3
    heat_url: str  # the orchestration endpoint without the project: .../v1
    glance_url: str  # the image endpoint: http://host:port
    admin: Credentials
    services: list[Service] = field(default_factory=list)
    _keystone: Keystone | None = None

    @property
    def keystone(self) -> Keystone:
        """A client of Keystone as the admin (its admin token made once)."""
        if self._keystone is None:
            self._keystone = Keystone(self.keystone_url, self.admin)
        return self._keystone

    def make_user(self, roles: tuple[str, ...] = ("member",), *,
                  project: str | None = None, prefix: str = "u") -> Credentials:
        """A new user (and a new project, unless ``project`` names one) with
        ``roles`` on the project. Names are unique, so tests never meet."""
        keystone = self.keystone
        if project is None:
            project = f"p{uuid.uuid4().hex[:10]}"
            project_id = keystone.create("projects", name=project, domain_id="default")
        else:
            project_id = keystone.find("projects", project)
        username = f"{prefix}{uuid.uuid4().hex[:10]}"
        password = secrets.token_urlsafe(12)
        user_id = keystone.create("users", name=username, password=password,
                                  domain_id="default", default_project_id=project_id)
        for role in roles:
            keystone.grant(role, user_id, project_id=project_id)
        return Credentials(username, password, project, user_id, project_id)

    def app_credential(self, user: Credentials, *, roles: tuple[str, ...] | None = None,
                       expires_at: str | None = None) -> AppCredential:
        """A new application credential of ``user`` on its project (all its
        roles, unless ``roles`` names fewer). Only the user may make one."""
        body: dict[str, Any] = {"name": f"a{uuid.uuid4().hex[:10]}"}
        if roles is not None:
            body["roles"] = [{"name": role} for role in roles]
        if expires_at is not None:
            body["expires_at"] = expires_at
        made = self.keystone.request(
            "POST", f"/users/{user.user_id}/application_credentials",
            {"application_credential": body}, self.keystone.token(user))["application_credential"]
        return AppCredential(made["id"], made["secret"], made["name"])

    def add_endpoint(self, kind: str, name: str, url: str) -> None:
        """Register a service of type ``kind`` at ``url`` (public, internal
        and admin) in the catalog of :data:`REGION`."""
        service = self.keystone.create("services", name=name, type=kind)
        for interface in ("public", "internal", "admin"):
            self.keystone.create("endpoints", service_id=service, interface=interface,
                                 url=url, region_id=REGION)

    def heat_endpoint(self, user: Credentials) -> str:
        """The orchestration endpoint of ``user``'s project (as the catalog says)."""
        return f"{self.heat_url}/{user.project_id}"

    def os_env(self, user: Credentials | None = None) -> dict[str, str]:
        """The environment the ``openstack`` command line needs, as ``user``."""
        user = user or self.admin
        return {
            "PATH": f"/usr/local/bin:/usr/bin:/bin:{os.environ.get('PATH', '')}",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "OS_AUTH_URL": self.keystone_url,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": user.username,
            "OS_PASSWORD": user.password,
            "OS_PROJECT_NAME": user.project,
            "OS_USER_DOMAIN_ID": "default",
            "OS_PROJECT_DOMAIN_ID": "default",
            "OS_REGION_NAME": REGION,
            "OS_INTERFACE": "public",
        }

    def openstack(self, *args: str, user: Credentials | None = None, check: bool = True,
                  timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run Debian's ``openstack`` command line as ``user`` (the admin by default)."""
        done = subprocess.run([PYTHON, "/usr/bin/openstack", *args], capture_output=True,
                              text=True, env=self.os_env(user), timeout=timeout,
                              cwd=self.root, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}\n{self.logs()}")
        return done

    def openstack_json(self, *args: str, user: Credentials | None = None) -> Any:
        """``openstack ... -f json`` as ``user``: the JSON it prints last
        (``--wait`` prints the stack's events before it)."""
        lines = self.openstack(*args, "-f", "json", user=user).stdout.splitlines()
        # Event lines start with their time; the JSON with a bracket.
        first = next((i for i, line in enumerate(lines) if line[:1] in ("{", "[")), 0)
        return json.loads("\n".join(lines[first:]))

    def logs(self) -> str:
        """The end of every service's log, for failure messages."""
        return "\n".join(f"--- {s.name} ---\n{s.log()}" for s in self.services)

    def stop(self) -> None:
        for service in self.services:
            service.stop()


# ---------------------------------------------------------------- configs

def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _ini(sections: Mapping[str, Mapping[str, object]]) -> str:
    return "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()) + "\n"
                   for name, options in sections.items())


def _authtoken(keystone_url: str, user: str, password: str) -> dict[str, object]:
    """The ``[keystone_authtoken]`` section of a service that checks tokens."""
    base = keystone_url.removesuffix("/v3")
    return {"www_authenticate_uri": base, "auth_url": base, "auth_type": "password",
            "username": user, "password": password, "project_name": "service",
            "user_domain_id": "default", "project_domain_id": "default",
            "region_name": REGION, "interface": "public", "memcached_servers": "",
            "service_token_roles_required": True}


@dataclass(frozen=True)
class _Ports:
    keystone: int
    heat: int
    glance: int

    @property
    def keystone_url(self) -> str:
        return f"http://127.0.0.1:{self.keystone}/v3"


def _write_configs(root: Path, ports: _Ports, state: Mapping[str, str]) -> None:
    keystone_url = ports.keystone_url
    (root / "keystone.conf").write_text(_ini({
        "DEFAULT": {"use_stderr": True, "debug": False},
        "database": {"connection": _sqlite_url(root / "keystone.sqlite")},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": root / "fernet-keys", "max_active_keys": 3},
        "fernet_receipts": {"key_repository": root / "fernet-keys"},
        "credential": {"key_repository": root / "credential-keys"},
        "cache": {"enabled": False},
        # bcrypt's fewest rounds: every token and user costs a password hash,
        # at Keystone's default (12) a third of a second of CPU each.
        "identity": {"password_hash_rounds": 4},
    }))
    (root / "heat.conf").write_text(_ini({
        "DEFAULT": {
            "use_stderr": True, "debug": False, "transport_url": "fake://",
            "num_engine_workers": 1, "graceful_shutdown_timeout": 3,
            # Heat's legacy engine walks a stack in the engine's own task
            # runner. The convergence engine (the default) passes each
            # resource on as a message; on this one-process bus and SQLite,
            # a loaded machine once saw a nested stack's update stop
            # midway with no error, and `stack update --wait` time out.
            "convergence_engine": False,
            "region_name_for_services": REGION,
            "stack_user_domain_name": "heat", "stack_domain_admin": "heat_domain_admin",
            "stack_domain_admin_password": state["heat_domain_password"],
            "heat_metadata_server_url": f"http://127.0.0.1:{ports.heat}",
            "heat_waitcondition_server_url": f"http://127.0.0.1:{ports.heat}/v1/waitcondition",
        },
        "database": {"connection": _sqlite_url(root / "heat.sqlite")},
        "heat_api": {"bind_host": "127.0.0.1", "bind_port": ports.heat, "workers": 1},
        "heat_all": {"enabled_services": "api,engine"},
        "paste_deploy": {"api_paste_config": "/etc/heat/api-paste.ini"},
        "keystone_authtoken": _authtoken(keystone_url, "heat", state["heat_password"]),
        "trustee": {"auth_type": "password", "auth_url": keystone_url.removesuffix("/v3"),
                    "username": "heat", "password": state["heat_password"],
                    "user_domain_id": "default"},
        "clients_keystone": {"auth_uri": keystone_url.removesuffix("/v3")},
        "oslo_concurrency": {"lock_path": root / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
    }))
    (root / "glance-api.conf").write_text(_ini({
        "DEFAULT": {"use_stderr": True, "debug": False, "bind_host": "127.0.0.1",
                    "bind_port": ports.glance, "workers": 0, "enabled_backends": "fs:file",
                    "node_staging_uri": f"file://{root / 'glance-staging'}"},
        "database": {"connection": _sqlite_url(root / "glance.sqlite")},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": root / "glance-images"},
        "os_glance_staging_store": {"filesystem_store_datadir": root / "glance-staging"},
        "os_glance_tasks_store": {"filesystem_store_datadir": root / "glance-tasks"},
        "keystone_authtoken": _authtoken(keystone_url, "glance", state["glance_password"]),
        # Debian's default flavor has no authentication at all.
        "paste_deploy": {"flavor": "keystone",
                         "config_file": "/etc/glance/glance-api-paste.ini"},
        "oslo_concurrency": {"lock_path": root / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": {"enforce_new_defaults": False},
    }))
    for directory in ("locks", "glance-images", "glance-staging", "glance-tasks", "logs"):
        (root / directory).mkdir(exist_ok=True)


def _run(argv: list[str], root: Path) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, cwd=root, timeout=600,
                          env=_service_env(root), check=False)
    if done.returncode != 0:
        raise ServiceFailed(f"{' '.join(argv)} failed ({done.returncode}):\n"
                            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def _service_env(root: Path) -> dict[str, str]:
    """An environment free of the test suite's virtual environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("OS_")}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env["OS_KEYSTONE_CONFIG_FILES"] = str(root / "keystone.conf")
    env["HOME"] = str(root)
    return env


def _wal(database: Path) -> None:
    # Keystone, Heat and Glance each write from several threads.
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA journal_mode=WAL")


# ---------------------------------------------------------- the services

def _start_keystone(root: Path, port: int) -> Service:
    argv = ["uwsgi", "--plugins", "python3", "--http-socket", f"127.0.0.1:{port}",
            "--wsgi-file", "/usr/bin/keystone-wsgi-public", "--processes", "2",
            "--threads", "1", "--die-on-term", "--need-app", "--master",
            # keystoneauth keeps connections open; uwsgi's plain HTTP socket does not.
            "--add-header", "Connection: close"]
    return Service("keystone", argv, root / "logs" / "keystone.log", env=_service_env(root),
                   cwd=root)


def _start_heat(root: Path) -> Service:
    argv = [PYTHON, "/usr/bin/heat-all", "--config-file", str(root / "heat.conf")]
    return Service("heat", argv, root / "logs" / "heat.log", env=_service_env(root), cwd=root)


def _start_glance(root: Path) -> Service:
    argv = [PYTHON, "/usr/bin/glance-api", "--config-file", str(root / "glance-api.conf")]
    return Service("glance", argv, root / "logs" / "glance.log", env=_service_env(root),
                   cwd=root)


def _answers(url: str, token: str | None = None) -> bool:
    headers = {"X-Auth-Token": token} if token else {}
    return requests.get(url, headers=headers, timeout=5).status_code < 400


def _endpoints(ports: _Ports) -> dict[str, str]:
    return {"identity": ports.keystone_url,
            "orchestration": f"http://127.0.0.1:{ports.heat}/v1/%(tenant_id)s",
            "image": f"http://127.0.0.1:{ports.glance}"}


def _move_endpoints(root: Path, ports: _Ports) -> None:
    """Point the catalog at this cloud's ports (Keystone is not running yet)."""
    with sqlite3.connect(root / "keystone.sqlite") as db:
        for kind, url in _endpoints(ports).items():
            db.execute("UPDATE endpoint SET url = ? WHERE service_id IN "
                       "(SELECT id FROM service WHERE type = ?)", (url, kind))


def _start_all(root: Path, state: Mapping[str, str], *, with_services: bool) -> Cloud:
    ports = _Ports(free_port(), free_port(), free_port())
    _write_configs(root, ports, state)
    _move_endpoints(root, ports)
    admin = Credentials(ADMIN, state["admin_password"], ADMIN)
    cloud = Cloud(root, ports.keystone_url, f"http://127.0.0.1:{ports.heat}/v1",
                  f"http://127.0.0.1:{ports.glance}", admin)
    try:
        keystone = _start_keystone(root, ports.keystone)
        cloud.services.append(keystone)
        if with_services:  # they start while Keystone does
            cloud.services += [_start_heat(root), _start_glance(root)]
        keystone.wait_ready(lambda: _answers(ports.keystone_url), _READY_SECONDS)
        admin = _with_ids(cloud.keystone, admin)
        cloud.admin = admin
        if with_services:
            token = cloud.keystone.token(admin)
            heat, glance = cloud.services[1:]
            heat.wait_ready(lambda: _answers(f"{cloud.heat_url}/{admin.project_id}/stacks",
                                             token), _READY_SECONDS)
            glance.wait_ready(lambda: _answers(f"{cloud.glance_url}/v2/images", token),
                              _READY_SECONDS)
    except BaseException:
        cloud.stop()
        raise
    return cloud


def _with_ids(keystone: Keystone, user: Credentials) -> Credentials:
    project_id = keystone.find("projects", user.project)
    user_id = keystone.find("users", user.username)
    return Credentials(user.username, user.password, user.project, user_id, project_id)


# ------------------------------------------------------ the prepared state

def _state_key() -> str:
    versions = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n",
                               *PACKAGES], capture_output=True, text=True, check=False).stdout
    digest = hashlib.sha256(Path(__file__).read_bytes() + versions.encode())
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def prepared_state() -> Path:
    """The prepared state's directory, built first if this machine has none
    for this file and these packages (concurrent callers wait for one)."""
    ensure_openstack()
    target = _STATE_ROOT / f"heater-tests-openstack-{_state_key()}"
    with _locked(_STATE_ROOT / "heater-tests-openstack.lock"):
        if not (target / "state.json").is_file():
            scratch = Path(tempfile.mkdtemp(prefix="heater-openstack-build-", dir=_STATE_ROOT))
            try:
                _build_state(scratch)
                shutil.rmtree(target, ignore_errors=True)
                scratch.rename(target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return target


def _build_state(root: Path) -> None:
    state = {"admin_password": secrets.token_urlsafe(16),
             "heat_password": secrets.token_urlsafe(16),
             "heat_domain_password": secrets.token_urlsafe(16),
             "glance_password": secrets.token_urlsafe(16)}
    ports = _Ports(free_port(), free_port(), free_port())
    _write_configs(root, ports, state)
    conf = ["--config-file", str(root / "keystone.conf")]
    manage = [PYTHON, "/usr/bin/keystone-manage", *conf]
    _run([*manage, "db_sync"], root)
    _wal(root / "keystone.sqlite")
    for keys in ("fernet_setup", "credential_setup"):
        _run([*manage, keys, "--keystone-user", "root", "--keystone-group", "root"], root)
    _run([*manage, "bootstrap", "--bootstrap-password", state["admin_password"],
          "--bootstrap-username", ADMIN, "--bootstrap-project-name", ADMIN,
          "--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone",
          "--bootstrap-region-id", REGION, "--bootstrap-public-url", ports.keystone_url,
          "--bootstrap-internal-url", ports.keystone_url,
          "--bootstrap-admin-url", ports.keystone_url],
         root)
    _run([PYTHON, "/usr/bin/heat-manage", "--config-file", str(root / "heat.conf"),
          "db_sync"], root)
    _wal(root / "heat.sqlite")
    _run([PYTHON, "/usr/bin/glance-manage", "--config-file", str(root / "glance-api.conf"),
          "db_sync"], root)
    _wal(root / "glance.sqlite")
    cloud = _start_all(root, state, with_services=False)
    try:
        _identities(cloud.keystone, state, ports)
    finally:
        cloud.stop()
    for leftover in ("logs", "locks"):
        shutil.rmtree(root / leftover, ignore_errors=True)
    (root / "state.json").write_text(json.dumps(state))


def _identities(keystone: Keystone, state: Mapping[str, str], ports: _Ports) -> None:
    """Service users, Heat's domain and roles, and the catalog."""
    service_project = keystone.create("projects", name="service", domain_id="default")
    for role in (*HEAT_ROLES, "service"):
        keystone.create("roles", name=role)
    for user in ("heat", "glance"):
        user_id = keystone.create("users", name=user, password=state[f"{user}_password"],
                                  domain_id="default")
        keystone.grant("admin", user_id, project_id=service_project)
        keystone.grant("service", user_id, project_id=service_project)
    # Heat makes users for its stacks' instances in a domain of its own.
    domain = keystone.create("domains", name="heat", description="Heat's stack users")
    domain_admin = keystone.create("users", name="heat_domain_admin", domain_id=domain,
                                   password=state["heat_domain_password"])
    keystone.grant("admin", domain_admin, domain_id=domain)
    urls = _endpoints(ports)
    for kind, name in (("orchestration", "heat"), ("image", "glance")):
        service = keystone.create("services", name=name, type=kind)
        for interface in ("public", "internal", "admin"):
            keystone.create("endpoints", service_id=service, interface=interface,
                            url=urls[kind], region_id=REGION)


def start_cloud(root: Path) -> Cloud:
    """Copy the prepared state into ``root`` and start Keystone, Heat and
    Glance from it on free ports; stop with :meth:`Cloud.stop`."""
    state_dir = prepared_state()
    shutil.copytree(state_dir, root, dirs_exist_ok=True)
    state = json.loads((root / "state.json").read_text())
    started = time.monotonic()
    cloud = _start_all(root, state, with_services=True)
    (root / "logs" / "started.txt").write_text(f"{time.monotonic() - started:.1f} s\n")
    return cloud
