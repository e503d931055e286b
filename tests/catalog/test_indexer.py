"""Filling the index from repositories: rebuilds, races, per-kind extractors."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pygit2
import pytest

from heater.catalog import indexer, sqlite
from heater.catalog.index import Entry, Query, ReadScope, listing_document
from heater.catalog.indexer import Catalog, KindDocument
from heater.catalog.sqlite import SqliteIndex
from heater.names import RepoId
from heater.paths import Layout
from heater.repos.store import Kind, RepoInfo, RepositoryStore, Visibility
from tests.catalog_support import record_lifecycle
from tests.conftest import HELLO_WORLD


def commit(store: RepositoryStore, repo: RepoId, files: dict[str, str],
           tag: str | None = None, when: int = 1_700_000_000) -> str:
    git = pygit2.Repository(str(store.path(repo)))
    builder = git.TreeBuilder()
    for name, text in files.items():
        builder.insert(name, git.create_blob(text.encode()), pygit2.GIT_FILEMODE_BLOB)
    parents = [git.head.target] if not git.head_is_unborn else []
    author = pygit2.Signature("A", "a@example.com", when, 0)
    sha = git.create_commit("refs/heads/main", author, author, "c\n", builder.write(), parents)
    if tag:
        git.create_tag(tag, sha, pygit2.enums.ObjectType.COMMIT, author, "release\n")
    return str(sha)


@pytest.fixture
def store(tmp_path: Path) -> RepositoryStore:
    return RepositoryStore(Layout(tmp_path / "data"))


def catalog_of(store: RepositoryStore, name: str = "index.sqlite",
               **kwargs: object) -> Catalog:
    return Catalog(store, SqliteIndex(store.layout.root / name), **kwargs)  # type: ignore[arg-type]


def everything(catalog: Catalog, kind: str = "template") -> list[Entry]:
    """Every entry of ``kind`` in full, checking that listings show each as
    :func:`listing_document` says."""
    entries = []
    for listed in catalog.index.query(Query(kind, ReadScope(all_private=True), limit=500)).entries:
        entry = catalog.index.get(listed.namespace, listed.name)
        assert entry is not None
        assert json.loads(listed.shown) == listing_document(entry)
        entries.append(entry)
    return entries


@pytest.mark.e2e  # starts processes
def test_parallel_rebuild_equals_sequential(store: RepositoryStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12):
        repo = RepoId(f"n{i % 3}", f"t{i}")
        store.create(repo, Kind.TEMPLATE, Visibility.PRIVATE if i % 4 == 0 else Visibility.PUBLIC)
        if i % 5:
            commit(store, repo, {"template.yaml": HELLO_WORLD.replace("single", f"n{i}")},
                   tag="v1.0.0" if i % 2 else None, when=1_700_000_000 + i)
    monkeypatch.setattr(indexer, "PARALLEL_REBUILD_FROM", 0)
    parallel = catalog_of(store, "a.sqlite")
    assert parallel.rebuild(processes=2) == 12
    sequential = catalog_of(store, "b.sqlite")
    sequential.rebuild(processes=1)
    assert everything(parallel) == everything(sequential)
    assert len(everything(parallel)) == 12
    assert parallel.index.is_built()


NESTED = """heat_template_version: 2018-08-31
resources:
  volume:
    type: OS::Cinder::Volume
"""
NESTING = HELLO_WORLD.replace("resources:\n", """resources:
  group:
    type: OS::Heat::ResourceGroup
    properties:
      resource_def:
        type: volume.yaml
  missing:
    type: missing.yaml
""", 1)
MANIFEST = """description: From the manifest
keywords: [Web, db, web]
metadata: {team: storage, tier: 2}
icon: javascript:alert(1)
"""


def test_a_rebuild_equals_the_entries_each_change_left(store: RepositoryStore) -> None:
    """What pushes leave in the index (one refresh per change, as
    :meth:`Catalog.on_change` does) is what a rebuild from scratch writes:
    search text, problems the checks would find, versions, lifecycle."""
    pushed = catalog_of(store, "pushed.sqlite")
    changes: list[tuple[RepoId, dict[str, str], str | None]] = [
        (RepoId("a", "plain"), {"template.yaml": HELLO_WORLD}, None),
        (RepoId("a", "plain"), {"template.yaml": HELLO_WORLD.replace("single", "later")},
         "v1.0.0"),
        (RepoId("a", "nesting"), {"template.yaml": NESTING, "volume.yaml": NESTED,
                                  "heater.yaml": MANIFEST}, "v0.1.0"),
        (RepoId("b", "broken"), {"template.yaml": "resources: [unclosed\n"}, None),
        (RepoId("b", "elsewhere"), {"heater.yaml": "entrypoint: main.yaml\n",
                                    "main.yaml": HELLO_WORLD}, "2.0.0-rc.1"),
    ]
    for repo, files, tag in changes:
        if not store.exists(repo):
            store.create(repo, Kind.TEMPLATE,
                         Visibility.PRIVATE if repo.namespace == "b" else Visibility.PUBLIC)
        commit(store, repo, files, tag=tag)
        pushed.refresh(repo)
    store.create(RepoId("b", "empty"))
    pushed.refresh(RepoId("b", "empty"))
    record_lifecycle(store.path(RepoId("a", "plain")),
                     {"deprecated": {"reason": "old", "by": "admin", "at": "2026-01-01T00:00:00Z"}})
    pushed.refresh(RepoId("a", "plain"))
    rebuilt = catalog_of(store, "rebuilt.sqlite")
    assert rebuilt.rebuild(processes=1) == 5
    assert everything(rebuilt) == everything(pushed)
    nesting = rebuilt.index.get("a", "nesting")
    assert nesting is not None and "OS::Cinder::Volume" in nesting.search_text
    assert nesting.keywords == ("web", "db")
    found = rebuilt.index.query(Query("template", text="Cinder")).entries
    assert [e.name for e in found] == ["nesting"]


def test_rebuild_forgets_what_is_gone(store: RepositoryStore) -> None:
    catalog = catalog_of(store)
    store.create(RepoId("a", "kept"))
    catalog.index.upsert(Entry("a", "ghost", "template", False, False, "t", "t"))
    catalog.rebuild()
    assert [e.name for e in everything(catalog)] == ["kept"]


def test_a_directory_that_is_not_a_repository_is_not_listed(store: RepositoryStore) -> None:
    catalog = catalog_of(store)
    store.create(RepoId("a", "kept"))
    commit(store, RepoId("a", "kept"), {"template.yaml": HELLO_WORLD})
    # What a creation or deletion caught midway leaves: a name, no HEAD.
    (store.path(RepoId("a", "half")) / "objects").mkdir(parents=True)
    catalog.index.upsert(Entry("a", "half", "template", False, False, "t", "t"))
    catalog.rebuild()
    assert [e.name for e in everything(catalog)] == ["kept"]
    assert list(store) == [RepoId("a", "kept")]
    assert list(store.candidates()) == [RepoId("a", "half"), RepoId("a", "kept")]


def test_refresh_rereads_a_repository_that_moved_while_read(
        store: RepositoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = RepoId("a", "racy")
    store.create(repo)
    commit(store, repo, {"template.yaml": HELLO_WORLD})
    catalog = catalog_of(store)
    original = Catalog._entry
    calls: list[str] = []

    def read_then_someone_pushes(self: Catalog, git: pygit2.Repository,
                                 info: RepoInfo) -> Entry | None:
        result = original(self, git, info)
        if not calls:  # another worker's push lands after this read
            commit(store, repo, {"template.yaml": HELLO_WORLD.replace("single", "newer")})
        calls.append(info.repo.name)
        return result

    monkeypatch.setattr(Catalog, "_entry", read_then_someone_pushes)
    catalog.refresh(repo)
    assert len(calls) == 2
    entry = catalog.index.get("a", "racy")
    assert entry is not None and entry.description == "A newer server"


def test_a_rebuild_rereads_what_changed_after_it_was_read(
        store: RepositoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = RepoId("a", "first"), RepoId("a", "second")
    for repo in (first, second):
        store.create(repo)
        commit(store, repo, {"template.yaml": HELLO_WORLD})
    catalog = catalog_of(store)
    original = Catalog._entry
    read: list[str] = []

    def read_then_someone_changes_it(self: Catalog, git: pygit2.Repository,
                                     info: RepoInfo) -> Entry | None:
        result = original(self, git, info)
        if not read:  # a push and a change of visibility land after this read
            commit(store, first, {"template.yaml": HELLO_WORLD.replace("single", "newer")})
            store.set_visibility(first, Visibility.PRIVATE)
        read.append(info.repo.name)
        return result

    monkeypatch.setattr(Catalog, "_entry", read_then_someone_changes_it)
    assert catalog.rebuild(processes=1) == 2
    # Read in name order, then the one that changed read again.
    assert read == ["first", "second", "first"]
    entry = catalog.index.get("a", "first")
    assert entry is not None
    assert (entry.description, entry.private) == ("A newer server", True)


def test_kinds_come_from_their_extractor(store: RepositoryStore) -> None:
    store.create(RepoId("a", "tpl"), Kind.TEMPLATE)
    image = RepoId("a", "img")
    store.create(image, Kind.IMAGE)
    commit(store, image, {"manifest.json": '{"os": {"distro": "ubuntu"}}'})
    templates_only = catalog_of(store, "plain.sqlite",
                                extractors={Kind.TEMPLATE: indexer.template_document})
    assert [e.name for e in everything(templates_only, "image")] == []

    def image_document(git: pygit2.Repository, head: pygit2.Commit | None) -> KindDocument:
        assert head is not None
        return KindDocument(description="An image", search_text=("ubuntu", "openssl"),
                            summary={"os": "ubuntu"})

    catalog = catalog_of(store, "images.sqlite",
                         extractors={**indexer.TEMPLATES_ONLY, Kind.IMAGE: image_document})
    catalog.rebuild()
    [entry] = everything(catalog, "image")
    assert entry.name == "img" and entry.summary == {"os": "ubuntu"}
    found = catalog.index.query(Query("image", text="openssl")).entries
    assert [e.name for e in found] == ["img"]
    assert [e.name for e in everything(catalog)] == ["tpl"]


def test_a_rebuild_from_scratch_never_renumbers(store: RepositoryStore,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Read namespace by namespace, the same two names in 45 namespaces
    # would be squeezed into one gap of ids until they were renumbered.
    for i in range(45):
        for name in ("a", "b"):
            store.create(RepoId(f"n{i:02d}", name))

    def renumber(_conn: object) -> None:
        raise AssertionError("renumbered")

    monkeypatch.setattr(sqlite, "_renumber", renumber)
    catalog = catalog_of(store)
    assert catalog.rebuild(processes=1) == 90
    listed = catalog.index.query(Query("template", ReadScope(all_private=True), limit=500))
    assert [(e.name, e.namespace) for e in listed.entries] == sorted(
        (name, f"n{i:02d}") for i in range(45) for name in ("a", "b"))


@pytest.mark.e2e  # starts processes
def test_readers_stay_a_bounded_distance_ahead_of_the_writer(
        store: RepositoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(60):
        store.create(RepoId("n", f"t{i:02d}"))
    monkeypatch.setattr(indexer, "PARALLEL_REBUILD_FROM", 0)
    monkeypatch.setattr(indexer, "REBUILD_CHUNK", 2)
    monkeypatch.setattr(indexer, "READ_AHEAD", 1)
    read = multiprocessing.get_context("fork").Value("i", 0)  # counted in the readers
    original_read = Catalog.read

    def counted_read(self: Catalog, repo: RepoId) -> tuple[Entry | None, bytes]:
        with read.get_lock():
            read.value += 1
        return original_read(self, repo)

    monkeypatch.setattr(Catalog, "read", counted_read)
    catalog = catalog_of(store)
    original_upsert_many = catalog.index.upsert_many
    ahead: list[int] = []

    def slow_writer(entries: Iterable[Entry]) -> None:
        def watched() -> Iterator[Entry]:
            for written, item in enumerate(entries, 1):
                time.sleep(0.02)  # the readers are faster: they must wait
                ahead.append(read.value - written)
                yield item
        original_upsert_many(watched())

    monkeypatch.setattr(catalog.index, "upsert_many", slow_writer)
    assert catalog.rebuild(processes=2) == 60
    assert len(ahead) == 60 and len(everything(catalog)) == 60
    # Two chunks queued (one per process) plus one being read by each
    # process, beyond the chunk being written.
    assert max(ahead) <= 2 * 2 + 2 * 2
