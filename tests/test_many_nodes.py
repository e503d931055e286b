"""Two ``heater serve`` nodes, one registry: one data directory (the git
repositories), one PostgreSQL database, one Swift for the image bytes, and
HAProxy in front with ``deploy/haproxy.cfg`` as the README shows it.

What one node writes, the other serves at once; concurrent pushes through
the balancer to one branch land once; a token made through one node works
on the other; a build uploaded through one downloads through the other.
A node killed outright (master and workers, SIGKILL) in the middle of a
push or an upload leaves nothing half-visible while the other keeps
serving, and a write it could not tell the index is replayed by the other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import swiftclient

from heater.config import MIN_BLOB_PART_BYTES
from heater.git import locks
from heater.names import RepoId
from tests.agreement import assert_index_agrees_with_git, ls_remote
from tests.conftest import HELLO_WORLD, REPO_ROOT, Git, Server, git_env, start_server, stop_server
from tests.images_helpers import auth, queue_build, raw_upload
from tests.images_helpers import push as push_image
from tests.services.debian import ensure_packages
from tests.services.postgres import shared_server
from tests.services.process import Service, free_port
from tests.services.swift_server import Swift
from tests.workers import half_push, kill_server, processes_for, wait_until

HAPROXY_CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg"
# The nodes look for the pending changes of dead writers this often.
REPLAY_SECONDS = 1

# One pair of nodes for the module, so its tests share one xdist worker.
pytestmark = pytest.mark.xdist_group("many_nodes")


@dataclasses.dataclass
class Cluster:
    first: Server  # node A as it started: see `a`
    b: Server
    balancer: Server  # the address clients use; its data and settings are the nodes'
    swift: Swift
    container: str
    root: Path
    _restarting: Future[Server] | None = None
    _dead: bool = False

    @property
    def a(self) -> Server:
        """Node A; started again, and awaited, if it was killed."""
        if self._dead and self._restarting is None:
            self.restart_a()
        if self._restarting is not None:
            self.first, self._restarting = self._restarting.result(), None
            self._dead = False
        return self.first

    def kill_a(self) -> None:
        """SIGKILL node A, master and workers: the real thing."""
        kill_server(self.a)
        self._dead = True

    def restart_a(self) -> None:
        """Start node A again on its address (so that the balancer finds
        it), in the background: the test goes on meanwhile. One worker is
        enough for what is left to do, and starts in half the CPU time."""
        port = int(_address(self.first).rsplit(":", 1)[1])
        self._restarting = ThreadPoolExecutor(1).submit(
            start_server, self.first.data_dir, self.root / "a.log", workers=1,
            env=self.first.env, port=port)

    def running(self) -> list[Server]:
        """The nodes up or coming up, to stop at the end."""
        return [self.b] if self._dead and self._restarting is None else [self.a, self.b]

    def objects(self, container: str) -> list[str]:
        connection = swiftclient.Connection(authurl=self.swift.auth_url, user=self.swift.user,
                                            key=self.swift.key)
        try:
            return sorted(o["name"] for o in connection.get_container(
                container, full_listing=True)[1])
        except swiftclient.ClientException as exc:
            if exc.http_status == 404:
                return []
            raise


def _address(server: Server) -> str:
    return server.url.removeprefix("http://")


def _balanced(url: str) -> bool:
    """Both nodes answer through the balancer (round robin: two in a row)."""
    return all(requests.get(f"{url}/healthz", timeout=2).status_code == 200 for _ in range(2))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, swift: Swift) -> Iterator[Cluster]:
    haproxy = ensure_packages("haproxy", program="haproxy")
    root = tmp_path_factory.mktemp("nodes")
    port = free_port()
    container = f"nodes{uuid.uuid4().hex[:12]}"  # this module's own, in the session's Swift
    env = {"HEATER_INDEX": "postgresql", "HEATER_DSN": shared_server().create_database(),
           "HEATER_BLOBS": "swift", "HEATER_SWIFT_AUTH_URL": swift.auth_url,
           "HEATER_SWIFT_USER": swift.user, "HEATER_SWIFT_KEY": swift.key,
           "HEATER_SWIFT_CONTAINER": container,
           "HEATER_BLOB_PART_BYTES": str(MIN_BLOB_PART_BYTES),
           "HEATER_PENDING_REPLAY_SECONDS": str(REPLAY_SECONDS),
           # Links name the balancer, whichever node makes them.
           "HEATER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with ThreadPoolExecutor(2) as pool:  # the two nodes start together
        a, b = pool.map(lambda name: start_server(root / "data", root / f"{name}.log",
                                                  workers=2, env=env), ["a", "b"])
    balancer = Service("haproxy", [haproxy, "-db", "-f", str(HAPROXY_CONFIG)],
                       root / "haproxy.log",
                       env={"HEATER_LB_BIND": f"127.0.0.1:{port}",
                            "HEATER_NODE_A": _address(a), "HEATER_NODE_B": _address(b)})
    nodes = Cluster(a, b, dataclasses.replace(a, url=f"http://127.0.0.1:{port}"), swift,
                    container, root)
    try:
        balancer.wait_ready(lambda: _balanced(f"http://127.0.0.1:{port}"), seconds=60)
        yield nodes
    finally:
        balancer.stop()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(stop_server, nodes.running()))


def test_what_one_node_writes_the_other_serves(cluster: Cluster, git: Git, ns: str,
                                               tmp_path: Path) -> None:
    token = cluster.a.token("writer", ns)  # made in the shared database
    work = git.worktree(tmp_path / "web", {"template.yaml": HELLO_WORLD})
    git.run("tag", "-a", "v1.0.0", "-m", "first", cwd=work)
    git.run("push", cluster.a.auth_url(f"{ns}/web.git", token), "main", "v1.0.0", cwd=work)
    head = git.run("rev-parse", "HEAD", cwd=work).stdout.strip()

    listed = requests.get(f"{cluster.b.url}/api/v1/templates", params={"namespace": ns},
                          timeout=30).json()["templates"]
    assert [(e["name"], e["latest_version"]) for e in listed] == [("web", "1.0.0")]
    raw = requests.get(f"{cluster.b.url}/{ns}/web/raw/v1.0.0/template.yaml", timeout=30)
    assert raw.status_code == 200
    assert raw.text == HELLO_WORLD
    clone = tmp_path / "clone"
    git.run("clone", "-q", f"{cluster.b.url}/{ns}/web.git", str(clone))
    assert git.run("rev-parse", "HEAD", cwd=clone).stdout.strip() == head
    # The token works on B: a private repository created through B.
    created = requests.post(f"{cluster.b.url}/api/v1/templates", headers=auth(token),
                            json={"namespace": ns, "name": "db", "visibility": "private"},
                            timeout=30)
    assert created.status_code == 201, created.text
    assert requests.get(f"{cluster.a.url}/api/v1/templates/{ns}/db", timeout=30,
                        headers=auth(token)).status_code == 200
    assert requests.get(f"{cluster.a.url}/api/v1/templates/{ns}/db",
                        timeout=30).status_code == 404


def test_concurrent_pushes_through_the_balancer_land_once(cluster: Cluster, git: Git, ns: str,
                                                          tmp_path: Path) -> None:
    token = cluster.a.token("writer", ns)
    url = cluster.balancer.auth_url(f"{ns}/race.git", token)
    base = git.worktree(tmp_path / "base", {"template.yaml": HELLO_WORLD})
    git.run("push", url, "main", cwd=base)
    # Twenty commits on the same parent, each pushed to main at once.
    tree = git.run("rev-parse", "HEAD^{tree}", cwd=base).stdout.strip()
    commits = [git.run("commit-tree", tree, "-p", "HEAD", "-m", f"change {i}",
                       cwd=base).stdout.strip() for i in range(20)]

    def push(commit: str) -> subprocess.CompletedProcess[str]:
        return git.run("push", url, f"{commit}:refs/heads/main", cwd=base, check=False)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(push, commits))
    landed = [commit for commit, done in zip(commits, results, strict=True)
              if done.returncode == 0]
    assert len(landed) == 1, [r.stderr[-300:] for r in results]
    winner = landed[0]
    for node in (cluster.a, cluster.b):
        assert ls_remote(git, node.auth_url(f"{ns}/race.git", token))["refs/heads/main"] == winner
    # Both nodes took pushes, and neither left anything broken behind.
    for node in (cluster.a, cluster.b):
        assert "git-receive-pack" in node.log()
    fsck = git.run("fsck", "--strict", cwd=cluster.a.layout.git_root / ns / "race.git",
                   check=False)
    assert fsck.returncode == 0, fsck.stderr
    assert_index_agrees_with_git(cluster.balancer, git, ns, tmp_path / "check")


def test_a_build_uploaded_through_one_node_downloads_through_the_other(
        cluster: Cluster, ns: str) -> None:
    token = cluster.a.token("writer", ns)
    data = bytes(range(256)) * 4096  # 1 MiB
    build = push_image(cluster.a, token, f"{ns}/jammy", data, version="1.0.0")
    record = requests.get(f"{cluster.b.url}/api/v1/builds/{build}", timeout=30).json()
    assert record["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    got = requests.get(f"{cluster.b.url}/api/v1/builds/{build}/file", timeout=60)
    assert got.status_code == 200
    assert got.content == data
    part = requests.get(f"{cluster.b.url}/api/v1/builds/{build}/file", timeout=60,
                        headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    # The bytes are in Swift, not in the shared data directory.
    assert cluster.objects(cluster.container) != []
    assert [p for p in (cluster.a.layout.blobs).rglob("*") if p.is_file()] == []


@contextlib.contextmanager
def reading(node: Server, paths: list[str]) -> Iterator[list[tuple[str, int]]]:
    """GET ``paths`` on ``node`` over and over until the block ends; the
    answers, (path, status), for the test to look at after."""
    answers: list[tuple[str, int]] = []
    done = threading.Event()

    def loop() -> None:
        # A pause between rounds: the point is that B answers, not to take
        # the CPU that A's git needs.
        while not done.wait(0.05):
            for path in paths:
                try:
                    status = requests.get(f"{node.url}{path}", timeout=10).status_code
                except requests.RequestException as exc:
                    status = -1
                    path = f"{path} ({exc})"
                answers.append((path, status))

    reader = threading.Thread(target=loop, daemon=True)
    reader.start()
    try:
        yield answers
    finally:
        done.set()
        reader.join(30)


def _pending(node: Server, repo: str) -> list[str]:
    """The pending-change markers that name ``repo``."""
    found = []
    for marker in node.layout.pending.glob("*"):
        with contextlib.suppress(FileNotFoundError):  # replayed meanwhile
            if marker.read_text().split()[0] == repo:
                found.append(marker.name)
    return found


def _entry_on(node: Server, ns: str, name: str) -> dict[str, Any]:
    """The index's entry of ``ns/name``, as ``node`` lists it."""
    listed = requests.get(f"{node.url}/api/v1/templates", params={"namespace": ns},
                          timeout=30).json()["templates"]
    entries = [e for e in listed if e["name"] == name]
    assert len(entries) == 1, listed
    return entries[0]  # type: ignore[no-any-return]


def _latest_on(node: Server, ns: str, name: str) -> str | None:
    return _entry_on(node, ns, name)["latest_version"]  # type: ignore[no-any-return]


def test_a_node_killed_mid_push_leaves_nothing_half_visible(
        cluster: Cluster, git: Git, ns: str, tmp_path: Path) -> None:
    token = cluster.a.token("writer", ns)
    repo = RepoId(ns, "big")
    work = git.worktree(tmp_path / "big", {"template.yaml": HELLO_WORLD})
    git.run("push", cluster.a.auth_url(f"{ns}/big.git", token), "main", cwd=work)
    before = ls_remote(git, cluster.b.auth_url(f"{ns}/big.git", token))
    indexed = _entry_on(cluster.b, ns, "big")
    changed = HELLO_WORLD.replace("A single server", "A large server")
    head = git.commit(work, {"template.yaml": changed,
                             **{f"disk{i}.bin": os.urandom(4 * 1024 * 1024) for i in range(2)}},
                      "large")
    layout = cluster.a.layout
    fresh = RepoId(ns, "fresh")  # a repository that a push through A creates
    new_work = git.worktree(tmp_path / "fresh", {"template.yaml": HELLO_WORLD,
                                                 "disk.bin": os.urandom(4 * 1024 * 1024)})
    # Holding the repository's push lock keeps A from answering its hook:
    # A dies with the whole pack received, while the hook runs.
    held = locks.acquire(layout.push_lock(repo), 5)
    creating = None
    try:
        push = subprocess.Popen(["git", "push", cluster.a.auth_url(f"{ns}/big.git", token),
                                 "main"], cwd=work, env=git_env(git.home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with reading(cluster.b, ["/healthz", f"/api/v1/templates/{ns}/big",
                                 f"/{ns}/big/raw/main/template.yaml"]) as answers:
            assert wait_until(lambda: processes_for(layout.hooks, b"pre-receive"), 60), \
                "the push never reached its hook"
            # And one that creates a repository, stopped half-way through its pack.
            creating = half_push(cluster.a, git, new_work, str(fresh), token)
            assert wait_until(lambda: list(layout.repository(fresh).glob("objects/tmp_objdir*")),
                              60), "the push never started to store its pack"
            cluster.kill_a()
            # Without A, its git and hook give up, refusing the push.
            assert wait_until(lambda: not processes_for(layout.hooks, b"pre-receive")
                              and not processes_for(layout.repository(repo), b"receive-pack")
                              and not processes_for(layout.repository(fresh), b"receive-pack"),
                              30)
            # B finds the marker of the creating push and undoes the creation.
            assert wait_until(lambda: not _pending(cluster.b, str(fresh)), 30)
    finally:
        held.release()
        if creating is not None:
            creating.close()
    _, stderr = push.communicate(timeout=60)
    assert push.returncode != 0, stderr
    # B answered every request while A died.
    assert answers
    assert [a for a in answers if a[1] != 200] == []
    cluster.restart_a()
    # No ref moved, the index entry is as it was, the repository is sound.
    assert ls_remote(git, cluster.b.auth_url(f"{ns}/big.git", token)) == before
    assert _entry_on(cluster.b, ns, "big") == indexed
    fsck = git.run("fsck", "--strict", cwd=layout.repository(repo), check=False)
    assert fsck.returncode == 0, fsck.stderr
    # The same push through B lands, and the index follows.
    git.run("push", cluster.b.auth_url(f"{ns}/big.git", token), "main", cwd=work, timeout=300)
    assert ls_remote(git, cluster.b.auth_url(f"{ns}/big.git", token))["refs/heads/main"] == head
    assert _entry_on(cluster.b, ns, "big")["description"] == "A large server"
    # Of the repository the other push was creating, nothing is left.
    assert not layout.repository(fresh).exists()
    gone = requests.get(f"{cluster.b.url}/api/v1/templates/{fresh}", headers=auth(token),
                        timeout=30)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "repository_not_found")
    assert [e["name"] for e in requests.get(
        f"{cluster.b.url}/api/v1/templates", params={"namespace": ns}, headers=auth(token),
        timeout=30).json()["templates"]] == ["big"]
    git.run("push", cluster.b.auth_url(f"{fresh}.git", token), "main", cwd=new_work)
    assert _entry_on(cluster.b, ns, "fresh")["description"] == "A single server"


def test_a_node_killed_mid_upload_leaves_no_bytes_and_cleanup_takes_its_segments(
        cluster: Cluster, ns: str) -> None:
    token = cluster.a.token("writer", ns)
    build_id = queue_build(cluster.b, token, f"{ns}/disk", version="1.0.0")
    segments = f"{cluster.container}_segments"
    stored, sent = cluster.objects(cluster.container), cluster.objects(segments)
    data = os.urandom(3 * MIN_BLOB_PART_BYTES)
    with (reading(cluster.b, ["/healthz", f"/api/v1/builds/{build_id}"]) as answers,
          raw_upload(cluster.a, token, build_id, len(data)) as sock):
        # Two parts' worth (the body is read in whole chunks): A has sent
        # a segment to Swift when it dies.
        sock.sendall(data[:2 * MIN_BLOB_PART_BYTES])
        assert wait_until(lambda: len(cluster.objects(segments)) > len(sent), 60)
        cluster.kill_a()
    cluster.restart_a()
    assert answers
    assert [a for a in answers if a[1] != 200] == []
    # Nothing of it is visible: no blob, no file, the build still queued.
    assert cluster.objects(cluster.container) == stored
    got = requests.get(f"{cluster.b.url}/api/v1/builds/{build_id}/file", timeout=30,
                       headers=auth(token))
    assert (got.status_code, got.json()["error"]["code"]) == (404, "build_not_uploaded")
    assert requests.get(f"{cluster.b.url}/api/v1/builds/{build_id}", timeout=30,
                        headers=auth(token)).json()["status"] == "queued"
    # The cleanup (with no grace period: nothing else is uploading) takes
    # the dead upload's segments, from any node.
    cleanup = subprocess.run([sys.executable, "-m", "heater", "cleanup", "--older-than", "0",
                              "--data-dir", str(cluster.b.data_dir)], capture_output=True,
                             text=True, timeout=120, check=False,
                             env={**os.environ, **cluster.b.env})
    assert cleanup.returncode == 0, cleanup.stderr
    assert segments in cleanup.stderr
    assert cluster.objects(segments) == sent
    # The upload, retried through B, lands; A, back, serves it.
    put = requests.put(f"{cluster.b.url}/api/v1/builds/{build_id}/file", data=data,
                       headers={**auth(token), "Content-Type": "application/octet-stream"},
                       timeout=120)
    assert put.status_code == 200, put.text
    got = requests.get(f"{cluster.a.url}/api/v1/builds/{build_id}/file", timeout=120,
                       headers=auth(token))
    assert got.status_code == 200
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()


def test_a_write_a_dead_node_left_unindexed_is_replayed_by_the_other(
        cluster: Cluster, git: Git, ns: str, tmp_path: Path) -> None:
    token = cluster.a.token("writer", ns)
    url = cluster.a.auth_url(f"{ns}/late.git", token)
    work = git.worktree(tmp_path / "late", {"template.yaml": HELLO_WORLD})
    git.run("tag", "v1.0.0", cwd=work)
    git.run("push", url, "main", "v1.0.0", cwd=work)
    assert _latest_on(cluster.b, ns, "late") == "1.0.0"
    git.run("tag", "v1.1.0", cwd=work)
    repo_path = cluster.a.layout.repository(RepoId(ns, "late"))

    def tagged() -> bool:
        return "refs/tags/v1.1.0" in git.run("ls-remote", str(repo_path)).stdout

    # A lock on the repository's index entry holds A's index update, so
    # that A dies after git's write and before the index's.
    with psycopg.connect(cluster.a.env["HEATER_DSN"]) as db:
        db.execute("SELECT 1 FROM catalog_entries WHERE namespace = %s AND name = %s "
                   "FOR UPDATE", (ns, "late"))
        push = subprocess.Popen(["git", "push", url, "v1.1.0"], cwd=work, env=git_env(git.home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert wait_until(tagged, 60)
        assert wait_until(lambda: _pending(cluster.a, f"{ns}/late"), 30)
        # B's sweeps pass over the marker while its writer lives.
        time.sleep(REPLAY_SECONDS + 0.5)
        assert _pending(cluster.a, f"{ns}/late")
        assert _latest_on(cluster.b, ns, "late") == "1.0.0"
        cluster.kill_a()
        db.rollback()
    push.communicate(timeout=60)
    # B finds the dead writer's marker on its next sweep and catches up.
    assert wait_until(lambda: not _pending(cluster.b, f"{ns}/late"), 30)
    assert _latest_on(cluster.b, ns, "late") == "1.1.0"
    assert f"replayed the pending change of {ns}/late" in cluster.b.log()
    assert_index_agrees_with_git(cluster.b, git, ns, tmp_path / "check")
