"""Files included with ``get_file``: a changed file is a changed property
of every resource that includes it, in every template, with its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heater.diff import VersionBumpTooSmall, check_version_bump, compare_commits
from heater.diff.compare import Comparison
from heater.diff.getfile import FileRef, include_files
from heater.diff.semantic import Entry
from heater.diff.verdict import Impact
from tests.conftest import Git
from tests.diff.test_policy import ENFORCE, History

DB_SERVER = """heat_template_version: 2018-08-31
resources:
  db:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: m1.small
      user_data: {get_file: scripts/db_init.sh}
      user_data_format: RAW
    metadata:
      user_data: {get_file: scripts/motd.txt}
  web:
    type: nested/web.yaml
outputs:
  motd:
    value: {get_file: scripts/motd.txt}
"""
# A nested template in its own folder: its get_file targets are relative to it.
WEB = """heat_template_version: 2018-08-31
resources:
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      config:
        str_replace:
          template: {get_file: ../scripts/web.sh}
          params: {$PORT: 8080}
  other:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: ../scripts/db_init.sh}
  lb:
    type: OS::Octavia::LoadBalancer
    properties:
      vip_subnet: private
      description: {get_file: ../scripts/motd.txt}
"""
FILES: dict[str, str | bytes] = {
    "template.yaml": DB_SERVER, "nested/web.yaml": WEB,
    "scripts/db_init.sh": "#!/bin/sh\ncreatedb app\n",
    "scripts/web.sh": "#!/bin/sh\nserve $PORT\n",
    "scripts/motd.txt": "hello\n",
}


@pytest.fixture
def repo(git: Git, tmp_path: Path) -> History:
    return History(git, tmp_path / "repo", FILES)


def change(repo: History, files: dict[str, str | bytes],
           remove: tuple[str, ...] = ()) -> Comparison:
    old = repo.at("HEAD")
    return compare_commits(repo.repo, old, repo.commit(files, remove=remove))


def entries(comparison: Comparison) -> dict[tuple[str, tuple[object, ...]], Entry]:
    return {(f.path, e.path): e for f in comparison.files for e in f.entries}


def test_a_changed_user_data_script_replaces_the_server(repo: History) -> None:
    comparison = change(repo, {"scripts/db_init.sh": "#!/bin/sh\ncreatedb app2\n"})
    assert comparison.verdict is Impact.MAJOR
    found = entries(comparison)
    assert set(found) == {("template.yaml", ("resources", "db", "properties", "user_data")),
                          ("nested/web.yaml", ("resources", "other", "properties", "config"))}
    server = found["template.yaml", ("resources", "db", "properties", "user_data")]
    assert (server.section, server.name, server.change, server.impact) == (
        "resources", "db", "replaced", Impact.MAJOR)
    assert server.reason.startswith("via get_file scripts/db_init.sh, whose content changed: "
                                    "Heat replaces the server")
    [detail] = server.as_json()["changes"]
    assert detail["path"] == ["resources", "db", "properties", "user_data"]
    assert detail["before"]["get_file"] == detail["after"]["get_file"] == "scripts/db_init.sh"
    assert detail["before"]["blob"] != detail["after"]["blob"]
    config = found["nested/web.yaml", ("resources", "other", "properties", "config")]
    assert config.change == "replaced" and "software configs are immutable" in config.reason
    roles = {f.path: (f.old_path, f.role) for f in comparison.files}
    assert roles == {"template.yaml": ("template.yaml", "entrypoint"),
                     "nested/web.yaml": ("nested/web.yaml", "nested")}
    assert comparison.reasons(Impact.MAJOR)[0] == (
        "template.yaml: resources/db/properties/user_data replaced: via get_file "
        "scripts/db_init.sh, whose content changed: Heat replaces the server "
        "(user_data_update_policy is REPLACE, Heat's default): a new server, and what the "
        "old one held is lost")


def test_nested_include_deep_in_a_property(repo: History) -> None:
    comparison = change(repo, {"scripts/web.sh": "#!/bin/sh\nserve --port $PORT\n"})
    [summary] = comparison.files
    [entry] = summary.entries
    assert (summary.path, entry.path, entry.change, entry.impact) == (
        "nested/web.yaml", ("resources", "config", "properties", "config"), "replaced",
        Impact.MAJOR)
    assert "via get_file scripts/web.sh" in entry.reason
    assert entry.as_json()["changed_paths"] == [["str_replace", "template"]]


def test_a_property_heat_updates_in_place_is_a_patch(repo: History) -> None:
    comparison = change(repo, {"scripts/motd.txt": "welcome\n"})
    found = entries(comparison)
    lb = found["nested/web.yaml", ("resources", "lb", "properties", "description")]
    assert (lb.change, lb.impact) == ("changed", Impact.PATCH)
    assert lb.reason == ("via get_file scripts/motd.txt, whose content changed: "
                         "Heat updates the resource in place")
    # Metadata is not a property, even under a property's name.
    metadata = found["template.yaml", ("resources", "db", "metadata", "user_data")]
    assert (metadata.change, metadata.impact) == ("changed", Impact.PATCH)
    motd = found["template.yaml", ("outputs", "motd")]
    assert (motd.change, motd.impact) == ("changed", Impact.PATCH)
    assert motd.reason == "output changed (via get_file scripts/motd.txt)"
    assert comparison.verdict is Impact.PATCH


def test_ignore_policy_makes_user_data_an_update(repo: History) -> None:
    repo.commit({"template.yaml": DB_SERVER.replace(
        "user_data_format: RAW", "user_data_format: RAW\n      user_data_update_policy: IGNORE")})
    comparison = change(repo, {"scripts/db_init.sh": "#!/bin/sh\n"})
    found = entries(comparison)
    entry = found["template.yaml", ("resources", "db", "properties", "user_data")]
    assert (entry.change, entry.impact) == ("changed", Impact.PATCH)


def test_a_removed_target_breaks_every_includer(repo: History) -> None:
    comparison = change(repo, {}, remove=("scripts/motd.txt",))
    assert comparison.verdict is Impact.MAJOR
    found = entries(comparison)
    lb = found["nested/web.yaml", ("resources", "lb", "properties", "description")]
    assert lb.impact is Impact.MAJOR and "scripts/motd.txt, which is gone" in lb.reason
    assert lb.as_json()["changes"][0]["after"]["blob"] is None
    assert ("template.yaml", ("outputs", "motd")) in found


def test_renamed_targets(repo: History) -> None:
    # Moved, the reference moved with it: Heat sees the same content.
    moved = DB_SERVER.replace("scripts/db_init.sh", "scripts/db.sh")
    repo.git.run("mv", "scripts/db_init.sh", "scripts/db.sh", cwd=repo.path)
    comparison = change(repo, {"template.yaml": moved,
                               "nested/web.yaml": WEB.replace("db_init.sh", "db.sh")})
    assert comparison.verdict is Impact.PATCH
    assert [e for f in comparison.files for e in f.entries] == []
    # Moved away from under an unchanged reference: as good as gone.
    repo.git.run("mv", "scripts/web.sh", "scripts/www.sh", cwd=repo.path)
    comparison = change(repo, {})
    [entry] = [e for f in comparison.files for e in f.entries]
    assert entry.impact is Impact.MAJOR and "scripts/web.sh, which is gone" in entry.reason
    # Moved, the reference too, and the content changed: a change of the property.
    repo.git.run("mv", "scripts/db.sh", "scripts/init.sh", cwd=repo.path)
    comparison = change(repo, {"template.yaml": moved.replace("db.sh", "init.sh"),
                               "scripts/init.sh": "#!/bin/sh\ncreatedb other\n"})
    entry = entries(comparison)["template.yaml", ("resources", "db", "properties",
                                                  "user_data")]
    assert entry.change == "replaced" and "via get_file scripts/init.sh" in entry.reason


def test_template_and_included_file_changed_together(repo: History) -> None:
    comparison = change(repo, {"template.yaml": DB_SERVER.replace("m1.small", "m1.large"),
                               "scripts/db_init.sh": "#!/bin/sh\n"})
    found = entries(comparison)
    written = found["template.yaml", ("resources", "db")]
    assert (written.change, written.impact) == ("changed", Impact.PATCH)
    assert written.as_json()["changed_paths"] == [["properties", "flavor"]]
    assert found["template.yaml", ("resources", "db", "properties", "user_data")].impact \
        is Impact.MAJOR


def test_policy_refuses_a_patch_release_of_a_new_user_data(repo: History) -> None:
    repo.commit({"heater.yaml": ENFORCE}, tag="v1.0.0")
    new = repo.commit({"scripts/db_init.sh": "#!/bin/sh\ndropdb app\n"})
    with pytest.raises(VersionBumpTooSmall) as caught:
        check_version_bump(repo.repo, "1.0.1", new)
    assert (caught.value.check.required, caught.value.check.bump) == (Impact.MAJOR,
                                                                      Impact.PATCH)
    assert any(r.startswith("template.yaml: resources/db/properties/user_data replaced: "
                            "via get_file scripts/db_init.sh") for r in caught.value.reasons)
    passed = check_version_bump(repo.repo, "2.0.0", new)
    assert passed is not None and passed.sufficient


def test_file_refs_compare_by_content() -> None:
    assert FileRef("a.sh", "a.sh", "1" * 40) == FileRef("../b.sh", "b.sh", "1" * 40)
    assert FileRef("a.sh", "a.sh", "1" * 40) != FileRef("a.sh", "a.sh", None)
    assert FileRef("a.sh", "a.sh", None) != FileRef("b.sh", "b.sh", None)
    doc: dict[str, Any] = {"heat_template_version": "2018-08-31", "resources": {"r": {
        "type": "OS::Heat::Value", "properties": {"value": [
            {"get_file": "x.sh"}, {"get_file": "http://example.com/x"},
            {"get_file": "../../outside"}]}}}}
    include_files(doc, "sub/t.yaml", lambda path: None if path != "sub/x.sh" else "2" * 40)
    assert doc["resources"]["r"]["properties"]["value"] == [
        FileRef("x.sh", "sub/x.sh", "2" * 40), {"get_file": "http://example.com/x"},
        {"get_file": "../../outside"}]


def test_unrelated_changes_read_no_includers(repo: History) -> None:
    comparison = change(repo, {"README.md": "hi\n"})
    assert comparison.files == [] and comparison.verdict is Impact.PATCH
