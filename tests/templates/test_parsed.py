"""The parse cache: documents by blob id, a fresh copy each time, bounded
in size in memory, large ones shared through the repository's directory;
and comparisons that reuse it answer as before."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from heater.diff import compare_commits
from heater.diff.getfile import FileRef
from heater.paths import parsed_dir
from heater.templates.parsed import MIN_SHARED_BYTES, PARSED, NewDocuments, ParseCache
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
    one = len(marshal.dumps(load_yaml(DOC, "t").data))
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


def large_document(resources: int = 1200) -> bytes:
    """A valid template past MIN_SHARED_BYTES."""
    body = "".join(f"  value_{i}:\n    type: OS::Heat::Value\n    properties: {{value: {i}}}\n"
                   for i in range(resources))
    content = f"heat_template_version: 2018-08-31\nresources:\n{body}".encode()
    assert len(content) >= MIN_SHARED_BYTES
    return content


BLOB_ID = "a" * 40


def other_bytes(content: bytes) -> bytes:
    """As long as ``content`` (so as large a blob), but YAML of nothing."""
    return b"#" * len(content)


def test_a_large_document_is_shared_through_the_repository_directory(tmp_path: Path) -> None:
    content = large_document()
    parsed = ParseCache().load(BLOB_ID, content, "t.yaml", tmp_path)
    assert (parsed_dir(tmp_path) / BLOB_ID).is_file()
    # Another process: its memory is empty, the file answers (the bytes are
    # not read again, as a blob id names one content).
    assert ParseCache().load(BLOB_ID, other_bytes(content), "t.yaml", tmp_path) == parsed


def test_a_small_document_stays_in_memory(tmp_path: Path) -> None:
    ParseCache().load(BLOB_ID, DOC, "t.yaml", tmp_path)
    assert not parsed_dir(tmp_path).exists()


@pytest.mark.parametrize("kept", [b"", b"heater-parsed 0 py2.7 m1\n{}",
                                  b"not a cache file at all"])
def test_a_broken_or_foreign_file_is_parsed_again_and_replaced(tmp_path: Path,
                                                               kept: bytes) -> None:
    content = large_document()
    parsed_dir(tmp_path).mkdir()
    (parsed_dir(tmp_path) / BLOB_ID).write_bytes(kept)
    assert ParseCache().load(BLOB_ID, content, "t.yaml", tmp_path) == \
        load_yaml(content, "t.yaml").data
    assert ParseCache().load(BLOB_ID, other_bytes(content), "t.yaml", tmp_path) == \
        load_yaml(content, "t.yaml").data


def test_a_truncated_file_is_parsed_again(tmp_path: Path) -> None:
    content = large_document()
    ParseCache().load(BLOB_ID, content, "t.yaml", tmp_path)
    kept = parsed_dir(tmp_path) / BLOB_ID
    kept.write_bytes(kept.read_bytes()[:-100])
    assert ParseCache().load(BLOB_ID, content, "t.yaml", tmp_path) == \
        load_yaml(content, "t.yaml").data


def test_a_directory_that_cannot_be_written_costs_only_the_parse(tmp_path: Path) -> None:
    parsed_dir(tmp_path).write_text("a file where the directory would be")
    content = large_document()
    assert ParseCache().load(BLOB_ID, content, "t.yaml", tmp_path) == \
        load_yaml(content, "t.yaml").data
    assert [p.name for p in tmp_path.iterdir()] == [parsed_dir(tmp_path).name]


def test_only_git_ids_name_files(tmp_path: Path) -> None:
    ParseCache().load("../../escape", large_document(), "t.yaml", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_new_documents_are_written_when_kept_and_never_over_a_kept_one(tmp_path: Path) -> None:
    documents = NewDocuments()
    documents.add(BLOB_ID, MIN_SHARED_BYTES, {"a": 1})
    documents.add("b" * 40, MIN_SHARED_BYTES - 1, {"b": 2})  # small: memory only
    assert not parsed_dir(tmp_path).exists()  # nothing before the push lands
    documents.keep(tmp_path)
    assert [p.name for p in parsed_dir(tmp_path).iterdir()] == [BLOB_ID]
    assert ParseCache().load(BLOB_ID, other_bytes(large_document()), "t.yaml",
                             tmp_path) == {"a": 1}
