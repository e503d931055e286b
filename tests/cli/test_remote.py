"""``heater template ...`` and ``heater image ...`` against a real server:
readable tables by default, the server's JSON with ``--json``, one line and
no traceback for a user's mistake."""

from __future__ import annotations

import json
from pathlib import Path

from heater.cli.remote import table
from tests.catalog_support import api
from tests.cli.entry import Ran
from tests.cli.entry import heater as run_heater
from tests.conftest import HELLO_WORLD, Server
from tests.images_helpers import UBUNTU_MANIFEST

CHANGED = HELLO_WORLD.replace("m1.small", "m1.large")


def heater(server: Server, token: str | None, *args: str) -> Ran:
    env = {"HEATER_URL": server.url, **({"HEATER_TOKEN": token} if token else {})}
    return run_heater(*args, env=env)


def ok(done: Ran) -> Ran:
    assert done.returncode == 0, done.stderr
    return done


def test_template_commands(server: Server, ns: str) -> None:
    writer = server.token("writer", ns)
    created = api(server, "POST", "/api/v1/templates", writer, json={
        "namespace": ns, "name": "web",
        "files": {"template.yaml": HELLO_WORLD,
                  "heater.yaml": f"description: Web {ns}\nkeywords: [web]\n"}})
    assert created.status_code == 201, created.text
    repo = f"{ns}/web"

    released = ok(heater(server, writer, "template", "release", repo, "1.0.0",
                         "--message", "First"))
    assert released.stdout.startswith(f"released {repo} 1.0.0 at commit ")
    listed = ok(heater(server, None, "template", "list", "--namespace", ns))
    assert listed.stdout.splitlines()[0].split() == [
        "TEMPLATE", "LATEST", "UPDATED", "STATE", "DESCRIPTION"]
    assert listed.stdout.splitlines()[1].split()[:2] == [repo, "1.0.0"]
    found = json.loads(ok(heater(server, None, "template", "search", ns, "--json")).stdout)
    assert [t["name"] for t in found["templates"]] == ["web"]
    nothing = ok(heater(server, None, "template", "search", f"{ns}nothing"))
    assert nothing.stdout == "no templates\n"

    shown = ok(heater(server, None, "template", "show", repo)).stdout
    assert f"description:    Web {ns}" in shown and "default branch: main" in shown
    assert "parameters:     image" in shown
    as_json = json.loads(ok(heater(server, None, "template", "show", repo, "--json")).stdout)
    assert as_json["latest_version"] == "1.0.0"

    # A second version from a changed branch, then yank it.
    changed = api(server, "POST", "/api/v1/templates", writer, json={
        "namespace": ns, "name": "web2", "files": {"template.yaml": CHANGED}})
    assert changed.status_code == 201
    ok(heater(server, writer, "template", "release", f"{ns}/web2", "2.0.0", "--ref", "main"))
    ok(heater(server, writer, "template", "yank", f"{ns}/web2", "2.0.0", "--reason", "broken"))
    versions = ok(heater(server, None, "template", "versions", f"{ns}/web2")).stdout
    assert versions.splitlines()[0].split() == ["VERSION", "COMMIT", "CREATED", "STATE"]
    assert versions.splitlines()[1].endswith("yanked: broken")
    ok(heater(server, writer, "template", "yank", f"{ns}/web2", "2.0.0", "--undo"))
    no_reason = heater(server, writer, "template", "yank", f"{ns}/web2", "2.0.0")
    assert no_reason.returncode == 1 and "--reason" in no_reason.stderr

    deprecated = ok(heater(server, writer, "template", "deprecate", f"{ns}/web2",
                           "--message", "use web", "--replacement", repo))
    assert deprecated.stdout == f"{ns}/web2 deprecated in favour of {repo}\n"

    same = ok(heater(server, None, "template", "diff", repo, "1.0.0", "main", "--unified"))
    assert (same.stdout, same.stderr) == ("", "no changes from 1.0.0 to main\n")
    summary = ok(heater(server, None, "template", "diff", repo, "1.0.0", "main")).stdout
    assert summary.startswith(f"{repo}: 1.0.0 -> main: verdict ") and "no changes" in summary

    refused = heater(server, writer, "template", "delete", repo, "--reason", "gone")
    assert refused.returncode == 1 and "403 forbidden" in refused.stderr
    deleted = ok(heater(server, server.token("admin", ns), "template", "delete", repo,
                        "--reason", "gone"))
    assert deleted.stdout.startswith(f"{repo} deleted")
    gone = heater(server, None, "template", "show", repo)
    assert gone.returncode == 1 and "410" in gone.stderr


def test_image_commands(server: Server, ns: str, tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(UBUNTU_MANIFEST))
    ids = {}
    for version, data in (("1.0.0", b"one" * 1000), ("1.1.0", b"two" * 1000)):
        disk = tmp_path / f"{version}.img"
        disk.write_bytes(data)
        pushed = ok(heater(server, writer, "image", "push", f"{ns}/jammy", str(disk),
                           "--manifest", str(manifest), "--version", version))
        ids[version] = pushed.stdout.strip()

    listed = ok(heater(server, None, "image", "list", "--namespace", ns)).stdout.splitlines()
    assert listed[0].split() == ["IMAGE", "LATEST", "OS", "FORMAT", "SIZE", "PACKAGES"]
    assert listed[1].split()[:2] == [f"{ns}/jammy", "1.1.0"]
    shown = ok(heater(server, None, "image", "show", f"{ns}/jammy")).stdout
    assert f"build:      {ids['1.1.0']}" in shown and "VERSION" in shown

    out = tmp_path / "pulled.img"
    ok(heater(server, None, "image", "pull", f"{ns}/jammy:1.0.0", "-o", str(out)))
    assert out.read_bytes() == b"one" * 1000
    ok(heater(server, None, "image", "pull", f"{ns}/jammy", "-o", str(out)))
    assert out.read_bytes() == b"two" * 1000
    missing = heater(server, None, "image", "pull", f"{ns}/jammy:9.9.9", "-o", str(out))
    assert (missing.returncode, missing.stderr) == (1, f"heater: {ns}/jammy has no version "
                                                       "9.9.9\n")

    same = ok(heater(server, None, "image", "diff", f"{ns}/jammy", "1.0.0", "1.1.0")).stdout
    assert same.endswith("no package changes\n")
    as_json = json.loads(ok(heater(server, None, "image", "diff", f"{ns}/jammy", "1.0.0",
                                   "1.1.0", "--json")).stdout)
    assert as_json["packages"]["added"] == []

    deleted = ok(heater(server, writer, "image", "delete", ids["1.0.0"]))
    assert deleted.stdout == f"build {ids['1.0.0']} deleted (its record stays)\n"
    again = heater(server, None, "image", "pull", ids["1.0.0"], "-o", str(out))
    assert again.returncode == 1 and "410" in again.stderr

    queued = api(server, "POST", f"/api/v1/images/{ns}/jammy/builds", writer,
                 json=UBUNTU_MANIFEST).json()
    builds = ok(heater(server, None, "image", "builds", f"{ns}/jammy")).stdout.splitlines()
    assert builds[0].split() == ["BUILD", "STATUS", "VERSION", "SIZE", "CREATED"]
    rows = [line.split()[:2] for line in builds[1:]]
    assert sorted(rows) == sorted([[queued["build_id"], "queued"], [ids["1.1.0"], "active"],
                                   [ids["1.0.0"], "deleted"]])
    # Newest first, then by id: builds queued within one second (the
    # precision of created_at) come in the order of their ids.
    listed_json = json.loads(ok(heater(server, None, "image", "builds", f"{ns}/jammy",
                                       "--json")).stdout)["builds"]
    keys = [(b["created_at"], b["build_id"]) for b in listed_json]
    assert keys == sorted(keys, reverse=True)
    assert [row[0] for row in rows] == [b["build_id"] for b in listed_json]
    one = json.loads(ok(heater(server, None, "image", "builds", f"{ns}/jammy", "--limit", "1",
                               "--json")).stdout)
    assert len(one["builds"]) == 1

    no_reason = heater(server, writer, "image", "delete", f"{ns}/jammy")
    assert no_reason.returncode == 1 and "--reason" in no_reason.stderr
    gone = ok(heater(server, server.token("admin", ns), "image", "delete", f"{ns}/jammy",
                     "--reason", "retired"))
    assert gone.stdout == f"{ns}/jammy deleted (a tombstone keeps its history)\n"
    assert api(server, "GET", f"/api/v1/images/{ns}/jammy").status_code == 410


def test_user_mistakes_get_one_line_and_advice(server: Server, ns: str) -> None:
    no_scheme = run_heater("template", "list", "--url", "127.0.0.1:8080")
    assert (no_scheme.returncode, no_scheme.stderr) == (
        1, "heater: the server URL '127.0.0.1:8080' has no scheme; did you mean "
           "http://127.0.0.1:8080?\n")
    image_too = run_heater("image", "pull", "x/y", "-o", "z", "--url", "localhost:8080")
    assert image_too.returncode == 1 and "did you mean http://localhost:8080?" in \
        image_too.stderr
    assert api(server, "POST", "/api/v1/templates", server.token("writer", ns), json={
        "namespace": ns, "name": "web", "files": {"template.yaml": HELLO_WORLD}}).ok
    anonymous = heater(server, None, "template", "release", f"{ns}/web", "1.0.0")
    assert anonymous.returncode == 1
    assert anonymous.stderr.splitlines()[-1] == (
        "heater: give a token with --token or $HEATER_TOKEN (heater token create makes one)")
    bad_name = heater(server, None, "template", "show", "no-slash")
    assert bad_name.returncode == 1 and "Traceback" not in bad_name.stderr
    unreachable = run_heater("template", "list", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("heater: cannot reach http://127.0.0.1:9: ")


def test_tables_align_and_cut_long_cells() -> None:
    assert table(["a", "bee"], [["x", None], ["long", "text " * 20]]).splitlines() == [
        "A     BEE",
        "x     -",
        "long  " + ("text " * 12)[:59] + "…",
    ]
    assert table(["a"], []) == ""
