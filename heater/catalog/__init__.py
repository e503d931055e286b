"""The catalog: a searchable index of every repository, derived from git.

- :mod:`heater.catalog.index`: the backend contract (entries, queries, pages);
- :mod:`heater.catalog.sqlite`: the SQLite (FTS5) backend, the default;
- :mod:`heater.catalog.indexer`: fills the index from the repositories, with
  one extractor per repository kind;
- :mod:`heater.catalog.templates`: the metadata of a template repository;
- :mod:`heater.catalog.listing`: listing parameters as users send them;
- :mod:`heater.catalog.detail`: one template described in full at a ref.
"""

from __future__ import annotations

from heater.catalog.indexer import Catalog
from heater.catalog.sqlite import SqliteIndex
from heater.repositories import RepositoryStore


def open_catalog(repos: RepositoryStore) -> Catalog:
    """The catalog of a data directory, on the backend its configuration
    names (SQLite in the data directory is the only one so far). The index
    is created only by a rebuild (:meth:`Catalog.rebuild`,
    :meth:`Catalog.ensure_built`), never by a read or a write."""
    return Catalog(repos, SqliteIndex(repos.layout.index_db, create=False))
