"""Fixtures: a real server on port 0, tokens, and a real git client.

One server per test session (per xdist worker) keeps the suite fast; every
test works in its own namespace (the ``ns`` fixture), so tests never see
each other's repositories.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from _pytest.nodeid import coerce_node_id

from heater.auth.tokens import Role
from heater.cli.serve import WORKER_READY
from heater.config import Config
from heater.paths import Layout
from heater.wiring import build_registry
from tests.services.openstack import REGION, Cloud, start_cloud
from tests.services.swift_server import (
    ServiceUser,
    Swift,
    SwiftOnKeystone,
    start_keystone_proxy,
    start_swift,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT.parent / "shared" / "corpus"
if not CORPUS.is_dir():  # a checkout with the corpus beside it elsewhere
    CORPUS = Path(os.environ.get("HEATER_CORPUS", str(CORPUS)))

_LISTENING = re.compile(rb"Listening at: http://[\d.]+:(\d+)")


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    # The server's own HEATER_* settings (its index backend, DSN...), which
    # commands run against its data directory need too.
    env: dict[str, str] = field(default_factory=dict)
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)
    _count: Iterator[int] = field(default_factory=itertools.count)

    @property
    def layout(self) -> Layout:
        return Layout(self.data_dir)

    def token(self, role: str, namespace: str | None = None) -> str:
        """A token secret with ``role`` on ``namespace`` (cached per scope)."""
        key = (role, namespace)
        if key not in self._tokens:
            name = f"{role}-{namespace or 'all'}-{next(self._count)}-{uuid.uuid4().hex[:6]}"
            config = Config.load(str(self.data_dir), environ={**os.environ, **self.env})
            self._tokens[key] = build_registry(config).tokens.create(
                name, Role.parse(role), namespace)
        return self._tokens[key]

    def auth_url(self, path: str, token: str | None) -> str:
        """A URL with the token as Basic password, as a git user would write it."""
        base = self.url if token is None else self.url.replace("://", f"://x:{token}@", 1)
        return f"{base}/{path.lstrip('/')}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with ``extra`` over it. Safe from a
    background thread: pytest sets and deletes ``PYTEST_CURRENT_TEST`` as
    tests move on, and a copy that meets a key deleted midway raises."""
    while True:
        try:
            return {**os.environ, **extra}
        except KeyError:
            continue


def start_server(data_dir: Path, log_path: Path, workers: int = 2,
                 env: Mapping[str, str] | None = None, port: int = 0) -> Server:
    """Start ``heater serve`` on ``port`` (0: a free one), as the README
    does, and wait for it."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "heater", "serve", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--data-dir", str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT, env=_environment(env or {}),
    )
    deadline = time.monotonic() + 90  # generous: CI machines are small and shared
    listening = None
    while time.monotonic() < deadline and listening is None:
        match = _LISTENING.search(log_path.read_bytes())
        if match:
            listening = int(match.group(1))
            break
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()}")
        time.sleep(0.05)
    if listening is None:
        process.kill()
        raise RuntimeError(f"server did not start:\n{log_path.read_text()}")
    url = f"http://127.0.0.1:{listening}"
    while time.monotonic() < deadline:
        try:
            # Every worker, not just the first: one still starting would
            # replay pending changes behind a test's back.
            if (requests.get(f"{url}/healthz", timeout=2).status_code == 200
                    and log_path.read_bytes().count(WORKER_READY.encode()) >= workers):
                return Server(url, data_dir, process, log_path, dict(env or {}))
        except requests.RequestException:  # not listening yet, or slow under load
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server not healthy:\n{log_path.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# Tests that use one of these fixtures run a server (and git over HTTP):
# they are end-to-end tests, marked ``e2e`` without anyone having to say so.
E2E_FIXTURES = frozenset({"server", "two_workers", "own_server", "fuzzed_server", "werkzeug_url",
                          "swift", "pg_server", "cloud", "web_site", "swift_keystone"})
# Tests that need the OpenStack cloud all run in one xdist worker (scripts/test
# distributes with ``--dist loadgroup``): one cloud per run, not one per worker.
CLOUD_GROUP = pytest.mark.xdist_group("openstack")
CLOUD_FIXTURES = frozenset({"cloud", "swift_keystone"})
SYSTEM_TESTS = Path(__file__).parent / "system"


# A test that records a property named "report:<title>" has its value
# printed at the end of the run: reports reach the controller from every
# xdist worker, where a test's own output is not shown.
REPORT_PREFIX = "report:"
_REPORTS: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name.startswith(REPORT_PREFIX) and report.when == "call":
            _REPORTS[name.removeprefix(REPORT_PREFIX)] = str(value)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, text in _REPORTS.items():
        terminalreporter.section(title)
        terminalreporter.write_line(text)


def _join_group(item: pytest.Item, group: str) -> None:
    """What xdist's ``--dist loadgroup`` does with an ``xdist_group`` mark:
    the group as a suffix of the node id, which its scheduler reads. xdist
    3.8 still writes ``item._nodeid``, which pytest 9 no longer reads."""
    if item.config.getoption("loadgroup", False) and "@" not in item.nodeid:
        item._id = coerce_node_id(f"{item.nodeid}@{group}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark system runs ``system`` and server-backed tests ``e2e``; the rest
    are unit tests (``scripts/test --fast`` runs only those)."""
    for item in items:
        if item.path.is_relative_to(SYSTEM_TESTS):
            item.add_marker(pytest.mark.system)
        if E2E_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
        # A test may also reach the cloud through a parameter marked with the group.
        if CLOUD_FIXTURES.intersection(getattr(item, "fixturenames", ())) or any(
                mark.args == CLOUD_GROUP.args for mark in item.iter_markers("xdist_group")):
            item.add_marker(CLOUD_GROUP)
        group = item.get_closest_marker("xdist_group")
        if group is not None and group.args:
            _join_group(item, str(group.args[0]))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    srv = start_server(root / "data", root / "server.log")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swift]:
    """A real Swift all-in-one (also S3, through s3api), one per session;
    installed from Debian's packages if missing. Tests use containers or
    buckets of their own."""
    aio = start_swift(tmp_path_factory.mktemp("swift"))
    yield aio
    aio.stop()


@pytest.fixture(scope="session")
def swift_keystone(swift: Swift, cloud: Cloud) -> Iterator[SwiftOnKeystone]:
    """``swift``'s servers behind a second proxy that takes ``cloud``'s
    Keystone tokens, registered as its object-store endpoint, and a member
    of a project of its own. Tests use containers of their own."""
    checker = cloud.make_user(("service",), project="service", prefix="swift")
    proxy = start_keystone_proxy(swift, cloud.keystone_url,
                                 ServiceUser(checker.username, checker.password, "service"))
    try:
        cloud.add_endpoint("object-store", "swift", f"{proxy.url}/v1/AUTH_%(project_id)s")
        user = cloud.make_user(("member",))
    except BaseException:
        proxy.stop()
        raise
    yield SwiftOnKeystone(proxy, cloud.keystone_url, user.username, user.password,
                          user.project, REGION)
    proxy.stop()


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """Keystone, Heat and Glance, started once per run from the prepared
    state (tests/services/openstack.py); each test makes its own users."""
    running = start_cloud(tmp_path_factory.mktemp("cloud"))
    yield running
    running.stop()


@pytest.fixture
def ns() -> str:
    """A namespace of this test's own."""
    return f"t{uuid.uuid4().hex[:12]}"


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


def git_env(home: Path) -> dict[str, str]:
    """An environment for the git client: no user config, no prompts."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LANG": "C",
        **GIT_IDENTITY,
    }


@dataclass
class Git:
    """The real git client, run in a scratch home."""

    home: Path

    def run(self, *args: str, cwd: Path | None = None, check: bool = True,
            env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              env={**git_env(self.home), **(env or {})}, timeout=timeout,
                              check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run_bytes(self, *args: str, cwd: Path, input: bytes | None = None) -> bytes:
        """Run git for its binary output (a pack, a blob)."""
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                              env=git_env(self.home), timeout=120, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout

    def worktree(self, path: Path, files: Mapping[str, str | bytes],
                 message: str = "initial") -> Path:
        """A new repository at ``path`` with ``files`` committed on ``main``."""
        path.mkdir(parents=True, exist_ok=True)
        self.run("init", "-q", "-b", "main", str(path))
        self.commit(path, files, message)
        return path

    def commit(self, path: Path, files: Mapping[str, str | bytes], message: str) -> str:
        for name, content in files.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        self.run("add", "-A", cwd=path)
        self.run("commit", "-q", "--allow-empty", "-m", message, cwd=path)
        return self.run("rev-parse", "HEAD", cwd=path).stdout.strip()


@pytest.fixture
def git(tmp_path: Path) -> Git:
    home = tmp_path / "home"
    home.mkdir()
    return Git(home)


HELLO_WORLD = """heat_template_version: 2018-08-31
description: A single server
parameters:
  image:
    type: string
    description: Image to boot
resources:
  server:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      flavor: m1.small
outputs:
  ip:
    value: {get_attr: [server, first_address]}
"""
