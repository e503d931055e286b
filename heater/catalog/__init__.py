"""The catalog: a searchable index of every repository, derived from git.

- :mod:`heater.catalog.index`: the backend contract (entries, queries, pages);
- :mod:`heater.catalog.sqlite`: the SQLite (FTS5) backend, the default;
- :mod:`heater.catalog.indexer`: fills the index from the repositories, with
  one extractor per repository kind;
- :mod:`heater.catalog.templates`: the metadata of a template repository;
- :mod:`heater.catalog.images`: the metadata of an image repository;
- :mod:`heater.catalog.listing`: listing parameters as users send them;
- :mod:`heater.catalog.detail`: one template described in full at a ref.
"""

from __future__ import annotations

from heater.catalog.images import image_document
from heater.catalog.indexer import EXTRACTORS, Catalog
from heater.catalog.sqlite import SqliteIndex
from heater.repos.store import Kind, RepositoryStore

# Here rather than beside template_document in the indexer: the image
# extractor builds on the indexer's KindDocument. Importing any module of
# this package runs this first, so every Catalog sees both kinds.
EXTRACTORS[Kind.IMAGE] = image_document


def open_catalog(repos: RepositoryStore) -> Catalog:
    """The catalog of a data directory, on the backend its configuration
    names (SQLite in the data directory is the only one so far). The index
    is created only by a rebuild (:meth:`Catalog.rebuild`,
    :meth:`Catalog.ensure_built`), never by a read or a write."""
    return Catalog(repos, SqliteIndex(repos.layout.index_db, create=False))
