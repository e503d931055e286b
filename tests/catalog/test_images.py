"""What the catalog takes from an image repository's manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2

from heater.catalog.images import image_document
from heater.catalog.indexer import KindDocument


def commit_with(tmp_path: Path, content: bytes) -> tuple[pygit2.Repository, pygit2.Commit]:
    git = pygit2.init_repository(str(tmp_path / "image.git"), bare=True)
    builder = git.TreeBuilder()
    builder.insert("manifest.json", git.create_blob(content), pygit2.enums.FileMode.BLOB)
    author = pygit2.Signature("A", "a@example.com")
    sha = git.create_commit("refs/heads/main", author, author, "build\n", builder.write(), [])
    commit = git.get(sha)
    assert isinstance(commit, pygit2.Commit)
    return git, commit


def document(tmp_path: Path, manifest: dict[str, Any]) -> KindDocument:
    git, commit = commit_with(tmp_path, json.dumps(manifest).encode())
    return image_document(git, commit)


def test_search_text_holds_os_values_and_each_package_name_once(tmp_path: Path) -> None:
    doc = document(tmp_path, {
        "image_id": "1b4e28ba-2fa1-4d3b-883f-0016d3cca427", "status": "active",
        "disk_format": "raw", "container_format": "bare", "size": 7,
        "os": {"distro": "Fedora", "version": "40"},
        "packages": [{"name": "kernel", "version": "6.8"}, {"name": "kernel", "version": "6.9"},
                     {"name": "bash", "version": "5.2"}],
        "properties": {"description": "From the property"}})
    assert doc.search_text == ("Fedora", "40", "kernel", "bash")
    assert doc.keywords == ("fedora", "40")
    assert doc.description == "From the property"
    assert doc.summary == {"build_id": "1b4e28ba-2fa1-4d3b-883f-0016d3cca427",
                           "status": "active", "os": {"distro": "Fedora", "version": "40"},
                           "disk_format": "raw", "container_format": "bare", "size": 7,
                           "package_count": 3}


def test_the_manifest_description_wins(tmp_path: Path) -> None:
    doc = document(tmp_path, {"description": "  Own  ", "properties": {"description": "p"}})
    assert doc.description == "Own"


def test_no_build_or_a_broken_manifest_gives_empty_fields(tmp_path: Path) -> None:
    empty = image_document(pygit2.init_repository(str(tmp_path / "new.git"), bare=True), None)
    git, commit = commit_with(tmp_path, b"{not json")
    broken = image_document(git, commit)
    for doc in (empty, broken):
        assert doc.search_text == () and doc.description == ""
        assert doc.summary["build_id"] is None and doc.summary["package_count"] == 0
