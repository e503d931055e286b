"""The diff endpoint end to end: histories pushed with the real git client,
the API's patch compared with ``git diff`` in a clone."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import CORPUS, HELLO_WORLD, Git, Server
from tests.diff.test_getfile import FILES
from tests.diff.test_policy import ENFORCE

HISTORY = CORPUS / "heat-templates-history"
REPLAYED = ("autoscaling", "lb_server", "servers_in_new_neutron_net", "F20_WordPress_Native")
# Nested templates a history's template names, pushed beside it (a push
# naming a missing one is refused).
BESIDE = {"autoscaling": {"lb_server.yaml": (CORPUS / "heat-templates" / "hot" / "lb_server.yaml")}}
# Three upstream autoscaling versions read an attribute of a resource that is
# not defined (Heat refuses them); the replay lowers that check, as a
# repository may in heater.yaml, so that the whole history lands.
LOWERED = {"autoscaling": "validation:\n  warn: [undefined-resource]\n"}


def _api(server: Server, ns: str, name: str, **params: str) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/templates/{ns}/{name}/diff", params=params,
                        timeout=60)


def _replay(git: Git, work: Path, template: str) -> list[str]:
    """Commit each corpus version of ``template`` as template.yaml, tagged
    v1.0.0, v1.1.0, ...; in the middle of the history the file moves to
    hot/ (heater.yaml names the new entry point) and a binary and an
    environment file join it. Returns the SHAs."""
    versions = sorted((HISTORY / template).glob("*.yaml"))
    assert len(versions) >= 2, f"no corpus history in {HISTORY / template}"
    shas: list[str] = []
    current = "template.yaml"
    for index, source in enumerate(versions):
        if index == len(versions) // 2 and index > 0:
            (work / "hot").mkdir()
            git.run("mv", current, "hot/template.yaml", cwd=work)
            current = "hot/template.yaml"
            extra: dict[str, str | bytes] = {"files/logo.png": b"\x89PNG\x00" + bytes(range(256)),
                                             "env.yaml": "parameter_defaults:\n  a: 1\n",
                                             "heater.yaml": f"entrypoint: {current}\n"
                                                            + LOWERED.get(template, "")}
        elif index == 0 and template in LOWERED:
            extra = {"heater.yaml": LOWERED[template]}
        else:
            extra = {}
        files = {current: source.read_text(), **extra}
        folder = current.rpartition("/")[0]
        files |= {f"{folder}/{name}".lstrip("/"): path.read_text()
                  for name, path in BESIDE.get(template, {}).items()}
        if index == 0:
            git.worktree(work, files, source.name)
            shas.append(git.run("rev-parse", "HEAD", cwd=work).stdout.strip())
        else:
            shas.append(git.commit(work, files, source.name))
        git.run("tag", f"v1.{index}.0", cwd=work)
    return shas


@pytest.mark.parametrize("template", REPLAYED)
def test_unified_equals_git_diff_over_a_corpus_history(server: Server, git: Git, ns: str,
                                                       tmp_path: Path, template: str) -> None:
    token = server.token("writer", ns)
    work = tmp_path / "work"
    shas = _replay(git, work, template)
    git.run("push", server.auth_url(f"{ns}/{template.lower()}.git", token), "main", "--tags",
            cwd=work)
    clone = tmp_path / "clone"
    git.run("clone", "-q", f"{server.url}/{ns}/{template.lower()}.git", str(clone))
    pairs = [*itertools.pairwise(shas), (shas[0], shas[-1]), (shas[-1], shas[0])]
    assert len(pairs) >= 3
    for old, new in pairs:
        expected = git.run("diff", old, new, cwd=clone).stdout
        response = _api(server, ns, template.lower(), **{"from": old, "to": new,
                                                         "format": "unified"})
        if not expected:  # two versions with the same content: no patch
            assert (response.status_code, response.content) == (204, b"")
            continue
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/x-diff")
        if "Binary files" not in expected:
            assert response.text == expected, (old, new)
        else:  # git diff --binary is what applies; its zlib payload may differ
            assert git.run("diff", "--stat", old, new, cwd=clone).stdout.strip()
        # The patch applies on a checkout of `from` and gives `to`.
        git.run("checkout", "-q", "--detach", old, cwd=clone)
        patch = tmp_path / "change.patch"
        patch.write_bytes(response.content)
        git.run("apply", "--check", "--binary", str(patch), cwd=clone)
        git.run("apply", "--binary", str(patch), cwd=clone)
        git.run("add", "-A", cwd=clone)
        tree = git.run("write-tree", cwd=clone).stdout.strip()
        assert tree == git.run("rev-parse", f"{new}^{{tree}}", cwd=clone).stdout.strip()
        git.run("reset", "-q", "--hard", cwd=clone)

        # The JSON lists the same files with the same patches and counts.
        body = _api(server, ns, template.lower(), **{"from": old, "to": new}).json()
        numstat = git.run("diff", "--numstat", old, new, cwd=clone).stdout.splitlines()
        assert len(body["files"]) == len(numstat)
        for item in body["files"]:
            if not item["binary"]:
                assert item["patch"] in expected
        assert "".join(f["patch"] for f in body["files"]) == expected


def _push_versions(server: Server, git: Git, ns: str, tmp_path: Path,
                   contents: list[str], name: str = "app") -> list[str]:
    token = server.token("writer", ns)
    work = tmp_path / "work"
    shas = []
    for index, text in enumerate(contents):
        if index == 0:
            git.worktree(work, {"template.yaml": text})
            shas.append(git.run("rev-parse", "HEAD", cwd=work).stdout.strip())
        else:
            shas.append(git.commit(work, {"template.yaml": text}, f"change {index}"))
        git.run("tag", f"v1.{index}.0", cwd=work)
    git.run("push", server.auth_url(f"{ns}/{name}.git", token), "main", "--tags", cwd=work)
    return shas


REQUIRED_FLAVOR = HELLO_WORLD.replace(
    "resources:", "  flavor:\n    type: string\nresources:", 1)


def test_json_carries_files_semantics_verdict_and_version_check(
        server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    _push_versions(server, git, ns, tmp_path, [HELLO_WORLD, REQUIRED_FLAVOR])
    response = _api(server, ns, "app", **{"from": "1.0.0", "to": "v1.1.0"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["from"]["version"] == "1.0.0" and body["to"]["kind"] == "tag"
    assert body["verdict"] == "major"
    assert body["version_check"] == {"from": "1.0.0", "to": "1.1.0", "bump": "minor",
                                     "required": "major", "sufficient": False}
    [changed] = body["files"]
    assert (changed["status"], changed["path"], changed["additions"],
            changed["deletions"]) == ("modified", "template.yaml", 2, 0)
    [summary] = body["semantic"]
    assert summary["role"] == "entrypoint"
    [entry] = summary["entries"]
    assert entry["path"] == ["parameters", "flavor"] and entry["impact"] == "major"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = requests.get(f"{server.url}/api/v1/templates/{ns}/app/diff", timeout=30,
                         params={"from": "1.0.0", "to": "v1.1.0"},
                         headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    unified = _api(server, ns, "app", **{"from": "1.0.0", "to": "v1.1.0", "format": "unified"})
    assert unified.headers["X-Heater-Verdict"] == "major"
    assert unified.headers["X-Heater-Diff-Truncated"] == "false"
    # latest and a branch move: not cacheable forever.
    moving = _api(server, ns, "app", **{"from": "1.0.0", "to": "main"})
    assert moving.json()["version_check"] is None
    assert "immutable" not in moving.headers.get("Cache-Control", "")


def test_same_ref_gives_an_empty_diff(server: Server, git: Git, ns: str,
                                      tmp_path: Path) -> None:
    _push_versions(server, git, ns, tmp_path, [HELLO_WORLD])
    body = _api(server, ns, "app", **{"from": "latest", "to": "v1.0.0"}).json()
    assert body["files"] == [] and body["semantic"] == [] and body["verdict"] == "none"
    unified = _api(server, ns, "app", **{"from": "main", "to": "1.0.0", "format": "unified"})
    assert unified.status_code == 204 and unified.content == b""


def test_unknown_ref_is_404_naming_it(server: Server, git: Git, ns: str,
                                      tmp_path: Path) -> None:
    _push_versions(server, git, ns, tmp_path, [HELLO_WORLD])
    for params in ({"from": "v9.9.9", "to": "main"}, {"from": "main", "to": "no-such-branch"},
                   {"from": "deadbeef", "to": "main"}):
        response = _api(server, ns, "app", **params)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "unknown_ref"
        bad = params["from"] if params["from"] != "main" else params["to"]
        assert repr(bad) in error["message"]


def test_bad_requests(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    _push_versions(server, git, ns, tmp_path, [HELLO_WORLD])
    assert _api(server, ns, "app", **{"from": "main"}).json()["error"]["code"] == \
        "missing_field"
    response = _api(server, ns, "app", **{"from": "main", "to": "main", "format": "html"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_value"
    assert _api(server, ns, "nothing", **{"from": "a", "to": "b"}).status_code == 404


def test_private_repository_is_404_to_others(server: Server, git: Git, ns: str,
                                             tmp_path: Path) -> None:
    token = server.token("writer", ns)
    created = requests.post(f"{server.url}/api/v1/templates", timeout=10,
                            json={"namespace": ns, "name": "secret", "visibility": "private"},
                            headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/secret.git", token), "main", cwd=work)
    params = {"from": "main", "to": "main"}
    assert _api(server, ns, "secret", **params).status_code == 404
    sha = git.run("rev-parse", "HEAD", cwd=work).stdout.strip()
    allowed = requests.get(f"{server.url}/api/v1/templates/{ns}/secret/diff",
                           params={"from": sha, "to": sha},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert allowed.status_code == 200
    # Fixed commits, but never in a shared cache.
    assert allowed.headers["Cache-Control"].startswith("private,")


def test_latest_skips_yanked_and_a_deleted_template_is_gone(
        server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    _push_versions(server, git, ns, tmp_path, [HELLO_WORLD, REQUIRED_FLAVOR])
    writer = {"Authorization": f"Bearer {server.token('writer', ns)}"}
    base = f"{server.url}/api/v1/templates/{ns}/app"
    assert requests.post(f"{base}/versions/1.1.0/yank", json={"reason": "breaks callers"},
                         headers=writer, timeout=30).status_code == 200
    body = _api(server, ns, "app", **{"from": "latest", "to": "v1.1.0"}).json()
    assert body["from"]["version"] == "1.0.0" and body["verdict"] == "major"
    admin = {"Authorization": f"Bearer {server.token('admin', ns)}"}
    assert requests.delete(base, json={"reason": "gone"}, headers=admin,
                           timeout=30).status_code == 200
    gone = _api(server, ns, "app", **{"from": "v1.0.0", "to": "v1.1.0"})
    assert gone.status_code == 410 and gone.json()["error"]["tombstone"]["reason"] == "gone"


def test_a_changed_get_file_target_is_a_changed_property(server: Server, git: Git, ns: str,
                                                         tmp_path: Path) -> None:
    url = server.auth_url(f"{ns}/db.git", server.token("writer", ns))
    work = git.worktree(tmp_path / "work", {**FILES, "heater.yaml": ENFORCE})
    git.run("tag", "v1.0.0", cwd=work)
    git.run("push", url, "main", "v1.0.0", cwd=work)
    git.commit(work, {"scripts/db_init.sh": "#!/bin/sh\ncreatedb app --locale C\n"},
               "only the script")
    git.run("push", url, "main", cwd=work)

    body = _api(server, ns, "db", **{"from": "v1.0.0", "to": "main"}).json()
    assert [f["path"] for f in body["files"]] == ["scripts/db_init.sh"]
    assert body["verdict"] == "major"
    found = {(s["path"], s["role"], tuple(e["path"]), e["change"], e["impact"])
             for s in body["semantic"] for e in s["entries"]}
    assert found == {
        ("template.yaml", "entrypoint", ("resources", "db", "properties", "user_data"),
         "replaced", "major"),
        ("nested/web.yaml", "nested", ("resources", "other", "properties", "config"),
         "replaced", "major")}
    assert all("via get_file scripts/db_init.sh" in e["reason"]
               for s in body["semantic"] for e in s["entries"])

    # The enforced policy refuses to release it as a patch.
    git.run("tag", "v1.0.1", cwd=work)
    proc = git.run("push", url, "v1.0.1", cwd=work, check=False)
    assert proc.returncode != 0
    assert ("remote: refs/tags/v1.0.1: version 1.0.1 is a patch bump over 1.0.0, but the "
            "changes since 1.0.0 need a major bump") in proc.stderr
    assert "resources/db/properties/user_data replaced: via get_file" in proc.stderr
    git.run("tag", "v2.0.0", cwd=work)
    git.run("push", url, "v2.0.0", cwd=work)
    checked = _api(server, ns, "db", **{"from": "1.0.0", "to": "2.0.0"}).json()
    assert checked["version_check"]["sufficient"] is True


def test_large_binary_files_are_reported_by_size_not_encoded(server: Server, git: Git,
                                                              ns: str, tmp_path: Path) -> None:
    """Two 3 MiB binaries: encoding them for --binary cost seconds and then
    overflowed the patch limit, answering an empty patch. The patch says
    what `git diff` says, and the sizes are in the JSON."""
    size = 3 * 1024 * 1024
    work = git.worktree(tmp_path / "w", {"template.yaml": HELLO_WORLD,
                                         "disk.img": b"\x00" + os.urandom(size - 1)})
    git.commit(work, {"disk.img": b"\x00" + os.urandom(size - 1)}, "another image")
    git.run("push", server.auth_url(f"{ns}/bin.git", server.token("writer", ns)), "main",
            "HEAD~1:refs/heads/old", cwd=work)
    expected = git.run("diff", "HEAD~1", "HEAD", cwd=work).stdout
    assert "Binary files a/disk.img and b/disk.img differ" in expected
    started = time.monotonic()
    unified = _api(server, ns, "bin", **{"from": "old", "to": "main", "format": "unified"})
    assert unified.status_code == 200
    assert unified.text == expected
    assert unified.headers["X-Heater-Diff-Truncated"] == "true"
    answer = _api(server, ns, "bin", **{"from": "old", "to": "main"}).json()
    assert time.monotonic() - started < 10
    [entry] = answer["files"]
    assert (entry["binary"], entry["old_size"], entry["new_size"]) == (True, size, size)
    assert entry["patch"] == expected
    assert answer["files_omitted"] == 0


def test_a_truncated_json_diff_stops_listing_files(server: Server, git: Git, ns: str,
                                                   tmp_path: Path) -> None:
    """Past the patch limit (4 MiB) the JSON counts the remaining files
    instead of listing each without a patch."""
    lines = [f"line {i} {'x' * 60}\n" for i in range(12_000)]  # ~850 KB a file
    before = {f"data/{i:02}.txt": "".join(lines) for i in range(8)}
    after = {path: "".join(reversed(lines)) for path in before}
    work = git.worktree(tmp_path / "w", {"template.yaml": HELLO_WORLD, **before})
    git.commit(work, after, "every line moved")
    git.run("push", server.auth_url(f"{ns}/many.git", server.token("writer", ns)), "main",
            "HEAD~1:refs/heads/old", cwd=work)
    answer = _api(server, ns, "many", **{"from": "old", "to": "main"}).json()
    assert answer["truncated"] is True
    assert answer["stats"]["files"] == 8
    listed = answer["files"]
    assert 0 < len(listed) < 8 and all(f["patch"] for f in listed)
    assert answer["files_omitted"] == 8 - len(listed)


STACK = """heat_template_version: 2018-08-31
resources:
  server:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: m1.small
      flavor_update_policy: RESIZE
  data:
    type: OS::Cinder::Volume
    properties: {size: 10, image: cirros}
  port:
    type: OS::Neutron::Port
    properties: {network: private}
"""
# Heat resizes the server and grows the volume in place.
RESIZED = STACK.replace("m1.small", "m1.large").replace("size: 10", "size: 20")
# Heat replaces all three: the policy says so, and a volume's image and a
# port's network are not update_allowed.
REBUILT = RESIZED.replace("m1.large", "m1.xlarge").replace("RESIZE", "REPLACE").replace(
    "size: 20, image: cirros", "size: 20, image: fedora").replace("private", "public")


def test_replacements_from_heat_schemas_over_the_api(server: Server, git: Git, ns: str,
                                                     tmp_path: Path) -> None:
    url = server.auth_url(f"{ns}/stack.git", server.token("writer", ns))
    work = git.worktree(tmp_path / "work", {"template.yaml": STACK, "heater.yaml": ENFORCE})
    git.run("tag", "v1.0.0", cwd=work)
    git.commit(work, {"template.yaml": RESIZED}, "resize")
    git.run("tag", "v1.1.0", cwd=work)
    git.run("push", url, "main", "--tags", cwd=work)

    updated = _api(server, ns, "stack", **{"from": "1.0.0", "to": "1.1.0"})
    assert updated.status_code == 200
    body = updated.json()
    assert (body["verdict"], body["version_check"]["sufficient"]) == ("patch", True)
    [summary] = body["semantic"]
    assert (summary["replaced"], summary["refused"]) == ([], [])
    assert {(e["name"], e["change"], e["impact"]) for e in summary["entries"]} == {
        ("server", "changed", "patch"), ("data", "changed", "patch")}
    server_entry = next(e for e in summary["entries"] if e["name"] == "server")
    assert server_entry["reason"] == ("resource definition changed: Heat updates the server "
                                      "in place (flavor_update_policy is RESIZE)")

    git.commit(work, {"template.yaml": REBUILT}, "rebuild")
    git.run("push", url, "main", cwd=work)
    replaced = _api(server, ns, "stack", **{"from": "1.1.0", "to": "main"})
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["verdict"] == "major"
    [summary] = body["semantic"]
    assert {(e["name"], e["change"], e["impact"]) for e in summary["entries"]} == {
        ("server", "replaced", "major"), ("data", "replaced", "major"),
        ("port", "replaced", "major")}
    assert sorted((r["resource"], tuple(r["path"])) for r in summary["replaced"]) == [
        ("data", ("resources", "data", "properties", "image")),
        ("port", ("resources", "port", "properties", "network")),
        ("server", ("resources", "server", "properties", "flavor"))]
    because = {r["resource"]: r["because"] for r in summary["replaced"]}
    assert because["data"].startswith("property image is not update_allowed")
    assert because["server"].startswith("Heat replaces the server (flavor_update_policy is "
                                        "REPLACE)")
    assert summary["refused"] == []
    # And what Heat does about each changed property, the one in place too.
    rebuilt = next(e for e in summary["entries"] if e["name"] == "server")
    assert [(u["path"][-1], u["outcome"]) for u in rebuilt["updates"]] == [
        ("flavor", "replace"), ("flavor_update_policy", "update")]
    assert rebuilt["updates"][1]["because"] == "Heat updates the resource in place"

    # The version-bump check reads the same verdict.
    git.run("tag", "v1.2.0", cwd=work)
    proc = git.run("push", url, "v1.2.0", cwd=work, check=False)
    assert proc.returncode != 0
    assert ("remote: refs/tags/v1.2.0: version 1.2.0 is a minor bump over 1.1.0, but the "
            "changes since 1.1.0 need a major bump") in proc.stderr
    assert ("resources/port replaced: network changed: property network is not "
            "update_allowed") in proc.stderr
    git.run("tag", "v2.0.0", cwd=work)
    git.run("push", url, "v2.0.0", cwd=work)
    checked = _api(server, ns, "stack", **{"from": "1.1.0", "to": "2.0.0"}).json()
    assert checked["version_check"] == {"from": "1.1.0", "to": "2.0.0", "bump": "major",
                                        "required": "major", "sufficient": True}
