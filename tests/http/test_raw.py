"""Raw files for Heat: refs, caching, authentication, hostile paths, and
python-heatclient resolving get_file and nested templates at the same ref."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from heatclient.common import template_utils

from heater.templates.hot import references
from heater.templates.yamlload import load_yaml
from tests.catalog_support import api, push
from tests.conftest import CORPUS, HELLO_WORLD, Git, Server, start_server, stop_server
from tests.templates.test_validation import GROUPS

NESTED = """heat_template_version: 2018-08-31
parameters:
  name: {type: string}
resources:
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: ../files/setup.sh}
"""


def raw(server: Server, ns: str, name: str, ref: str, path: str,
        **headers: str) -> requests.Response:
    return requests.get(f"{server.url}/{ns}/{name}/raw/{ref}/{path}", headers=headers,
                        timeout=10)


@pytest.fixture
def published(server: Server, git: Git, ns: str, tmp_path: Path) -> dict[str, str]:
    """A template with a get_file and a nested template, released as v1.0.0,
    then changed on main."""
    hot = CORPUS / "heat-templates" / "hot"
    top = (hot / "autoscaling.yaml").read_text().replace("resources:\n", """resources:
  extra:
    type: nested/child.yaml
    properties:
      name: {get_file: files/name.txt}
""", 1)
    files = {"template.yaml": top, "lb_server.yaml": (hot / "lb_server.yaml").read_text(),
             "nested/child.yaml": NESTED, "files/setup.sh": "#!/bin/sh\necho v1\n",
             "files/name.txt": "alpha\n"}
    token = server.token("writer", ns)
    work = tmp_path / "w"
    v1 = push(server, git, work, f"{ns}/scale", token, files, tags=("v1.0.0",))
    main = push(server, git, work, f"{ns}/scale", token, {"files/setup.sh": "echo v2\n"})
    return {"v1": v1, "main": main}


def test_heatclient_resolves_files_at_the_same_ref(server: Server, ns: str,
                                                   published: dict[str, str]) -> None:
    for ref, script in (("v1.0.0", "v1"), ("1.0.0", "v1"), ("latest", "v1"),
                        (published["v1"][:12], "v1"), ("main", "v2")):
        base = f"{server.url}/{ns}/scale/raw/{ref}/"
        files, template = template_utils.get_template_contents(
            template_url=base + "template.yaml")
        assert template["heat_template_version"] == "2016-10-14"
        assert template["resources"]["extra"]["type"] == base + "nested/child.yaml"
        assert set(files) == {base + "lb_server.yaml", base + "nested/child.yaml",
                              base + "files/name.txt", base + "files/setup.sh"}, ref
        assert files[base + "files/setup.sh"].decode().strip().endswith(script), ref
        assert files[base + "files/name.txt"] == b"alpha\n"
        child = json.loads(files[base + "nested/child.yaml"])
        assert child["resources"]["config"]["properties"]["config"] == {
            "get_file": base + "files/setup.sh"}


def test_caching_by_kind_of_ref(server: Server, ns: str, published: dict[str, str]) -> None:
    by_sha = raw(server, ns, "scale", published["v1"], "files/setup.sh")
    by_version = raw(server, ns, "scale", "v1.0.0", "files/setup.sh")
    by_branch = raw(server, ns, "scale", "main", "files/setup.sh")
    by_latest = raw(server, ns, "scale", "latest", "files/setup.sh")
    assert by_sha.status_code == 200 and by_sha.text == "#!/bin/sh\necho v1\n"
    assert "immutable" in by_sha.headers["Cache-Control"]
    assert "max-age=86400" in by_version.headers["Cache-Control"]
    assert "immutable" not in by_version.headers["Cache-Control"]
    for moving in (by_branch, by_latest):
        assert "max-age=60" in moving.headers["Cache-Control"]
    assert by_sha.headers["ETag"] == by_version.headers["ETag"] == by_latest.headers["ETag"]
    assert by_branch.headers["ETag"] != by_sha.headers["ETag"]
    assert not by_sha.headers["ETag"].startswith("W/")
    assert by_branch.headers["X-Heater-Commit"] == published["main"]
    assert by_sha.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert by_sha.headers["X-Content-Type-Options"] == "nosniff"
    for ref in (published["v1"], "v1.0.0", "main"):
        etag = raw(server, ns, "scale", ref, "files/setup.sh").headers["ETag"]
        again = raw(server, ns, "scale", ref, "files/setup.sh", **{"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["ETag"] == etag
    stale = raw(server, ns, "scale", "main", "files/setup.sh",
                **{"If-None-Match": by_sha.headers["ETag"]})
    assert stale.status_code == 200
    yaml_file = raw(server, ns, "scale", "main", "template.yaml")
    assert yaml_file.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_private_raw_accepts_every_token_form(server: Server, git: Git, ns: str,
                                              tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    api(server, "POST", "/api/v1/templates", writer,
        json={"namespace": ns, "name": "secret", "visibility": "private"})
    push(server, git, tmp_path / "w", f"{ns}/secret", writer, {"template.yaml": HELLO_WORLD})
    reader = server.token("reader", ns)
    assert raw(server, ns, "secret", "main", "template.yaml").status_code == 404
    assert raw(server, ns, "secret", "main", "template.yaml",
               **{"X-Auth-Token": server.token("reader", "other")}).status_code == 404
    for headers in ({"X-Auth-Token": reader}, {"Authorization": f"Bearer {reader}"}):
        answer = raw(server, ns, "secret", "main", "template.yaml", **headers)
        assert answer.status_code == 200 and answer.text == HELLO_WORLD
        assert answer.headers["Cache-Control"].startswith("private")
    basic = requests.get(server.auth_url(f"{ns}/secret/raw/main/template.yaml", reader),
                         timeout=10)
    assert basic.status_code == 200


def raw_path(server: Server, path: str) -> tuple[int, dict[str, object]]:
    """GET ``path`` exactly as written (no client-side normalisation)."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else {}
    finally:
        conn.close()


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/{ns}/web/raw/main/../../../etc/passwd", 400, "invalid_value"),
    ("/{ns}/web/raw/main/%2e%2e/%2e%2e/etc/passwd", 400, "invalid_value"),
    ("/{ns}/web/raw/main/files/..%2f..%2fetc", 400, "invalid_value"),
    ("/{ns}/web/raw/main//etc/passwd", 404, "not_found"),
    ("/{ns}/web/raw/main/%2Fetc%2Fpasswd", 404, "not_found"),
    ("/{ns}/web/raw/main/template.yaml%00.txt", 400, "invalid_value"),
    ("/{ns}/web/raw/main/./template.yaml", 400, "invalid_value"),
    ("/{ns}/web/raw/..%2f..%2fx/template.yaml", 400, "invalid_value"),
    ("/{ns}/web/raw/nope/template.yaml", 404, "unknown_ref"),
    ("/{ns}/web/raw/v9.9.9/template.yaml", 404, "unknown_ref"),
    ("/{ns}/web/raw/latest/missing.yaml", 404, "file_not_found"),
    ("/{ns}/web/raw/main/missing.yaml", 404, "file_not_found"),
    ("/{ns}/web/raw/main/files", 404, "file_not_found"),
    ("/{ns}/web/raw/ma%00in/template.yaml", 400, "invalid_value"),
    ("/{ns}/web/raw/-x/template.yaml", 400, "invalid_value"),
    ("/{ns}/Bad/raw/main/template.yaml", 400, "invalid_value"),
    ("/{ns}/nothere/raw/main/template.yaml", 404, "repository_not_found"),
])
def test_hostile_and_unknown_paths(server: Server, git: Git, ns: str, tmp_path: Path,
                                   path: str, status: int, code: str) -> None:
    push(server, git, tmp_path / "w", f"{ns}/web", server.token("writer", ns),
         {"template.yaml": HELLO_WORLD, "files/a.sh": "echo\n"})
    answered, body = raw_path(server, path.format(ns=ns))
    error = body["error"]
    # An invalid value names its field (the ref, the path...), nothing else.
    extra = {"field"} if code == "invalid_value" else set()
    assert isinstance(error, dict) and set(error) == {"code", "message", *extra}
    assert (answered, error["code"]) == (status, code), error


def test_heatclient_fetches_exactly_what_validation_checks(server: Server, git: Git, ns: str,
                                                           tmp_path: Path) -> None:
    files = {"template.yaml": GROUPS, "nested/lb-server.yaml": HELLO_WORLD,
             "nested/member.template": HELLO_WORLD}
    push(server, git, tmp_path / "w", f"{ns}/groups", server.token("writer", ns), files)
    base = f"{server.url}/{ns}/groups/raw/main/"
    fetched, _template = template_utils.get_template_contents(
        template_url=base + "template.yaml")
    checked = {r.resolved for r in references(load_yaml(GROUPS.encode(), "t").data,
                                              "template.yaml")}
    assert set(fetched) == {base + str(path) for path in checked}
    assert base + "nested/lb-server.yaml" in fetched


def test_other_services_tokens_are_ignored(server: Server, git: Git, ns: str,
                                           tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    push(server, git, tmp_path / "w", f"{ns}/open", writer, {"template.yaml": HELLO_WORLD})
    keystone = "gAAAAABlZ" + "x" * 170  # what Heat and other services send
    answer = raw(server, ns, "open", "main", "template.yaml", **{"X-Auth-Token": keystone})
    assert answer.status_code == 200 and answer.text == HELLO_WORLD
    unknown = raw(server, ns, "open", "main", "template.yaml",
                  **{"X-Auth-Token": "heater_0000000000000000_" + "x" * 43})
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_token"
    malformed = raw(server, ns, "open", "main", "template.yaml", Authorization="Basic !!")
    assert malformed.status_code == 401


def test_token_as_basic_user_name(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    api(server, "POST", "/api/v1/templates", writer,
        json={"namespace": ns, "name": "secret", "visibility": "private"})
    push(server, git, tmp_path / "w", f"{ns}/secret", writer, {"template.yaml": HELLO_WORLD})
    url = f"{server.url}/{ns}/secret/raw/main/template.yaml"
    answer = requests.get(url, auth=(server.token("reader", ns), ""), timeout=10)
    assert answer.status_code == 200 and answer.text == HELLO_WORLD
    assert requests.get(url, auth=("alice", ""), timeout=10).status_code == 401


def test_only_full_shas_are_immutable(server: Server, ns: str,
                                      published: dict[str, str]) -> None:
    full = raw(server, ns, "scale", published["v1"], "files/setup.sh")
    short = raw(server, ns, "scale", published["v1"][:7], "files/setup.sh")
    assert "immutable" in full.headers["Cache-Control"]
    assert short.status_code == 200 and short.text == full.text
    assert "immutable" not in short.headers["Cache-Control"]
    assert "max-age=60" in short.headers["Cache-Control"]
    for answer in (full, short, raw(server, ns, "scale", "v1.0.0", "files/setup.sh")):
        assert answer.headers["Content-Location"] == \
            f"/{ns}/scale/raw/{published['v1']}/files/setup.sh"
    diff = requests.get(f"{server.url}/api/v1/templates/{ns}/scale/diff", timeout=10,
                        params={"from": published["v1"][:7], "to": published["main"][:7]})
    assert "immutable" not in diff.headers.get("Cache-Control", "")


def test_if_none_match_compares_weakly(server: Server, ns: str,
                                       published: dict[str, str]) -> None:
    etag = raw(server, ns, "scale", "main", "files/setup.sh").headers["ETag"]
    for header in (f"W/{etag}", f'"nope", {etag}', f'W/"nope", W/{etag}', "*"):
        again = raw(server, ns, "scale", "main", "files/setup.sh", **{"If-None-Match": header})
        assert again.status_code == 304, header
    other = raw(server, ns, "scale", "main", "files/setup.sh", **{"If-None-Match": 'W/"nope"'})
    assert other.status_code == 200


def test_a_yanked_version_says_so(server: Server, ns: str, published: dict[str, str]) -> None:
    writer = server.token("writer", ns)
    reason = "leaks the admin password\nuse v1.0.1 — sorry"
    assert api(server, "POST", f"/api/v1/templates/{ns}/scale/versions/v1.0.0/yank", writer,
               json={"reason": reason}).status_code == 200
    detail = api(server, "GET", f"/api/v1/templates/{ns}/scale", params={"ref": "v1.0.0"})
    assert detail.json()["ref"]["version"] == "1.0.0"
    assert detail.json()["yanked"]["reason"] == reason
    assert api(server, "GET", f"/api/v1/templates/{ns}/scale",
               params={"ref": "main"}).json()["yanked"] is None
    for ref in ("v1.0.0", "1.0.0"):
        answer = raw(server, ns, "scale", ref, "files/setup.sh")
        assert answer.status_code == 200
        assert answer.headers["X-Heater-Yanked"] == \
            "leaks the admin password use v1.0.1 %E2%80%94 sorry"
    for ref in (published["v1"], "main"):
        assert "X-Heater-Yanked" not in raw(server, ns, "scale", ref, "files/setup.sh").headers


def test_a_directory_is_named_as_one(server: Server, ns: str,
                                     published: dict[str, str]) -> None:
    directory = raw(server, ns, "scale", "v1.0.0", "files")
    assert directory.status_code == 404
    assert directory.json()["error"]["message"].startswith("'files' is a directory at v1.0.0")
    missing = raw(server, ns, "scale", "v1.0.0", "nofile.yaml")
    assert missing.json()["error"]["message"].startswith("no file 'nofile.yaml' at v1.0.0")


def _peak_rss_kib(pids: list[int]) -> dict[int, int]:
    """Each process's peak resident memory (VmHWM), in KiB."""
    peaks = {}
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1])
    return peaks


def test_a_large_file_is_streamed_not_held(git: Git, ns: str, tmp_path: Path) -> None:
    """Four downloads of a 48 MiB file (zeros: a small push, a large blob)
    leave the worker's peak memory where it was: the file is passed on in
    chunks, never read whole into the worker."""
    size = 48 * 1024 * 1024
    server = start_server(tmp_path / "data", tmp_path / "server.log", workers=1)
    try:
        work = git.worktree(tmp_path / "w", {"template.yaml": HELLO_WORLD,
                                             "files/disk.img": b"\0" * size})
        git.run("push", server.auth_url(f"{ns}/big.git", server.token("writer", ns)), "main",
                cwd=work)
        url = f"{server.url}/{ns}/big/raw/main/files/disk.img"
        small = requests.get(f"{server.url}/{ns}/big/raw/main/template.yaml", timeout=30)
        assert small.status_code == 200 and small.text == HELLO_WORLD
        workers = [int(p) for p in Path(f"/proc/{server.process.pid}/task/"
                                        f"{server.process.pid}/children").read_text().split()]
        before = _peak_rss_kib(workers)
        for _ in range(4):
            with requests.get(url, stream=True, timeout=60) as answer:
                assert answer.status_code == 200
                assert answer.headers["Content-Length"] == str(size)
                received = sum(len(chunk) for chunk in answer.iter_content(1 << 20)
                               if not chunk.strip(b"\0"))
                assert received == size
        head = requests.head(url, timeout=30)
        assert head.status_code == 200 and head.headers["Content-Length"] == str(size)
        after = _peak_rss_kib(workers)
        grown = max(after[pid] - before[pid] for pid in workers)
        assert grown < 16 * 1024, f"a worker's peak memory grew by {grown} KiB"
    finally:
        stop_server(server)
