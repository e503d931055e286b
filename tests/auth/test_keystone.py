"""Identity ``keystone`` against a real Keystone (Debian's, started by the
fixture), tokens validated by keystonemiddleware's auth_token as a service
user: tokens on the REST, raw and git endpoints, application credentials
for git, revocation within the cache time, projects kept apart, Keystone
out of reach, and the whole auth matrix with Keystone's callers in every
column.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.access_world import World, world_for
from tests.conftest import Git, Server, start_server, stop_server
from tests.http.test_auth_matrix import (  # run here again, as Keystone's callers
    test_clone_of_private_template,
    test_matrix,
)
from tests.services.memcached import start_memcached
from tests.services.openstack import AppCredential, Cloud, Credentials
from tests.services.process import free_port

# Short, so that the tests of revocation wait little (a second server has
# the default, 60: validating a token costs Keystone seconds on a loaded
# machine, and the matrix sends thousands of requests).
CACHE_SECONDS = 2
# The server has two workers, each with its own cache, and a loaded CI
# machine answers slowly: how long past the cache time a revoked token may
# still be seen working.
SLACK_SECONDS = 8
HEAT_TEMPLATE = ("heat_template_version: 2018-08-31\n"
                 "resources:\n  word: {type: OS::Heat::RandomString}\n")

__all__ = ["test_clone_of_private_template", "test_matrix"]


@dataclasses.dataclass
class Site:
    """Heater with identity keystone (``short``: the same with a cache of
    CACHE_SECONDS), and the Keystone project whose name is not a namespace
    but is mapped to one."""

    server: Server
    short: Server
    cloud: Cloud
    mapped: Credentials
    mapped_namespace: str


# Session-scoped like the cloud: xdist may interleave the cloud's tests of
# several modules on one worker, and a module fixture would be made again.
@pytest.fixture(scope="session")
def site(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    keystone = cloud.keystone
    project = f"Mapped {uuid.uuid4().hex[:6]}"
    keystone.create("projects", name=project, domain_id="default")
    mapped = cloud.make_user(("member",), project=project)
    namespace = f"m{uuid.uuid4().hex[:10]}"
    env = {**keystone_env(cloud.keystone_url, service_user(cloud)),
           "HEATER_KEYSTONE_NAMESPACES": f"{mapped.project_id}={namespace}"}
    root = tmp_path_factory.mktemp("keystone-heater")
    server = start_server(root / "data", root / "server.log", env=env)
    try:
        short = start_server(root / "short", root / "short.log",
                             env={**env, "HEATER_KEYSTONE_CACHE_SECONDS": str(CACHE_SECONDS)})
    except BaseException:
        stop_server(server)
        raise
    yield Site(server, short, cloud, mapped, namespace)
    stop_server(short)
    stop_server(server)


def service_user(cloud: Cloud) -> Credentials:
    """A service user as OpenStack services have: the ``service`` role on
    the ``service`` project, which lets it validate others' tokens."""
    keystone = cloud.keystone
    name, password = f"heater-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    user_id = keystone.create("users", name=name, password=password, domain_id="default")
    keystone.grant("service", user_id, project_id=keystone.find("projects", "service"))
    return Credentials(name, password, "service", user_id)


def keystone_env(url: str, service: Credentials) -> dict[str, str]:
    """The environment of a Heater with identity keystone at ``url``."""
    return {"HEATER_IDENTITY": "keystone", "HEATER_KEYSTONE_URL": url,
            "HEATER_KEYSTONE_SERVICE_USER": service.username,
            "HEATER_KEYSTONE_SERVICE_PASSWORD": service.password}


def project_user(cloud: Cloud, project: str, role: str) -> Credentials:
    """A user with ``role`` on the project named ``project`` (made if new)."""
    keystone = cloud.keystone
    try:
        keystone.find("projects", project)
    except AssertionError:  # none yet
        keystone.create("projects", name=project, domain_id="default")
    return cloud.make_user((role,), project=project)


def system_token(cloud: Cloud, role: str) -> str:
    """A system-scoped token of a new user holding ``role`` on the system."""
    user = cloud.make_user(())
    role_id = cloud.keystone.find("roles", role)
    cloud.keystone.request("PUT", f"/system/users/{user.user_id}/roles/{role_id}")
    return cloud.keystone.token_for({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "id": user.user_id, "password": user.password}}},
        "scope": {"system": {"all": True}}}})


def keystone_headers(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


def create_template(server: Server, headers: dict[str, str], ns: str, name: str,
                    visibility: str = "private") -> requests.Response:
    return requests.post(f"{server.url}/api/v1/templates", headers=headers, timeout=60, json={
        "namespace": ns, "name": name, "visibility": visibility,
        "files": {"template.yaml": HEAT_TEMPLATE}})


# -- tokens ------------------------------------------------------------------

def test_a_project_is_a_namespace_and_roles_map(site: Site) -> None:
    cloud, server = site.cloud, site.server
    ns = f"k{uuid.uuid4().hex[:10]}"
    member = project_user(cloud, ns, "member")
    reader = project_user(cloud, ns, "reader")
    stranger = cloud.make_user(("admin",))  # admin of another project
    writer_token = cloud.keystone.token(member)

    created = create_template(server, keystone_headers(writer_token), ns, "db")
    assert created.status_code == 201, created.text
    commits = requests.get(f"{server.url}/api/v1/templates/{ns}/db/commits",
                           headers=keystone_headers(writer_token), timeout=30)
    assert commits.json()["commits"][0]["author"]["name"] == member.username

    reader_token = cloud.keystone.token(reader)
    for path in (f"/api/v1/templates/{ns}/db", f"/{ns}/db/raw/main/template.yaml"):
        assert requests.get(f"{server.url}{path}", headers=keystone_headers(reader_token),
                            timeout=30).status_code == 200, path
        # Bearer carries a Keystone token as well as X-Auth-Token does.
        bearer = {"Authorization": f"Bearer {reader_token}"}
        assert requests.get(f"{server.url}{path}", headers=bearer, timeout=30).status_code == 200
        refused = requests.get(f"{server.url}{path}", timeout=30,
                               headers=keystone_headers(cloud.keystone.token(stranger)))
        assert refused.status_code == 404, path  # as if it did not exist
    denied = create_template(server, keystone_headers(reader_token), ns, "web")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "forbidden")

    # A project whose name is no namespace acts on the namespace mapped to it.
    mapped_token = cloud.keystone.token(site.mapped)
    made = create_template(server, keystone_headers(mapped_token), site.mapped_namespace, "x")
    assert made.status_code == 201, made.text


def test_tokens_heater_cannot_place_are_refused(site: Site) -> None:
    cloud, server = site.cloud, site.server
    unnamed = cloud.make_user(("member",), project=None)
    keystone = cloud.keystone
    project_id = keystone.create("projects", name=f"Not Valid {uuid.uuid4().hex[:6]}",
                                 domain_id="default")
    keystone.grant("member", unnamed.user_id, project_id=project_id)
    scoped = keystone.token_for({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "id": unnamed.user_id, "password": unnamed.password}}},
        "scope": {"project": {"id": project_id}}}})
    answer = requests.get(f"{server.url}/api/v1/templates", headers=keystone_headers(scoped),
                          timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "invalid_token")
    assert "HEATER_KEYSTONE_NAMESPACES" in answer.json()["error"]["message"]
    assert answer.headers["WWW-Authenticate"].startswith("Basic")

    # A token Keystone does not know: the same answer as a bad Heater token.
    bad = requests.get(f"{server.url}/api/v1/templates", timeout=30,
                       headers=keystone_headers("gAAAAA" + "x" * 180))
    assert bad.status_code == 401
    assert bad.json() == {"error": {
        "code": "invalid_token",
        "message": "Keystone does not accept the token (unknown, expired or revoked)"}}


def test_a_revoked_token_stops_working_within_the_cache_time(site: Site) -> None:
    cloud, server = site.cloud, site.short
    ns = f"k{uuid.uuid4().hex[:10]}"
    user = project_user(cloud, ns, "member")
    token = cloud.keystone.token(user)
    assert create_template(server, keystone_headers(token), ns, "db").status_code == 201
    url = f"{server.url}/api/v1/templates/{ns}/db"
    for _ in range(4):  # both workers cache it
        assert requests.get(url, headers=keystone_headers(token), timeout=30).status_code == 200
    cloud.keystone.revoke_token(token)
    revoked_at = time.monotonic()
    while True:
        answer = requests.get(url, headers=keystone_headers(token), timeout=30)
        if answer.status_code == 401:
            break
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - revoked_at < CACHE_SECONDS + SLACK_SECONDS, \
            "the revoked token still works past the cache time"
        time.sleep(0.2)
    assert answer.json()["error"]["code"] == "invalid_token"
    # Each worker cached the token when it first saw it, so another may
    # believe it a little longer than the first to refuse; past the cache
    # time (and the slack for a loaded machine) every worker refuses it.
    time.sleep(max(0.0, revoked_at + CACHE_SECONDS + SLACK_SECONDS - time.monotonic()))
    for _ in range(4):
        assert requests.get(url, headers=keystone_headers(token), timeout=30).status_code == 401
    fresh = cloud.keystone.token(user)
    assert requests.get(url, headers=keystone_headers(fresh), timeout=30).status_code == 200


def test_keystone_out_of_reach_is_503(git: Git, tmp_path: Path) -> None:
    """Nothing listens where Keystone should be: a Keystone token or an
    application credential is 503 identity_unavailable on every kind of
    endpoint (never 500, nor 401: the caller did nothing wrong), and
    anonymous requests are served as ever."""
    nowhere = f"http://127.0.0.1:{free_port()}/v3"
    server = start_server(tmp_path / "data", tmp_path / "server.log",
                          env=keystone_env(nowhere, Credentials("heater", "secret", "service")))
    try:
        token = keystone_headers("gAAAAA" + "x" * 180)
        for path in ("/api/v1/templates", "/acme/db/raw/main/template.yaml",
                     "/acme/db.git/info/refs?service=git-upload-pack"):
            answer = requests.get(f"{server.url}{path}", headers=token, timeout=60)
            assert answer.status_code == 503, (path, answer.text)
            if not path.endswith("git-upload-pack"):  # git's answers are text for git
                assert answer.json()["error"]["code"] == "identity_unavailable", path
        credential = AppCredential("0123abcd", "secret", "git")
        clone = git.run("clone", credential_url(server, "/acme/db.git", credential),
                        str(tmp_path / "clone"), check=False)
        assert clone.returncode != 0 and "503" in clone.stderr, clone.stderr
        assert requests.get(f"{server.url}/api/v1/templates", timeout=60).status_code == 200
    finally:
        stop_server(server)


def test_tokens_cached_in_memcached(site: Site, tmp_path: Path) -> None:
    """With memcached, auth_token's cache is shared: the second worker
    finds the token the first one validated."""
    cloud = site.cloud
    memcached = start_memcached(tmp_path)
    try:
        server = start_server(tmp_path / "data", tmp_path / "server.log", env={
            **keystone_env(cloud.keystone_url, service_user(cloud)),
            "HEATER_KEYSTONE_MEMCACHED_SERVERS": memcached.address})
        try:
            ns = f"k{uuid.uuid4().hex[:10]}"
            token = cloud.keystone.token(project_user(cloud, ns, "member"))
            assert create_template(server, keystone_headers(token), ns, "db").status_code == 201
            for _ in range(4):  # on both workers
                assert requests.get(f"{server.url}/api/v1/templates/{ns}/db", timeout=30,
                                    headers=keystone_headers(token)).status_code == 200
        finally:
            stop_server(server)
        stats = memcached.stats()
        assert (stats["cmd_set"], int(stats["get_hits"]) >= 4) == ("1", True), stats
    finally:
        memcached.stop()


# -- application credentials and git -------------------------------------------

def credential_url(server: Server, path: str, credential: AppCredential) -> str:
    return server.url.replace("://", f"://{credential.id}:{credential.secret}@", 1) + path


def test_git_clone_and_push_with_an_application_credential(site: Site, git: Git,
                                                           tmp_path: Path) -> None:
    cloud, server = site.cloud, site.short
    ns = f"k{uuid.uuid4().hex[:10]}"
    member = project_user(cloud, ns, "member")
    reader = project_user(cloud, ns, "reader")
    stranger = cloud.make_user(("member",))
    assert create_template(server, keystone_headers(cloud.keystone.token(member)), ns,
                           "db").status_code == 201
    pusher = cloud.app_credential(member)
    work = tmp_path / "work"
    git.run("clone", credential_url(server, f"/{ns}/db.git", pusher), str(work))
    git.commit(work, {"template.yaml": HEAT_TEMPLATE + "# pushed\n"}, "a change")
    git.run("push", "origin", "HEAD:main", cwd=work)
    raw = requests.get(f"{server.url}/{ns}/db/raw/main/template.yaml", timeout=30,
                       headers=keystone_headers(cloud.keystone.token(reader)))
    assert raw.text.endswith("# pushed\n")

    # A reader clones and cannot push; another project's member does not see it.
    looker = cloud.app_credential(reader)
    git.run("clone", credential_url(server, f"/{ns}/db.git", looker), str(tmp_path / "read"))
    git.commit(tmp_path / "read", {"other.yaml": "x: 1\n"}, "not allowed")
    refused = git.run("push", "origin", "HEAD:main", cwd=tmp_path / "read", check=False)
    assert refused.returncode != 0 and "Authentication failed" in refused.stderr
    outsider = git.run("clone", credential_url(server, f"/{ns}/db.git",
                                               cloud.app_credential(stranger)),
                       str(tmp_path / "no"), check=False)
    assert outsider.returncode != 0 and "not found" in outsider.stderr

    # A wrong secret is refused; a deleted credential within the cache time.
    # (Keystone keeps a bcrypt hash of the secret, which reads 72 bytes at most.)
    wrong = AppCredential(pusher.id, "x" + pusher.secret[1:], pusher.name)
    bad = git.run("clone", credential_url(server, f"/{ns}/db.git", wrong),
                  str(tmp_path / "bad"), check=False)
    assert bad.returncode != 0 and "Authentication failed" in bad.stderr
    cloud.keystone.request("DELETE", f"/users/{member.user_id}/application_credentials/"
                           f"{pusher.id}", token=cloud.keystone.token(member))
    deleted_at = time.monotonic()
    url = credential_url(server, f"/{ns}/db.git/info/refs?service=git-upload-pack", pusher)
    while requests.get(url, timeout=30).status_code != 401:
        assert time.monotonic() - deleted_at < CACHE_SECONDS + SLACK_SECONDS
        time.sleep(0.2)


# -- the auth matrix, with Keystone's callers ------------------------------------

@dataclasses.dataclass
class KeystoneServer(Server):
    """The server, with the git URLs of Keystone's callers: their
    application credential as Basic user and password."""

    credentials: dict[str, AppCredential] = dataclasses.field(default_factory=dict)

    def auth_url(self, path: str, token: str | None) -> str:
        if token is None:
            return super().auth_url(path, token)
        # A token no application credential stands for (system-scoped, or
        # revoked) goes as the password of the user "token".
        credential = self.credentials.get(token, AppCredential("token", token, ""))
        return credential_url(self, f"/{path.lstrip('/')}", credential)


@dataclasses.dataclass
class KeystoneWorld(World):
    """The access tests' world, looked at by Keystone's callers: each
    principal is a Keystone user (R W A: of the world's project, R' W' A':
    of another, R* W* A*: system-scoped) sending its token as X-Auth-Token;
    "bad" sends a revoked token."""

    tokens: dict[str, str] = dataclasses.field(default_factory=dict)

    def token(self, principal: str) -> str | None:
        return None if principal == "anon" else self.tokens[principal]

    def headers(self, principal: str) -> dict[str, str]:
        token = self.token(principal)
        return keystone_headers(token) if token is not None else {}


@pytest.fixture(scope="session")
def world(site: Site) -> KeystoneWorld:
    cloud = site.cloud
    built = world_for(site.server)  # made with Heater's own tokens, which keep working
    server = KeystoneServer(**{f.name: getattr(site.server, f.name)
                               for f in dataclasses.fields(Server)})
    tokens: dict[str, str] = {}
    for role, letter in (("reader", "R"), ("member", "W"), ("admin", "A")):
        for project, suffix in ((built.ns, ""), (built.other, "'")):
            user = project_user(cloud, project, role)
            tokens[letter + suffix] = cloud.keystone.token(user)
            server.credentials[tokens[letter + suffix]] = cloud.app_credential(user)
        tokens[f"{letter}*"] = system_token(cloud, role)
    revoked = cloud.keystone.token(project_user(cloud, built.ns, "admin"))
    cloud.keystone.revoke_token(revoked)
    tokens["bad"] = revoked
    fields = {f.name: getattr(built, f.name) for f in dataclasses.fields(World)}
    return KeystoneWorld(**{**fields, "server": server}, tokens=tokens)
