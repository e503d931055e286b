"""Two ``heater serve`` nodes, one registry: one data directory (the git
repositories and the image blobs, on the filesystem), one PostgreSQL
database, and HAProxy in front with ``deploy/haproxy.cfg`` as the README
shows it.

What one node writes, the other serves at once; concurrent pushes through
the balancer to one branch land once; a token made through one node works
on the other; a build uploaded through one downloads through the other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.agreement import assert_index_agrees_with_git, ls_remote
from tests.conftest import HELLO_WORLD, REPO_ROOT, Git, Server, start_server, stop_server
from tests.images_helpers import auth
from tests.images_helpers import push as push_image
from tests.services.debian import ensure_packages
from tests.services.postgres import shared_server
from tests.services.process import Service, free_port

HAPROXY_CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg"


@dataclasses.dataclass
class Cluster:
    a: Server
    b: Server
    balancer: Server  # the address clients use; its data and settings are the nodes'


def _address(server: Server) -> str:
    return server.url.removeprefix("http://")


def _balanced(url: str) -> bool:
    """Both nodes answer through the balancer (round robin: two in a row)."""
    return all(requests.get(f"{url}/healthz", timeout=2).status_code == 200 for _ in range(2))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    haproxy = ensure_packages("haproxy", program="haproxy")
    root = tmp_path_factory.mktemp("nodes")
    port = free_port()
    env = {"HEATER_INDEX": "postgresql", "HEATER_DSN": shared_server().create_database(),
           # Links name the balancer, whichever node makes them.
           "HEATER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with ThreadPoolExecutor(2) as pool:  # the two nodes start together
        a, b = pool.map(lambda name: start_server(root / "data", root / f"{name}.log",
                                                  workers=2, env=env), ["a", "b"])
    balancer = Service("haproxy", [haproxy, "-db", "-f", str(HAPROXY_CONFIG)],
                       root / "haproxy.log",
                       env={"HEATER_LB_BIND": f"127.0.0.1:{port}",
                            "HEATER_NODE_A": _address(a), "HEATER_NODE_B": _address(b)})
    try:
        balancer.wait_ready(lambda: _balanced(f"http://127.0.0.1:{port}"), seconds=60)
        yield Cluster(a, b, dataclasses.replace(a, url=f"http://127.0.0.1:{port}"))
    finally:
        balancer.stop()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(stop_server, [a, b]))


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
