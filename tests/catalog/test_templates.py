"""Catalog metadata of a template tree (unit tests on real git trees)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pygit2
import pytest

from heater.catalog.templates import read_metadata
from heater.templates.validation import MappingSource, findings
from tests.conftest import CORPUS, HELLO_WORLD, Git


def tree(git: Git, path: Path, files: Mapping[str, str | bytes]) -> pygit2.Tree:
    work = git.worktree(path, files)
    commit = pygit2.Repository(str(work)).head.peel(pygit2.Commit)
    assert isinstance(commit, pygit2.Commit)
    return commit.tree


FULL = """heat_template_version: 2018-08-31
description: From the template
parameter_groups:
  - label: Server
    parameters: [image, flavor]
parameters:
  image:
    type: string
    label: Image
    description: Image to boot
    constraints:
      - custom_constraint: glance.image
  flavor:
    type: string
    default: m1.small
    constraints:
      - allowed_values: [m1.small, m1.large]
  password:
    type: string
    hidden: true
  when:
    type: string
    default: 2024-01-01
resources:
  server:
    type: OS::Nova::Server
    properties: {flavor: m1.small}
  port:
    type: OS::Neutron::Port
    properties: {network: private}
  other:
    type: OS::Nova::Server
    properties: {flavor: m1.small}
outputs:
  ip:
    description: The address
    value: {get_attr: [server, first_address]}
"""


def test_template_and_manifest_merge(git: Git, tmp_path: Path) -> None:
    manifest = """description: From heater.yaml
keywords: [Web, web, " nginx "]
metadata: {owner: team-a, tier: 3, public: true}
icon: https://example.com/icon.png
maintainers:
  - alice
  - {name: Bob, email: bob@example.com, phone: "123"}
"""
    meta = read_metadata(tree(git, tmp_path / "w", {"template.yaml": FULL,
                                                    "heater.yaml": manifest}))
    assert meta.problems == []
    assert meta.description == "From heater.yaml"
    assert meta.heat_template_version == "2018-08-31"
    assert meta.keywords == ["web", "nginx"]
    assert meta.metadata == {"owner": "team-a", "tier": "3", "public": "true"}
    assert meta.icon == "https://example.com/icon.png"
    assert meta.maintainers == [{"name": "alice"}, {"name": "Bob", "email": "bob@example.com"}]
    assert [p["name"] for p in meta.parameters] == ["image", "flavor", "password", "when"]
    image, flavor, password, when = meta.parameters
    assert image == {"name": "image", "type": "string", "description": "Image to boot",
                     "label": "Image", "default": None, "hidden": False,
                     "constraints": [{"custom_constraint": "glance.image"}]}
    assert flavor["default"] == "m1.small"
    assert flavor["constraints"] == [{"allowed_values": ["m1.small", "m1.large"]}]
    assert password["hidden"] is True
    assert when["default"] == "2024-01-01"  # dates stay text, as Heat reads them
    assert meta.parameter_groups == [{"label": "Server", "parameters": ["image", "flavor"]}]
    assert meta.resource_types == ["OS::Neutron::Port", "OS::Nova::Server"]
    assert meta.outputs == [{"name": "ip", "description": "The address"}]
    assert set(meta.search_text()) >= {"team-a", "image", "password", "OS::Nova::Server"}
    json.dumps(meta.as_json())


@pytest.mark.parametrize(("icon", "shown"), [
    ("icons/logo.png", True), ("http://example.com/i.png", True),
    ("javascript:alert(document.cookie)", False), ("data:text/html,<script>", False)])
def test_only_safe_icons_are_shown(git: Git, tmp_path: Path, icon: str, shown: bool) -> None:
    """An icon pushed before icons were checked is left out, with a problem."""
    meta = read_metadata(tree(git, tmp_path / "w", {"template.yaml": FULL,
                                                    "heater.yaml": f"icon: '{icon}'\n"}))
    assert meta.icon == (icon if shown else None)
    assert bool(meta.problems) is not shown


def test_entrypoint_from_manifest(git: Git, tmp_path: Path) -> None:
    meta = read_metadata(tree(git, tmp_path / "w", {
        "heater.yaml": "entrypoint: hot/main.yaml\n", "hot/main.yaml": HELLO_WORLD}))
    assert meta.entrypoint == "hot/main.yaml"
    assert meta.description == "A single server"
    assert meta.problems == []


@pytest.mark.parametrize("files, problem", [
    ({"README.md": "hi"}, "template.yaml: no such file"),
    ({"template.yaml": "a: [unclosed"}, "invalid YAML"),
    ({"template.yaml": HELLO_WORLD, "heater.yaml": "entrypoint: ../x.yaml\n"}, "entrypoint"),
    ({"template.yaml": HELLO_WORLD, "heater.yaml": "keywords: web\n"}, "keywords"),
])
def test_broken_repositories_are_described_not_fatal(
        git: Git, tmp_path: Path, files: dict[str, str], problem: str) -> None:
    meta = read_metadata(tree(git, tmp_path / "w", files))
    assert any(problem in p for p in meta.problems), meta.problems


def test_odd_yaml_values_become_json(git: Git, tmp_path: Path) -> None:
    template = """heat_template_version: 2018-08-31
parameters:
  blob: {type: string, default: !!binary aGVsbG8=}
  many: {type: json, default: !!set {a, b}}
  big: {type: number, default: .inf}
  weird: {type: json, default: {1: x}}
resources: {}
"""
    meta = read_metadata(tree(git, tmp_path / "w", {"template.yaml": template}))
    defaults = {p["name"]: p["default"] for p in meta.parameters}
    assert defaults == {"blob": "aGVsbG8=", "many": ["a", "b"], "big": "inf",
                        "weird": {"1": "x"}}
    json.dumps(meta.as_json(), allow_nan=False)


def test_empty_repository() -> None:
    meta = read_metadata(None)
    assert meta.description == "" and meta.parameters == [] and meta.problems == []


def test_every_corpus_template(tmp_path: Path) -> None:
    hot = CORPUS / "heat-templates" / "hot"
    templates = [p for p in sorted(hot.rglob("*.yaml"))
                 if b"heat_template_version" in p.read_bytes()]  # not environments
    assert len(templates) > 40
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    # The whole directory, as its templates refer to each other and to files.
    index = pygit2.Index()
    for path in sorted(hot.rglob("*")):
        if path.is_file():
            index.add(pygit2.IndexEntry(str(path.relative_to(hot)),
                                        repo.create_blob(path.read_bytes()),
                                        pygit2.enums.FileMode.BLOB))
    for path in templates:
        manifest = f"entrypoint: {path.relative_to(hot)}\n".encode()
        index.add(pygit2.IndexEntry("heater.yaml", repo.create_blob(manifest),
                                    pygit2.enums.FileMode.BLOB))
        source = repo.get(index.write_tree(repo))
        assert isinstance(source, pygit2.Tree)
        meta = read_metadata(source)
        # Only what Heat's checks warn about (hidden and plugin types...).
        errors = [p for p in meta.problems if ": warning: " not in p]
        assert errors == [], (path, meta.problems)
        assert meta.heat_template_version and meta.resource_types, path
        json.dumps(meta.as_json(), allow_nan=False)
        # The index reads without the checks: the same but for their problems.
        unchecked = read_metadata(source, checks=False)
        assert unchecked.problems == [], (path, unchecked.problems)
        assert {**unchecked.as_json(), "problems": meta.problems} == meta.as_json(), path
        assert unchecked.nested_resource_types == meta.nested_resource_types, path


def nesting(group_type: str, prop: str, target: str) -> str:
    """HELLO_WORLD with a group resource nesting the template ``target``."""
    # An autoscaling group's sizes are required (Heat refuses it without).
    sizes = "\n      min_size: 1\n      max_size: 2" if "AutoScaling" in group_type else ""
    return HELLO_WORLD.replace("resources:\n", f"""resources:
  group:
    type: {group_type}
    properties:{sizes}
      {prop}:
        type: {target}
""", 1)


def test_missing_nested_templates_are_problems(git: Git, tmp_path: Path) -> None:
    template = nesting("OS::Heat::AutoScalingGroup", "resource", "nested/lb-server.yaml")
    meta = read_metadata(tree(git, tmp_path / "w", {"template.yaml": template}))
    assert meta.problems == ["template.yaml:14: nested template 'nested/lb-server.yaml' "
                             "does not exist (no file nested/lb-server.yaml in this tree)"]


def test_nested_templates_resource_types_are_searched(git: Git, tmp_path: Path) -> None:
    group = nesting("OS::Heat::ResourceGroup", "resource_def", "nested/volume.yaml")
    volume = """heat_template_version: 2018-08-31
resources:
  volume:
    type: OS::Cinder::Volume
  deeper:
    type: ../nested/attach.yaml
  loop:
    type: volume.yaml
"""
    attach = """heat_template_version: 2018-08-31
resources:
  attachment:
    type: OS::Cinder::VolumeAttachment
  broken:
    type: missing.yaml
"""
    meta = read_metadata(tree(git, tmp_path / "w", {
        "template.yaml": group, "nested/volume.yaml": volume, "nested/attach.yaml": attach}))
    # Shown: the entry point's own types; searched: the nested ones too.
    assert "OS::Cinder::Volume" not in meta.resource_types
    assert meta.nested_resource_types == ["OS::Cinder::Volume", "OS::Cinder::VolumeAttachment"]
    assert "OS::Cinder::VolumeAttachment" in meta.search_text()


def test_problems_are_what_the_push_showed(git: Git, tmp_path: Path) -> None:
    # Warnings of the nested templates too, with heater.yaml's lowered rules
    # and the environments' mappings read as a push reads them.
    template = HELLO_WORLD.replace("resources:\n", "resources:\n"
                                   "  alarm:\n    type: OS::Acme::Alarm\n"
                                   "  mapped:\n    type: My::Mapped\n"
                                   "  extra:\n    type: nested/extra.yaml\n", 1)
    nested = ("heat_template_version: 2018-08-31\nresources:\n"
              "  ip:\n    type: OS::Nova::FloatingIP\n  s:\n    type: OS::Nova::Server\n")
    files = {"template.yaml": template, "nested/extra.yaml": nested,
             "env/prod.yaml": "resource_registry:\n  My::Mapped: ../nested/extra.yaml\n",
             "heater.yaml": "validation:\n  warn: [missing-property]\n"}
    meta = read_metadata(tree(git, tmp_path / "w", files))
    pushed = findings(MappingSource({k: v.encode() for k, v in files.items()}))
    assert sorted(meta.problems) == sorted(str(p) for p in pushed)
    assert meta.problems == [
        "template.yaml:9: warning: resource alarm: type 'OS::Acme::Alarm' is neither a Heat "
        "resource type, a nested template, nor mapped in an environment's resource_registry "
        "(did you mean 'OS::Aodh::Alarm'?) [unknown-plugin-type]",
        "nested/extra.yaml:4: warning: resource ip: OS::Nova::FloatingIP is hidden; use "
        "OS::Neutron::FloatingIP (Please use OS::Neutron::FloatingIP instead.) "
        "[deprecated-type]",
        "nested/extra.yaml:5: warning: resource s: missing required property 'flavor' "
        "[missing-property]"]
