"""The catalog: a searchable index of every repository, derived from git.

- :mod:`heater.catalog.index`: the backend contract (entries, queries, pages);
- :mod:`heater.catalog.sqlite`: the SQLite (FTS5) backend, the default;
- :mod:`heater.catalog.indexer`: fills the index from the repositories, with
  one extractor per repository kind;
- :mod:`heater.catalog.templates`: the metadata of a template repository;
- :mod:`heater.catalog.images`: the metadata of an image repository;
- :mod:`heater.catalog.listing`: listing parameters as users send them;
- :mod:`heater.catalog.detail`: one template described in full at a ref.

The composition root (:mod:`heater.wiring`) builds the catalog on the
configured backend with :data:`EXTRACTORS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from heater.catalog.images import image_document
from heater.catalog.indexer import Extractor, template_document
from heater.repos.store import Kind

# Here rather than beside template_document in the indexer: the image
# extractor builds on the indexer's KindDocument.
EXTRACTORS: Mapping[Kind, Extractor] = {
    Kind.TEMPLATE: template_document,
    Kind.IMAGE: image_document,
}
