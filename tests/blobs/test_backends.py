"""What the package ships as blob stores: only backends a server can use."""

from __future__ import annotations

import pkgutil

import heater.blobs
from heater.config import SETTINGS
from heater.wiring import BLOB_BACKENDS

# Modules of heater.blobs that are no backend: shared helpers of backends.
HELPERS = {"parts"}


def test_every_blob_module_is_a_backend_configuration_can_choose() -> None:
    # A store only tests use (one in RAM) lives under tests/, so that no
    # one mistakes it for something to deploy.
    modules = {m.name for m in pkgutil.iter_modules(heater.blobs.__path__)} - HELPERS
    choices = next(s.choices for s in SETTINGS if s.key == "blobs")
    assert modules == set(BLOB_BACKENDS) == set(choices)
