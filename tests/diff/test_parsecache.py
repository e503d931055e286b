"""The parse cache of the diff: documents by blob id, a fresh copy each
time, bounded in size; and comparisons that reuse it answer as before."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from heater.diff import compare_commits
from heater.diff.getfile import FileRef
from heater.diff.parsecache import PARSED, ParseCache
from heater.templates.yamlload import YamlError, load_yaml
from tests.conftest import Git
from tests.diff.test_policy import History

DOC = b"""heat_template_version: 2018-08-31
resources:
  server: &server
    type: OS::Nova::Server
    properties: {flavor: m1.small, image: cirros, networks: [{network: private}]}
  again: *server
"""


def test_a_cached_document_equals_a_fresh_parse_and_is_a_copy_of_its_own() -> None:
    cache = ParseCache()
    first = cache.load("b1", DOC, "template.yaml")
    first["resources"]["server"]["type"] = "changed by the first caller"
    second = cache.load("b1", DOC, "template.yaml")
    assert second == load_yaml(DOC, "template.yaml").data
    # The alias still names one object, as PyYAML built it.
    assert second["resources"]["again"] is second["resources"]["server"]


def test_a_blob_id_is_parsed_once() -> None:
    cache = ParseCache()
    cache.load("b1", DOC, "template.yaml")
    # Same id, other bytes: a blob id names one content, so the bytes are not read again.
    assert cache.load("b1", b"{}", "template.yaml")["heat_template_version"] == "2018-08-31"


def test_broken_yaml_raises_every_time_naming_the_path_given() -> None:
    cache = ParseCache()
    with pytest.raises(YamlError, match=r"^a\.yaml:2: invalid YAML"):
        cache.load("b2", b"a: [", "a.yaml")
    with pytest.raises(YamlError, match=r"^b\.yaml:2: invalid YAML"):
        cache.load("b2", b"a: [", "b.yaml")


def test_the_least_recently_used_go_first_when_full() -> None:
    one = len(pickle.dumps(load_yaml(DOC, "t").data, protocol=pickle.HIGHEST_PROTOCOL))
    cache = ParseCache(max_bytes=2 * one)
    cache.load("b1", DOC, "t")
    cache.load("b2", DOC, "t")
    cache.load("b1", DOC, "t")  # b1 used last: b2 goes when b3 comes
    cache.load("b3", DOC, "t")
    assert cache.load("b1", b"{}", "t") != {}
    assert cache.load("b2", b"{}", "t") == {}


def test_an_escaped_get_file_key_is_still_an_included_file(git: Git, tmp_path: Path) -> None:
    # "get\x5ffile" is get_file: the diff must see it though the bytes lack the name.
    template = ('heat_template_version: 2018-08-31\nresources:\n  config:\n'
                '    type: OS::Heat::SoftwareConfig\n'
                '    properties: {config: {"get\\x5ffile": run.sh}}\n')
    repo = History(git, tmp_path / "repo", {"template.yaml": template, "run.sh": "a\n"})
    old = repo.at("HEAD")
    new = repo.commit({"template.yaml": template + "description: changed\n",
                       "run.sh": "b\n"})
    PARSED.clear()
    for _ in range(2):  # parsed, then from the cache: the same answer
        comparison = compare_commits(repo.repo, old, new)
        [summary] = comparison.files
        config = [e for e in summary.entries if e.section == "resources"]
        assert [e.path for e in config] == [("resources", "config", "properties", "config")]
        [detail] = config[0].changes
        assert isinstance(detail.after, FileRef) and detail.after.path == "run.sh"
