"""Building the ``POST /stacks`` body from a tree: python-heatclient (reading
the same files through a stand-in for ``urlopen``) is the oracle; then what
heatclient cannot do and a bundle refuses."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pygit2
import pytest
from heatclient.common import template_utils
from oslo_serialization import jsonutils

from heater.errors import status_of
from heater.templates.bundle import (
    BundleTooLarge,
    Limits,
    Unbundlable,
    build_bundle,
    deep_update,
    parse_template,
)
from tests.conftest import Git

PREFIX = "http://heater.test/acme/web/raw/0123abcd/"
HOT = "heat_template_version: 2018-08-31\n"
DEFAULT_LIMITS = Limits()


def tree_of(git: Git, tmp_path: Path, files: dict[str, str | bytes]) -> pygit2.Repository:
    return pygit2.Repository(str(git.worktree(tmp_path / "repo", files)))


def bundle(repo: pygit2.Repository, environments: tuple[str, ...] = (),
           limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    tree = repo.head.peel(pygit2.Commit).tree
    return build_bundle(repo, tree, PREFIX, "template.yaml", environments, limits)


def heatclient(repo: pygit2.Repository, environments: tuple[str, ...],
               monkeypatch: pytest.MonkeyPatch) -> Any:
    """What heatclient posts for the same files, served from ``repo``."""
    tree = repo.head.peel(pygit2.Commit).tree

    def urlopen(url: str) -> io.BytesIO:
        blob = tree[url.removeprefix(PREFIX)]
        assert isinstance(blob, pygit2.Blob)
        return io.BytesIO(blob.data)

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    return heatclient_body(PREFIX, environments)


def heatclient_body(base: str, environments: Sequence[str]) -> Any:
    """What ``openstack stack create -t <base>template.yaml -e <base><env>...``
    posts, as Heat receives it (through heatclient's own JSON)."""
    files, template = template_utils.get_template_contents(template_url=base + "template.yaml")
    tracker: list[str] = []
    env_files, env = template_utils.process_multiple_environments_and_files(
        env_paths=[base + path for path in environments], env_list_tracker=tracker)
    body = {"template": template, "files": {**files, **env_files}, "environment": env}
    if tracker:
        body["environment_files"] = tracker
    return json.loads(jsonutils.dumps(body))


CASES: dict[str, tuple[dict[str, str | bytes], tuple[str, ...]]] = {
    "types ending in .template, in groups, and reached twice": ({
        "template.yaml": HOT + "resources:\n"
        "  a: {type: a.template}\n"
        "  b: {type: sub/b.yaml}\n"
        "  group:\n    type: OS::Heat::ResourceGroup\n"
        "    properties: {resource_def: {type: sub/b.yaml}}\n",
        "a.template": HOT + "resources:\n  x: {type: sub/b.yaml}\n",
        "sub/b.yaml": HOT + "outputs:\n  o: {value: {get_file: ../data/o.txt}}\n",
        "data/o.txt": "o\n",
    }, ()),
    "get_file of a template, of JSON, of YAML that is no template": ({
        "template.yaml": HOT + "outputs:\n"
        "  t: {value: {get_file: t.yaml}}\n"
        "  j: {value: {get_file: j.json}}\n"
        "  y: {value: {get_file: plain.yaml}}\n"
        "  empty: {value: {get_file: empty.txt}}\n"
        "  dated: {value: {get_file: quoted.txt}}\n",
        "t.yaml": HOT + "description: 2020-01-01\n",
        "j.json": '  {"heat_template_version": "2016-10-14", "outputs": {"a": {"value": 1}}}',
        "plain.yaml": "a: 1\nb: [2, 3]\n",
        "empty.txt": "",
        "quoted.txt": "this mentions heat_template_version in passing\n",
    }, ()),
    "environments: base_url, per-resource mappings, merging": ({
        "template.yaml": HOT + "resources:\n  a: {type: My::A}\n  b: {type: My::B}\n",
        "env/one.yaml": "resource_registry:\n"
        "  My::A: ../lib/a.yaml\n"
        "  OS::Custom: OS::Heat::None\n"
        "  resources:\n"
        "    b:\n      My::B: b.yaml\n      base_url: " + PREFIX + "lib/\n"
        "      hooks: [pre-create]\n"
        "parameter_defaults: {x: 1, deep: {a: 1, b: 2}}\n",
        "env/two.yaml": "resource_registry:\n  base_url: " + PREFIX + "lib\n"
        "  My::C: c.yaml\n"
        "parameter_defaults: {deep: {b: 3}, y: null}\n",
        "lib/a.yaml": HOT + "outputs:\n  o: {value: {get_file: a.sh}}\n",
        "lib/a.sh": "echo a\n", "lib/b.yaml": HOT, "lib/c.yaml": HOT,
    }, ("env/one.yaml", "env/two.yaml")),
}


@pytest.mark.parametrize("name", CASES)
def test_the_body_is_what_heatclient_posts(name: str, git: Git, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    files, environments = CASES[name]
    repo = tree_of(git, tmp_path, files)
    ours = json.loads(json.dumps(bundle(repo, environments)))
    assert ours == heatclient(repo, environments, monkeypatch)


def test_files_not_utf8_are_base64_lines(git: Git, tmp_path: Path) -> None:
    data = bytes(range(256))
    repo = tree_of(git, tmp_path, {
        "template.yaml": HOT + "outputs:\n  o: {value: {get_file: blob.bin}}\n",
        "blob.bin": data})
    text = bundle(repo)["files"][PREFIX + "blob.bin"]
    assert text.count("\n") == 5 and "".join(text.split())[:8] == "AAECAwQF"


def test_a_template_that_nests_itself_is_refused(git: Git, tmp_path: Path) -> None:
    repo = tree_of(git, tmp_path, {
        "template.yaml": HOT + "resources:\n  a: {type: a.yaml}\n",
        "a.yaml": HOT + "resources:\n  b: {type: b/b.yaml}\n",
        "b/b.yaml": HOT + "resources:\n  a: {type: ../a.yaml}\n"})
    with pytest.raises(Unbundlable) as refused:
        bundle(repo)
    assert refused.value.reason.startswith(
        f"nests itself ({PREFIX}a.yaml -> {PREFIX}b/b.yaml -> {PREFIX}a.yaml)")
    assert refused.value.code == "unbundlable_template" and status_of(refused.value) == 400


@pytest.mark.parametrize("target", ["../../other/x.sh", "/etc/passwd", "file:///etc/passwd",
                                    "http://example.com/x.sh"])
def test_references_outside_the_commit_are_refused(target: str, git: Git,
                                                   tmp_path: Path) -> None:
    repo = tree_of(git, tmp_path, {
        "template.yaml": HOT + f"outputs:\n  o: {{value: {{get_file: '{target}'}}}}\n"})
    with pytest.raises(Unbundlable, match="is outside the repository at this commit"):
        bundle(repo)


def test_limits_are_checked_before_reading(git: Git, tmp_path: Path) -> None:
    template = HOT + "outputs:\n" + "".join(
        f"  o{i}: {{value: {{get_file: f{i}.txt}}}}\n" for i in range(3))
    repo = tree_of(git, tmp_path, {"template.yaml": template,
                                   **{f"f{i}.txt": "x" * 100 for i in range(3)}})
    assert len(bundle(repo, limits=Limits(files=4))["files"]) == 3
    with pytest.raises(BundleTooLarge, match="more than 3 files") as refused:
        bundle(repo, limits=Limits(files=3))
    assert status_of(refused.value) == 413
    limit = len(template) + 250  # room for two of the three files
    assert len(bundle(repo, limits=Limits(bytes=limit + 50))["files"]) == 3
    with pytest.raises(BundleTooLarge, match=f"more than {limit} bytes"):
        bundle(repo, limits=Limits(bytes=limit))


def test_heatclient_parsing_quirks() -> None:
    assert parse_template("  \n" + HOT) == {"heat_template_version": "2018-08-31"}
    assert parse_template('"heat_template_version is a substring"') is not None
    assert parse_template("a: 1\n") is None
    assert parse_template("{not json") is None
    assert parse_template("[heat_template_version]") == ["heat_template_version"]
    assert parse_template("42") is None


def test_deep_update_keeps_mappings_a_null_would_erase() -> None:
    merged = deep_update({"a": {"x": 1}, "b": 1}, {"a": None, "b": None, "c": {"d": 2}})
    assert merged == {"a": {"x": 1}, "b": None, "c": {"d": 2}}
