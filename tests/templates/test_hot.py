"""Reading HOT documents: sections and the files they refer to."""

from __future__ import annotations

from pathlib import Path

import pytest

from heater.templates.hot import (
    KNOWN_VERSIONS,
    FileKind,
    Template,
    classify,
    references,
    resolve_relative,
)
from heater.templates.yamlload import load_yaml
from tests.conftest import CORPUS


def test_every_corpus_template_parses_and_its_local_references_exist() -> None:
    root = CORPUS / "heat-templates" / "hot"
    seen = 0
    for path in sorted(root.rglob("*.yaml")):
        rel = str(path.relative_to(root))
        data = load_yaml(path.read_bytes(), rel).data
        if classify(data) is FileKind.TEMPLATE:
            seen += 1
            assert Template.from_data(data).version in KNOWN_VERSIONS, rel
        for ref in references(data, rel):
            if not ref.remote:
                assert ref.resolved is not None and (root / ref.resolved).is_file(), (rel, ref)
    assert seen >= 50


def test_references_resolve_like_heat() -> None:
    data = {
        "heat_template_version": "2018-08-31",
        "resources": {
            "cfg": {"type": "OS::Heat::SoftwareConfig",
                    "properties": {"config": {"get_file": "../scripts/init.sh"}}},
            "nested": {"type": "lib/server.yaml"},
            "remote": {"type": "https://example.com/x.yaml"},
            "native": {"type": "OS::Nova::Server"},
        },
    }
    refs = {r.target: r for r in references(data, "stacks/app.yaml")}
    assert refs["../scripts/init.sh"].resolved == "scripts/init.sh"
    assert refs["../scripts/init.sh"].keys == (
        "resources", "cfg", "properties", "config", "get_file")
    assert refs["lib/server.yaml"].resolved == "stacks/lib/server.yaml"
    assert refs["https://example.com/x.yaml"].remote
    assert "OS::Nova::Server" not in refs


@pytest.mark.parametrize("base, target, expected", [
    ("template.yaml", "files/a.sh", "files/a.sh"),
    ("a/b.yaml", "../c.yaml", "c.yaml"),
    ("template.yaml", "../escape.sh", None),
    ("template.yaml", "/etc/passwd", None),
])
def test_resolve_relative(base: str, target: str, expected: str | None) -> None:
    assert resolve_relative(base, target) == expected


def test_environment_registry_references(tmp_path: Path) -> None:
    env = {"resource_registry": {"My::Server": "server.yaml",
                                 "resources": {"web": {"OS::Nova::Server": "lib/s.yaml"}}},
           "parameters": {"key": "x"}}
    assert classify(env) is FileKind.ENVIRONMENT
    assert sorted(r.resolved or "" for r in references(env, "env/prod.yaml")) == [
        "env/lib/s.yaml", "env/server.yaml"]
    assert classify({"foo": 1}) is FileKind.OTHER


GROUPS = {
    "heat_template_version": "2018-08-31",
    "parameters": {"size": {"type": "number"}},
    "resources": {
        "asg": {"type": "OS::Heat::AutoScalingGroup",
                "properties": {"resource": {"type": "nested/lb-server.yaml"}}},
        "group": {"type": "OS::Heat::ResourceGroup",
                  "properties": {"resource_def": {"type": "group/member.template"}}},
        "native": {"type": "OS::Heat::ResourceGroup",
                   "properties": {"resource_def": {"type": "OS::Nova::Server"}}},
    },
    "outputs": {"x": {"type": "not-a-file.yaml"}},
}


def test_nested_templates_inside_groups_are_references() -> None:
    refs = [r for r in references(GROUPS, "template.yaml") if r.kind == "type"]
    assert [(r.keys, r.resolved) for r in refs] == [
        (("resources", "asg", "properties", "resource", "type"), "nested/lb-server.yaml"),
        (("resources", "group", "properties", "resource_def", "type"),
         "group/member.template"),
    ]
