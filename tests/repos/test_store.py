"""Repository info read from each repository's git config."""

from __future__ import annotations

import subprocess
from pathlib import Path

from heater.names import RepoId
from heater.paths import Layout
from heater.repos.store import Kind, RepositoryStore, Visibility


def test_info_follows_every_change_of_the_config(tmp_path: Path) -> None:
    store = RepositoryStore(Layout(tmp_path))
    repo = RepoId("acme", "web")
    store.create(repo, Kind.TEMPLATE, Visibility.PUBLIC)
    assert store.info(repo).visibility is Visibility.PUBLIC
    store.set_visibility(repo, Visibility.PRIVATE)
    assert store.info(repo).visibility is Visibility.PRIVATE
    # Also when another process (an operator's git) writes the file.
    for value in ("public", "private", "public"):
        subprocess.run(["git", "config", "--file", str(store.path(repo) / "config"),
                        "heater.visibility", value], check=True)
        assert store.info(repo).visibility is Visibility(value)
    # Another repository is never answered from this one's entry.
    other = RepoId("acme", "db")
    store.create(other, Kind.IMAGE, Visibility.PRIVATE)
    assert (store.info(other).kind, store.info(repo).kind) == (Kind.IMAGE, Kind.TEMPLATE)
