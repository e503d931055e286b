"""Image manifests and the builds that carry their binaries.

- :mod:`~heater.images.schema`: the JSON Schema of a manifest, validation;
- :mod:`~heater.images.builds`: queued builds awaiting their bytes, the store's
  interface; :mod:`~heater.images.sqlite`: that store in SQLite;
- :mod:`~heater.images.repository`: manifests committed to an image's repository,
  the source of truth for active and deleted builds;
- :mod:`~heater.images.service`: create, upload, read, delete a build;
- :mod:`~heater.images.pkgversions` and :mod:`~heater.images.diff`: what
  changed between two manifests, with dpkg's and rpm's version ordering.
"""
