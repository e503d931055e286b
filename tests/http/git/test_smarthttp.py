"""Git smart HTTP end to end: the real git client against the real server."""

from __future__ import annotations

import gzip
import http.client
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from heater.http.git.smarthttp import SmartHTTP
from tests.conftest import HELLO_WORLD, Git, Server


def _push_new(server: Server, git: Git, ns: str, tmp_path: Path, name: str = "web",
              files: dict[str, str | bytes] | None = None) -> Path:
    token = server.token("writer", ns)
    work = git.worktree(tmp_path / f"work-{name}", files or {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/{name}.git", token), "main", cwd=work)
    return work


@pytest.mark.parametrize("protocol", ["0", "2"])
def test_clone_fetch_push_round_trip(server: Server, git: Git, ns: str, tmp_path: Path,
                                     protocol: str) -> None:
    work = _push_new(server, git, ns, tmp_path)
    proto = ["-c", f"protocol.version={protocol}"]
    clone = tmp_path / "clone"
    git.run(*proto, "clone", f"{server.url}/{ns}/web.git", str(clone))
    assert (clone / "template.yaml").read_text() == HELLO_WORLD

    # The author pushes a second commit; the consumer fetches it.
    second = git.commit(work, {"README.md": "# web\n"}, "add readme")
    git.run(*proto, "push", server.auth_url(f"{ns}/web.git", server.token("writer", ns)),
            "main", cwd=work)
    git.run(*proto, "fetch", "origin", cwd=clone)
    assert git.run("rev-parse", "origin/main", cwd=clone).stdout.strip() == second
    trace = git.run(*proto, "ls-remote", f"{server.url}/{ns}/web.git",
                    env={"GIT_TRACE_PACKET": "1"})
    assert ("version 2" in trace.stderr) == (protocol == "2")


def test_shallow_clone(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    work = _push_new(server, git, ns, tmp_path)
    for i in range(3):
        git.commit(work, {"README.md": f"revision {i}\n"}, f"revision {i}")
    git.run("push", server.auth_url(f"{ns}/web.git", server.token("writer", ns)), "main",
            cwd=work)
    clone = tmp_path / "shallow"
    git.run("clone", "--depth", "1", f"{server.url}/{ns}/web.git", str(clone))
    assert git.run("rev-list", "--count", "HEAD", cwd=clone).stdout.strip() == "1"
    assert (clone / ".git" / "shallow").is_file()
    git.run("fetch", "--deepen", "2", cwd=clone)
    assert git.run("rev-list", "--count", "HEAD", cwd=clone).stdout.strip() == "3"


def test_partial_clone_fetches_blobs_lazily(server: Server, git: Git, ns: str,
                                            tmp_path: Path) -> None:
    _push_new(server, git, ns, tmp_path,
              files={"template.yaml": HELLO_WORLD, "files/init.sh": "#!/bin/sh\necho hi\n"})
    clone = tmp_path / "partial"
    git.run("clone", "--filter=blob:none", "--no-checkout", f"{server.url}/{ns}/web.git",
            str(clone))
    missing = git.run("rev-list", "--objects", "--missing=print", "HEAD", cwd=clone).stdout
    assert sum(line.startswith("?") for line in missing.splitlines()) == 2
    # Checking out needs the blobs: git fetches them from the promisor remote.
    git.run("checkout", "main", cwd=clone)
    assert (clone / "files" / "init.sh").read_text() == "#!/bin/sh\necho hi\n"
    missing = git.run("rev-list", "--objects", "--missing=print", "HEAD", cwd=clone).stdout
    assert not any(line.startswith("?") for line in missing.splitlines())


def test_large_push_is_chunked_and_lands(server: Server, git: Git, ns: str,
                                         tmp_path: Path) -> None:
    blob = os.urandom(3 * 1024 * 1024)  # incompressible: the pack exceeds http.postBuffer
    work = _push_new(server, git, ns, tmp_path,
                     files={"template.yaml": HELLO_WORLD, "files/blob.bin": blob})
    # A second push of another 3 MiB, traced to see that the body went chunked.
    git.commit(work, {"files/blob2.bin": os.urandom(3 * 1024 * 1024)}, "more")
    traced = git.run("push", server.auth_url(f"{ns}/web.git", server.token("writer", ns)),
                     "main", cwd=work,
                     env={"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"})
    assert "Transfer-Encoding: chunked" in traced.stderr
    clone = tmp_path / "clone"
    git.run("clone", f"{server.url}/{ns}/web.git", str(clone))
    assert (clone / "files" / "blob.bin").read_bytes() == blob
    fsck = git.run("fsck", "--strict", cwd=server.layout.root / "git" / ns / "web.git")
    assert fsck.returncode == 0


def test_anonymous_push_is_asked_for_credentials(server: Server, git: Git, ns: str,
                                                 tmp_path: Path) -> None:
    work = _push_new(server, git, ns, tmp_path)
    response = requests.get(f"{server.url}/{ns}/web.git/info/refs",
                            params={"service": "git-receive-pack"}, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    push = git.run("push", f"{server.url}/{ns}/web.git", "main", cwd=work, check=False)
    assert push.returncode != 0
    assert "could not read Username" in push.stderr  # git tried to prompt


def test_reader_and_foreign_writer_cannot_push(server: Server, git: Git, ns: str,
                                               tmp_path: Path) -> None:
    work = _push_new(server, git, ns, tmp_path)
    before = git.run("ls-remote", f"{server.url}/{ns}/web.git").stdout
    git.commit(work, {"README.md": "change\n"}, "change")
    for token in (server.token("reader", ns), server.token("writer", "someone-else")):
        push = git.run("push", server.auth_url(f"{ns}/web.git", token), "main", cwd=work,
                       check=False)
        assert push.returncode != 0
        assert "remote: token" in push.stderr and "may not push" in push.stderr
        assert "error: 403" not in push.stderr
    assert git.run("ls-remote", f"{server.url}/{ns}/web.git").stdout == before


def test_admin_without_namespace_pushes_anywhere(server: Server, git: Git, ns: str,
                                                 tmp_path: Path) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/web.git", server.token("admin")), "main", cwd=work)
    assert git.run("ls-remote", f"{server.url}/{ns}/web.git").stdout.strip()


def test_private_repository_is_invisible(server: Server, git: Git, ns: str,
                                         tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    created = requests.post(f"{server.url}/api/v1/templates", timeout=10,
                            json={"namespace": ns, "name": "secret", "visibility": "private"},
                            headers={"Authorization": f"Bearer {writer}"})
    assert created.status_code == 201, created.text
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/secret.git", writer), "main", cwd=work)

    # Anonymous: asked for credentials, exactly as for a repository that does not exist.
    answers = []
    for name in ("secret", "nothing"):
        anon = requests.get(f"{server.url}/{ns}/{name}.git/info/refs",
                            params={"service": "git-upload-pack"}, timeout=10)
        assert anon.status_code == 401
        answers.append((anon.text.replace(name, "X"), anon.headers["WWW-Authenticate"]))
    assert answers[0] == answers[1]
    # Known callers who may not read it: 404, the same as nothing at all.
    for token in (server.token("reader", "elsewhere"), server.token("writer", "elsewhere")):
        refused = git.run("clone", server.auth_url(f"{ns}/secret.git", token),
                          str(tmp_path / "nope"), check=False)
        assert refused.returncode != 0
        assert "not found" in refused.stderr
        assert not (tmp_path / "nope").exists()
    # A reader of the namespace clones it.
    clone = tmp_path / "clone"
    git.run("clone", server.auth_url(f"{ns}/secret.git", server.token("reader", ns)), str(clone))
    assert (clone / "template.yaml").is_file()


@pytest.mark.parametrize("path", [
    "/../x.git/info/refs",
    "/%2e%2e/x.git/info/refs",
    "/ns/%2e%2e.git/info/refs",
    "/-upload-pack=x/y.git/info/refs",
    "/ns/-upload-pack=x.git/info/refs",
    "/ns/--exec=evil.git/info/refs",
    "/a//b.git/info/refs",
    "/ns/x.git.git/info/refs",
    "/NS/x.git/info/refs",
    "/api/x.git/info/refs",
])
def test_hostile_names_are_refused_without_touching_disk(server: Server, path: str) -> None:
    before = sorted(p.name for p in server.layout.git_root.iterdir())
    writer = server.token("admin")
    # A path that cannot be a repository's is not a git URL: the API's 404
    # not_found. A bad name is git's 400, in text.
    status = 404 if "/../" in path or "//" in path else 400
    for service in ("git-upload-pack", "git-receive-pack"):
        url = f"{server.url}{path}?service={service}"
        response = requests.get(url, timeout=10, headers={"Authorization": f"Bearer {writer}"})
        assert response.status_code == status, (path, response.text)
        if status == 404:
            assert response.json()["error"]["code"] == "not_found"
        else:
            assert response.text.startswith("invalid "), response.text
        post = requests.post(url.split("/info/refs")[0] + f"/{service}", data=b"0000",
                             timeout=10, headers={
                                 "Authorization": f"Bearer {writer}",
                                 "Content-Type": f"application/x-{service}-request"})
        assert post.status_code == status, (path, post.text)
        assert status == 404 or post.text == response.text
    assert sorted(p.name for p in server.layout.git_root.iterdir()) == before


def test_hostile_name_through_git_client(server: Server, git: Git, ns: str,
                                         tmp_path: Path) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    push = git.run("push", server.auth_url(f"{ns}/x.git.git", server.token("writer", ns)),
                   "main", cwd=work, check=False)
    assert push.returncode != 0
    assert "remote: invalid name 'x.git'" in push.stderr
    assert not (server.layout.git_root / ns).exists()


def test_dumb_http_and_wrong_requests(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    _push_new(server, git, ns, tmp_path)
    base = f"{server.url}/{ns}/web.git"
    assert requests.get(f"{base}/info/refs", timeout=10).status_code == 404
    assert requests.get(f"{base}/HEAD", timeout=10).status_code == 404
    assert requests.get(f"{base}/objects/info/packs", timeout=10).status_code == 404
    wrong_type = requests.post(f"{base}/git-upload-pack", data=b"0000", timeout=10,
                               headers={"Content-Type": "application/octet-stream"})
    assert wrong_type.status_code == 415
    assert requests.get(f"{base}/git-upload-pack", timeout=10).status_code == 405
    upload_archive = requests.get(f"{base}/info/refs?service=git-upload-archive", timeout=10)
    assert upload_archive.status_code == 403


def _want_request(server: Server, ns: str) -> tuple[str, bytes]:
    """A v0 upload-pack request for the head commit (no capabilities)."""
    refs = requests.get(f"{server.url}/{ns}/web.git/info/refs",
                        params={"service": "git-upload-pack"}, timeout=10).content
    head = refs.split(b"\n", 2)[1][8:48].decode()  # after "# service" and flush
    want = f"want {head}\n".encode()
    return head, f"{len(want) + 4:04x}".encode() + want + b"0000" + b"0009done\n"


def test_gzip_request_bodies(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    _push_new(server, git, ns, tmp_path)
    head, body = _want_request(server, ns)
    response = requests.post(
        f"{server.url}/{ns}/web.git/git-upload-pack", data=gzip.compress(body), timeout=10,
        headers={"Content-Type": "application/x-git-upload-pack-request",
                 "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.content.startswith(b"0008NAK\nPACK")
    # A few hundred KiB that inflate to 80 MiB of want lines, past the limit.
    want = f"0032want {head}\n".encode()
    bomb = gzip.compress(want * (80 * 1024 * 1024 // len(want)))
    refused = requests.post(
        f"{server.url}/{ns}/web.git/git-upload-pack", data=bomb, timeout=30,
        headers={"Content-Type": "application/x-git-upload-pack-request",
                 "Content-Encoding": "gzip"})
    assert refused.status_code == 413
    garbage = requests.post(
        f"{server.url}/{ns}/web.git/git-upload-pack", data=b"not gzip", timeout=10,
        headers={"Content-Type": "application/x-git-upload-pack-request",
                 "Content-Encoding": "gzip"})
    assert garbage.status_code == 400


def test_malformed_git_protocol_header_is_not_passed_on(server: Server, git: Git, ns: str,
                                                        tmp_path: Path) -> None:
    _push_new(server, git, ns, tmp_path)
    url = f"{server.url}/{ns}/web.git/info/refs?service=git-upload-pack"
    v2 = requests.get(url, headers={"Git-Protocol": "version=2"}, timeout=10)
    assert v2.content.startswith(b"000eversion 2\n")
    for bad in ("version=2 --upload-pack=evil", "version=2;rm", "version=2&x=$(id)"):
        response = requests.get(url, headers={"Git-Protocol": bad}, timeout=10)
        assert response.status_code == 200
        assert response.content.startswith(b"001e# service=git-upload-pack\n")


def _upload_pack_processes(repo_path: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"upload-pack" in cmdline and str(repo_path).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def test_git_process_ends_when_client_goes_away(server: Server, git: Git, ns: str,
                                                tmp_path: Path) -> None:
    _push_new(server, git, ns, tmp_path,
              files={"template.yaml": HELLO_WORLD, "big.bin": os.urandom(24 * 1024 * 1024)})
    _head, body = _want_request(server, ns)
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", f"/{ns}/web.git/git-upload-pack", body=body,
                       headers={"Content-Type": "application/x-git-upload-pack-request"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.read(64 * 1024)
    repo_path = server.layout.root / "git" / ns / "web.git"
    assert _upload_pack_processes(repo_path), "git upload-pack should still be streaming"
    assert connection.sock is not None
    connection.sock.shutdown(socket.SHUT_RDWR)  # the client vanishes mid-clone
    connection.close()
    deadline = time.monotonic() + 20
    while _upload_pack_processes(repo_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _upload_pack_processes(repo_path)


def test_failed_create_on_push_leaves_nothing(server: Server, ns: str) -> None:
    writer = server.token("writer", ns)
    response = requests.post(
        f"{server.url}/{ns}/fresh.git/git-receive-pack", data=b"garbage", timeout=10,
        headers={"Authorization": f"Bearer {writer}",
                 "Content-Type": "application/x-git-receive-pack-request"})
    assert response.status_code == 400
    assert response.text == "fatal: protocol error: bad line length character: garb\n"
    assert not (server.layout.root / "git" / ns / "fresh.git").exists()
    leftovers = [p.name for p in server.layout.tmp.iterdir() if p.name.startswith("create-")]
    assert leftovers == []


def test_unexpected_error_is_plain_text_for_git() -> None:
    """A bug reaches git as one plain line, not the WSGI server's HTML."""
    class Broken:
        def authenticate(self, _token: object) -> None:
            raise RuntimeError("a bug")

    app = SmartHTTP(Broken())  # type: ignore[arg-type]
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    body = app({"PATH_INFO": "/acme/web.git/info/refs", "REQUEST_METHOD": "GET",
                "QUERY_STRING": "service=git-upload-pack"},
               lambda status, headers: seen.append((status, headers)))
    assert seen[0][0].startswith("500")
    assert ("Content-Type", "text/plain; charset=utf-8") in seen[0][1]
    assert b"".join(body) == b"internal server error; the server log has details\n"
