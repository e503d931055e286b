"""Pushes refused before any ref moves, with the real git binary.

Every refusal must reach the git user as ``remote: <file>:<line>: <reason>``
(or ``remote: <ref>: <reason>``), leave the server's refs as they were, leave
no quarantine directory behind, and keep ``git fsck`` clean.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import HELLO_WORLD, Git, Server, git_env, start_server, stop_server

WITH_GET_FILE = """heat_template_version: 2018-08-31
resources:
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: files/init.sh}
"""

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


def server_refs(server: Server, repo: str) -> str:
    path = server.data_dir / "git" / f"{repo}.git"
    return subprocess.run(["git", "-C", str(path), "for-each-ref"], capture_output=True,
                          text=True, check=True).stdout


def assert_clean(server: Server, repo: str) -> None:
    """fsck clean, no quarantine directory left in the server's repository and
    nothing in its scratch space."""
    path = server.data_dir / "git" / f"{repo}.git"
    fsck = subprocess.run(["git", "-C", str(path), "fsck", "--strict"], capture_output=True,
                          text=True, check=False)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert "dangling" not in fsck.stdout + fsck.stderr
    assert list((path / "objects").glob("tmp_objdir-*")) == []
    assert list((path / "objects").glob("incoming-*")) == []
    assert list((server.data_dir / "tmp").iterdir()) == []


@pytest.fixture
def published(server: Server, git: Git, ns: str, tmp_path: Path) -> tuple[Path, str]:
    """A pushed repository ``<ns>/app`` with main and version tag v1.0.0."""
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("tag", "-a", "v1.0.0", "-m", "first", cwd=work)
    url = server.auth_url(f"{ns}/app.git", server.token("writer", ns))
    git.run("push", url, "main", "v1.0.0", cwd=work)
    return work, url


def refused(git: Git, work: Path, *args: str) -> str:
    proc = git.run("push", *args, cwd=work, check=False)
    assert proc.returncode != 0, proc.stderr
    return proc.stderr


@pytest.mark.parametrize(("files", "expected"), [
    ({"template.yaml": "heat_template_version: 2018-08-31\nresources:\n  a: b: c\n"},
     "remote: template.yaml:3: invalid YAML"),
    ({"template.yaml": BOMB}, "remote: template.yaml:"),
    ({"template.yaml": WITH_GET_FILE},
     "remote: template.yaml:6: get_file target 'files/init.sh' does not exist"),
    ({"template.yaml": HELLO_WORLD.replace("2018-08-31", "2099-01-01")},
     "remote: template.yaml:1: unknown heat_template_version '2099-01-01'"),
    ({"template.yaml": HELLO_WORLD, "env.yaml": "parameters: {a: [\n"},
     "remote: env.yaml:2: invalid YAML"),
    ({"README.md": "no template"}, "remote: template.yaml: the entry point is missing"),
    ({"template.yaml": "heat_template_version: 2018-08-31\nresources:\n  asg:\n"
      "    type: OS::Heat::AutoScalingGroup\n    properties:\n      resource:\n"
      "        type: nested/lb-server.yaml\n"},
     "remote: template.yaml:7: nested template 'nested/lb-server.yaml' does not exist"),
    ({"template.yaml": "heat_template_version: 2018-08-31\nresources:\n  group:\n"
      "    type: OS::Heat::ResourceGroup\n    properties:\n      resource_def:\n"
      "        type: member.yaml\n"},
     "remote: template.yaml:7: nested template 'member.yaml' does not exist"),
    ({"template.yaml": HELLO_WORLD, "heater.yaml": "description: x\nversioning:\n"
      "  enforce: 'true'\n"},
     "remote: heater.yaml:3: versioning must be a mapping {enforce: true|false}"),
    ({"template.yaml": HELLO_WORLD.replace("flavor: m1.small\n", "flavor: m1.small\n"
                                           "      metadata: {n: " + "7" * 5000 + "}\n")},
     "remote: template.yaml:13: invalid YAML: an integer longer than 1000 digits"),
    ({"stack.yaml": HELLO_WORLD, "heater.yaml": "entrypiont: stack.yaml\n"},
     "remote: heater.yaml:1: unknown setting 'entrypiont' (did you mean 'entrypoint'?)"),
    # Checked as Heat checks a template, from Heat's own schemas.
    ({"template.yaml": HELLO_WORLD.replace("OS::Nova::Server", "OS::Nova::Sever")},
     "remote: template.yaml:9: resource server: type 'OS::Nova::Sever' is neither a Heat "
     "resource type, a nested template, nor mapped in an environment's resource_registry "
     "(did you mean 'OS::Nova::Server'?)"),
    ({"template.yaml": HELLO_WORLD.replace("{get_param: image}", "{get_param: imag}")},
     "remote: template.yaml:11: get_param: 'imag' is not a parameter of this template "
     "(did you mean 'image'?)"),
    ({"template.yaml": HELLO_WORLD.replace("type: string", "type: strin")},
     "remote: template.yaml:5: parameter image: type 'strin' is not one of boolean, "
     "comma_delimited_list, json, number, string (did you mean 'string'?) "
     "[parameter-definition]"),
    ({"template.yaml": HELLO_WORLD.replace("outputs:", "ouputs:")},
     "remote: template.yaml:13: unknown section 'ouputs' for heat_template_version "
     "2018-08-31 (did you mean 'outputs'?) [unknown-section]"),
    ({"template.yaml": HELLO_WORLD.replace("      flavor: m1.small\n", "")},
     "remote: template.yaml:10: resource server: missing required property 'flavor' "
     "[missing-property]"),
    ({"template.yaml": HELLO_WORLD.replace("first_address", "first_adress")},
     "remote: template.yaml:15: get_attr: OS::Nova::Server has no attribute 'first_adress' "
     "(did you mean 'first_address'?) [unknown-attribute]"),
    ({"template.yaml": HELLO_WORLD.replace("2018-08-31", "2015-04-30").replace(
        "flavor: m1.small", "flavor: {if: [big, m1.large, m1.small]}")},
     "remote: template.yaml:12: if is not a function of heat_template_version 2015-04-30 "
     "(available from 2016-10-14) [unknown-function]"),
    # An environment with a typo in a section is one Heat refuses, and its
    # mappings would be ignored.
    ({"template.yaml": HELLO_WORLD, "env/prod.yaml": "paramters:\n  image: cirros\n"},
     "remote: env/prod.yaml:1: unknown section 'paramters' for an environment (did you "
     "mean 'parameters'?) [unknown-section]"),
])
def test_invalid_content_is_refused(server: Server, git: Git, ns: str, tmp_path: Path,
                                    files: dict[str, str], expected: str) -> None:
    work = git.worktree(tmp_path / "work", files)
    url = server.auth_url(f"{ns}/bad.git", server.token("writer", ns))
    started = time.monotonic()
    stderr = refused(git, work, url, "main")
    assert time.monotonic() - started < 10
    assert expected in stderr
    assert "push refused: nothing was changed" in stderr
    # The push was to create the repository: nothing of it is left.
    assert not (server.data_dir / "git" / ns / "bad.git").exists()


def test_yaml_bomb_says_why(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    url = server.auth_url(f"{ns}/app.git", server.token("writer", ns))
    git.run("push", url, "main", cwd=work)
    git.commit(work, {"template.yaml": BOMB}, "bomb")
    stderr = refused(git, work, url, "main")
    assert "refusing a possible YAML bomb" in stderr
    assert_clean(server, f"{ns}/app")


def test_valid_push_with_get_file_and_follow_up(server: Server, git: Git, ns: str,
                                                tmp_path: Path) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": WITH_GET_FILE,
                                            "files/init.sh": "#!/bin/sh\n"})
    url = server.auth_url(f"{ns}/app.git", server.token("writer", ns))
    git.run("push", url, "main", cwd=work)
    # Deleting the target of an unchanged template is caught too.
    (work / "files" / "init.sh").unlink()
    git.commit(work, {"README.md": "hi"}, "drop init.sh")
    stderr = refused(git, work, url, "main")
    assert "remote: template.yaml:6: get_file target 'files/init.sh' does not exist" in stderr
    assert_clean(server, f"{ns}/app")


def test_warnings_are_shown_to_the_pusher_and_kept_beside_the_template(
        server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    template = HELLO_WORLD.replace("      flavor: m1.small\n",
                                   "      flavor: m1.small\n      flavour: m1.large\n")
    work = git.worktree(tmp_path / "work", {"template.yaml": template})
    url = server.auth_url(f"{ns}/warned.git", server.token("writer", ns))
    pushed = git.run("push", url, "main", cwd=work)
    warning = ("template.yaml:13: warning: resource server: unknown property 'flavour' "
               "(did you mean 'flavor'?) [unknown-property]")
    assert f"remote: {warning}" in pushed.stderr
    assert "push refused" not in pushed.stderr
    detail = requests.get(f"{server.url}/api/v1/templates/{ns}/warned", timeout=30)
    assert detail.status_code == 200
    assert detail.json()["problems"] == [warning]


def test_more_warnings_and_a_rule_lowered_in_heater_yaml(server: Server, git: Git, ns: str,
                                                          tmp_path: Path) -> None:
    template = HELLO_WORLD.replace("OS::Nova::Server", "OS::Nova::Sever").replace(
        "resources:\n", "resources:\n  ip:\n    type: OS::Nova::FloatingIP\n"
        "  data:\n    type: OS::Cinder::Volume\n    properties: {size: big}\n")
    work = git.worktree(tmp_path / "work", {
        "template.yaml": template,
        "heater.yaml": "validation:\n  warn: [unknown-resource-type]\n"})
    url = server.auth_url(f"{ns}/lowered.git", server.token("writer", ns))
    pushed = git.run("push", url, "main", cwd=work)
    warnings = [
        "template.yaml:9: warning: resource ip: OS::Nova::FloatingIP is hidden; use "
        "OS::Neutron::FloatingIP (Please use OS::Neutron::FloatingIP instead.) "
        "[deprecated-type]",
        "template.yaml:12: warning: resource data: property size: 'big' is not an integer "
        "[property-type]",
        "template.yaml:14: warning: resource server: type 'OS::Nova::Sever' is neither a "
        "Heat resource type, a nested template, nor mapped in an environment's "
        "resource_registry (did you mean 'OS::Nova::Server'?) [unknown-resource-type]"]
    for warning in warnings:
        assert f"remote: {warning}" in pushed.stderr
    assert "push refused" not in pushed.stderr
    detail = requests.get(f"{server.url}/api/v1/templates/{ns}/lowered", timeout=30)
    assert detail.status_code == 200
    assert detail.json()["problems"] == warnings


def test_refused_push_leaves_refs_and_no_quarantine(server: Server, git: Git, ns: str,
                                                    published: tuple[Path, str]) -> None:
    work, url = published
    before = server_refs(server, f"{ns}/app")
    git.commit(work, {"template.yaml": "heat_template_version: newton\n"}, "no resources")
    stderr = refused(git, work, url, "main")
    assert "remote: template.yaml:1: a template needs a resources or an outputs section" \
        in stderr
    assert server_refs(server, f"{ns}/app") == before
    assert_clean(server, f"{ns}/app")


def test_version_tag_cannot_move(server: Server, git: Git, ns: str,
                                 published: tuple[Path, str]) -> None:
    work, url = published
    git.commit(work, {"README.md": "more"}, "more")
    git.run("tag", "-f", "-a", "v1.0.0", "-m", "moved", cwd=work)
    stderr = refused(git, work, url, "--force", "v1.0.0")
    assert "remote: refs/tags/v1.0.0: version 1.0.0 is published; a version tag never moves" \
        in stderr
    assert_clean(server, f"{ns}/app")


def test_version_tag_cannot_be_deleted(server: Server, git: Git, ns: str,
                                       published: tuple[Path, str]) -> None:
    work, _ = published
    admin_url = server.auth_url(f"{ns}/app.git", server.token("admin", ns))
    stderr = refused(git, work, admin_url, ":refs/tags/v1.0.0")
    assert "remote: refs/tags/v1.0.0: version 1.0.0 is published; a version tag is never " \
        "deleted" in stderr
    assert "refs/tags/v1.0.0" in server_refs(server, f"{ns}/app")
    assert_clean(server, f"{ns}/app")


def test_second_tag_for_a_version_is_refused(server: Server, git: Git, ns: str,
                                             published: tuple[Path, str]) -> None:
    work, url = published
    git.run("tag", "1.0.0", cwd=work)
    stderr = refused(git, work, url, "1.0.0")
    assert "remote: refs/tags/1.0.0: version 1.0.0 already exists as tag v1.0.0" in stderr
    git.run("tag", "2.0.0", cwd=work)
    git.run("tag", "v2.0.0", cwd=work)
    stderr = refused(git, work, url, "2.0.0", "v2.0.0")
    assert "version 2.0.0 already exists as tag" in stderr
    assert "2.0.0" not in server_refs(server, f"{ns}/app")


def test_branch_force_push_is_refused(server: Server, git: Git, ns: str,
                                      published: tuple[Path, str]) -> None:
    work, url = published
    git.run("commit", "--amend", "-q", "-m", "rewritten", cwd=work)
    stderr = refused(git, work, url, "--force", "main")
    assert "remote: refs/heads/main: non-fast-forward update refused" in stderr
    assert_clean(server, f"{ns}/app")


def test_dash_prefixed_ref_is_refused(server: Server, git: Git, ns: str,
                                      published: tuple[Path, str]) -> None:
    work, url = published
    stderr = refused(git, work, url, "main:refs/heads/-evil")
    assert "remote: refs/heads/-evil: refused ref name: a component starts with '-'" in stderr
    assert "-evil" not in server_refs(server, f"{ns}/app")


def test_only_branches_and_tags(server: Server, git: Git, ns: str,
                                published: tuple[Path, str]) -> None:
    work, url = published
    stderr = refused(git, work, url, "main:refs/notes/x")
    assert "only branches (refs/heads/) and tags (refs/tags/) can be pushed" in stderr


def test_branch_deletion_needs_admin(server: Server, git: Git, ns: str,
                                     published: tuple[Path, str]) -> None:
    work, url = published
    git.run("push", url, "main:refs/heads/topic", cwd=work)
    stderr = refused(git, work, url, ":refs/heads/topic")
    assert "remote: refs/heads/topic: only an admin may delete a branch" in stderr
    admin_url = server.auth_url(f"{ns}/app.git", server.token("admin", ns))
    git.run("push", admin_url, ":refs/heads/topic", cwd=work)
    assert "refs/heads/topic" not in server_refs(server, f"{ns}/app")
    assert_clean(server, f"{ns}/app")


def test_hook_runs_without_the_server(server: Server, git: Git, ns: str,
                                      published: tuple[Path, str], tmp_path: Path) -> None:
    """The installed hook validates on its own when no server relays it
    (a push through a local path, an operator's maintenance)."""
    work, _ = published
    repo = server.data_dir / "git" / ns / "app.git"
    git.commit(work, {"template.yaml": "heat_template_version: 2018-08-31\nresources: {a: 1}\n"},
               "bad")
    receive_pack = f"git -c core.hooksPath={server.data_dir / 'hooks'} receive-pack"
    proc = git.run("push", f"--receive-pack={receive_pack}", str(repo), "main", cwd=work,
                   check=False)
    assert proc.returncode != 0
    assert "template.yaml:2: resources.a must be a mapping" in proc.stderr


def test_other_tags_never_move_and_only_admins_delete_them(
        server: Server, git: Git, ns: str, published: tuple[Path, str]) -> None:
    work, url = published
    git.run("tag", "stable", cwd=work)
    git.run("push", url, "stable", cwd=work)
    git.commit(work, {"README.md": "more"}, "more")
    git.run("tag", "-f", "stable", cwd=work)
    stderr = refused(git, work, url, "main", "--force", "stable")
    assert "remote: refs/tags/stable: tags never move; create a new tag instead" in stderr
    # All or nothing: main did not move either.
    assert server_refs(server, f"{ns}/app").count(
        git.run("rev-parse", "main", cwd=work).stdout.strip()) == 0
    stderr = refused(git, work, url, ":refs/tags/stable")
    assert "remote: refs/tags/stable: only an admin may delete a tag" in stderr
    admin_url = server.auth_url(f"{ns}/app.git", server.token("admin", ns))
    git.run("push", admin_url, ":refs/tags/stable", cwd=work)
    assert_clean(server, f"{ns}/app")


def test_a_version_tag_in_the_same_push_as_its_commit(server: Server, git: Git, ns: str,
                                                      published: tuple[Path, str]) -> None:
    work, url = published
    git.commit(work, {"template.yaml": "heat_template_version: 2018-08-31\n"}, "broken")
    git.run("tag", "v2.0.0", cwd=work)
    stderr = refused(git, work, url, "v2.0.0")
    assert "remote: template.yaml:1: a template needs a resources or an outputs section" \
        in stderr
    assert "v2.0.0" not in server_refs(server, f"{ns}/app")


def test_a_ref_name_that_is_not_utf8_is_refused(server: Server, git: Git,
                                                published: tuple[Path, str]) -> None:
    work, url = published
    git.run("update-ref", "refs/heads/caf\xe9", "main", cwd=work)
    before = server_refs(server, url.rsplit("/", 2)[-2] + "/app")
    # The ref name as raw bytes: Latin-1 "é", which is not UTF-8.
    proc = subprocess.run([b"git", b"push", url.encode(), b"main:refs/heads/caf\xe9"],
                          cwd=work, capture_output=True, env=git_env(git.home), check=False,
                          timeout=60)
    assert proc.returncode != 0
    assert b"remote: refs/heads/caf\\xe9: refused ref name: is not valid UTF-8" in proc.stderr
    assert b"push refused: nothing was changed" in proc.stderr
    assert server_refs(server, url.rsplit("/", 2)[-2] + "/app") == before


@pytest.mark.parametrize("target", ["main^{tree}", "main:template.yaml"])
@pytest.mark.parametrize("annotated", [False, True])
def test_a_tag_of_a_tree_or_blob_is_refused(server: Server, git: Git, ns: str, tmp_path: Path,
                                            target: str, annotated: bool) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    oid = git.run("rev-parse", target, cwd=work).stdout.strip()
    git.run("tag", *(["-a", "-m", "x"] if annotated else []), "odd", oid, cwd=work)
    url = server.auth_url(f"{ns}/odd.git", server.token("writer", ns))
    stderr = refused(git, work, url, "refs/tags/odd")
    assert ("remote: refs/tags/odd: a tag must point at a commit (or be an annotated tag "
            "of one)") in stderr
    # The push was to create the repository: nothing of it is left.
    assert not (server.data_dir / "git" / ns / "odd.git").exists()


def test_a_file_over_the_size_limit_is_refused_unread(git: Git, ns: str,
                                                      tmp_path: Path) -> None:
    """A server of its own, with a low HEATER_MAX_BLOB_BYTES: a large file
    in a commit under the tip, removed again, is refused too."""
    limit = 100_000
    server = start_server(tmp_path / "data", tmp_path / "server.log", workers=1,
                          env={"HEATER_MAX_BLOB_BYTES": str(limit)})
    try:
        work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
        url = server.auth_url(f"{ns}/big.git", server.token("writer", ns))
        git.run("push", url, "main", cwd=work)
        git.commit(work, {"files/disk.img": b"\0" * (limit + 1)}, "too large")
        git.run("rm", "-q", "files/disk.img", cwd=work)
        git.commit(work, {"files/small.img": b"\0" * limit}, "at the limit")
        stderr = refused(git, work, url, "main")
        assert (f"remote: files/disk.img: {limit + 1} bytes, larger than the {limit}-byte "
                "limit for one file (setting max_blob_bytes, HEATER_MAX_BLOB_BYTES); templates "
                    "are text") in stderr
        assert "small.img" not in stderr
        assert "push refused: nothing was changed" in stderr
        assert_clean(server, f"{ns}/big")
        git.run("reset", "-q", "--hard", "HEAD~2", cwd=work)
        git.commit(work, {"files/small.img": b"\0" * limit}, "at the limit")
        git.run("push", url, "main", cwd=work)
    finally:
        stop_server(server)
