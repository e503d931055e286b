"""What a client may send as an image manifest, and checking it.

The client describes the image (formats, os, packages, properties, an
optional version); the server adds what only it can know (``image_id``,
``size``, ``hashes``, ``status``) once the bytes arrive, so those fields
are refused here.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from typing import TYPE_CHECKING, Any

from heater.errors import InvalidInput, InvalidValue, MissingField, UnknownField
from heater.images.builds import Status
from heater.images.digests import ALGORITHMS
from heater.names import nearest
from heater.repos.versions import Version

if TYPE_CHECKING:
    import jsonschema

# Glance's image formats (glance-api.conf [image_format] defaults).
DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi",
                "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
PACKAGE_MANAGERS = ("dpkg", "rpm")

# Generous for any real image (a full desktop install has ~5,000 packages),
# and a bound on the work done by validation and diff.
MAX_PACKAGES = 50_000
_SHORT = {"type": "string", "minLength": 1, "maxLength": 255}
_TEXT = {"type": "string", "maxLength": 4096}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Heater image manifest (as sent with POST .../builds)",
    "type": "object",
    "additionalProperties": False,
    "required": ["disk_format", "container_format", "os", "packages"],
    "properties": {
        "disk_format": {"enum": list(DISK_FORMATS)},
        "container_format": {"enum": list(CONTAINER_FORMATS)},
        "version": {"type": "string", "maxLength": 128},
        "description": _TEXT,
        "package_manager": {"enum": list(PACKAGE_MANAGERS)},
        "os": {
            "type": "object",
            "required": ["distro", "version"],
            "additionalProperties": _SHORT,
            "properties": {"distro": _SHORT, "version": _SHORT},
        },
        "packages": {
            "type": "array",
            "maxItems": MAX_PACKAGES,
            "items": {
                "type": "object",
                "required": ["name", "version"],
                "additionalProperties": False,
                "properties": {"name": _SHORT, "version": _SHORT, "arch": _SHORT},
            },
        },
        "properties": {
            "type": "object",
            "maxProperties": 1000,
            "propertyNames": {"maxLength": 255},
            "additionalProperties": _TEXT,
        },
    },
}

def _stored_schema() -> dict[str, Any]:
    """:data:`SCHEMA` plus what the server adds when it commits a build
    (:mod:`heater.images.service`): the binary's id, size and digests, its
    status, and for a deleted build when and by whom."""
    schema = copy.deepcopy(SCHEMA)
    schema["title"] = "Heater image manifest (as committed to the image's repository)"
    schema["required"] = [*schema["required"], "image_id", "status", "size", "hashes"]
    digests = {name: {"type": "string", "pattern": f"^[0-9a-f]{{{_hex_length(name)}}}$"}
               for name in ALGORITHMS}
    schema["properties"].update({
        "image_id": {"type": "string", "format": "uuid"},
        "status": {"enum": [Status.ACTIVE.value, Status.DELETED.value]},
        "size": {"type": "integer", "minimum": 0},
        "hashes": {"type": "object", "required": list(ALGORITHMS),
                   "additionalProperties": False, "properties": digests},
        "deleted_at": {"type": "string", "format": "date-time"},
        "deleted_by": {"type": "string"},
        "published": {"type": "object", "description": "a deleted build's publication "
                      "(see Publication), its glance.deleted saying whether the Glance "
                      "image was deleted with it"},
    })
    schema["if"] = {"properties": {"status": {"const": Status.DELETED.value}}}
    schema["then"] = {"required": ["deleted_at", "deleted_by"]}
    return schema


def _hex_length(algorithm: str) -> int:
    return hashlib.new(algorithm, usedforsecurity=False).digest_size * 2


# What ``manifest.json`` holds in an image repository; documents the API's
# answers (its only user besides the tests).
STORED_SCHEMA = _stored_schema()


# Distributions whose packages are rpm; everything else is compared as dpkg.
_RPM_DISTROS = frozenset({"rhel", "centos", "fedora", "rocky", "almalinux", "alma", "oracle",
                          "ol", "opensuse", "sles", "suse", "amzn", "amazon", "photon",
                          "mageia", "openeuler"})


class InvalidManifest(InvalidValue):
    """A manifest value that breaks the schema; ``path`` is its JSON path
    (``$.packages[3].version``), ``field`` the same without ``$.``."""

    def __init__(self, path: str, reason: str, others: tuple[str, ...] = ()) -> None:
        super().__init__(_field_name(path), _message(path, reason, others))
        self.path = path
        self.reason = reason


class MissingManifestField(MissingField):
    """A field the manifest must have is absent."""

    def __init__(self, path: str, reason: str, others: tuple[str, ...] = ()) -> None:
        super().__init__(_field_name(path), _message(path, reason, others))
        self.path = path


class UnknownManifestField(UnknownField):
    """A field the manifest schema does not have, with the closest one it has."""

    def __init__(self, path: str, did_you_mean: str | None, reason: str,
                 others: tuple[str, ...] = ()) -> None:
        super().__init__(_field_name(path), did_you_mean,
                         message=_message(path, reason, others))
        self.path = path


def _field_name(path: str) -> str:
    return path.removeprefix("$.") if path != "$" else "$"


def _message(path: str, reason: str, others: tuple[str, ...]) -> str:
    return f"manifest field {path}: {reason}" + "".join(f"; {other}" for other in others)


# A manifest with many mistakes gets this many named at once.
MAX_REPORTED = 10


def validate(manifest: object) -> dict[str, Any]:
    """Return ``manifest`` (its ``version`` normalised: ``1.2.0``, not
    ``v1.2.0``) if it matches :data:`SCHEMA` and names a valid semantic
    version (if any); else :class:`InvalidManifest` naming the
    offending fields as JSON paths (``$.packages[3].version``), the most
    relevant first, so that one round trip shows every mistake."""
    # Shallow mistakes (a missing field) before deep ones, as jsonschema's
    # best_match() ranks them; in document order among equals.
    errors = sorted(_validator().iter_errors(manifest), key=_document_order)
    errors.sort(key=lambda error: len(error.absolute_path))
    if errors:
        problems = [(_field(error), _shorten(error.message)) for error in errors]
        shown = [f"{field}: {reason}" for field, reason in problems[1:MAX_REPORTED]]
        if len(problems) > MAX_REPORTED:
            shown.append(f"and {len(problems) - MAX_REPORTED} more")
        raise _refusal(errors[0], problems[0][0], problems[0][1], tuple(shown))
    assert isinstance(manifest, dict)
    if "version" in manifest:
        version = Version.try_parse(manifest["version"])
        if version is None:
            raise InvalidManifest("$.version",
                                  f"{manifest['version']!r} is not a semantic version")
        # Stored as every version is written: no "v" (v1.2.0 is 1.2.0).
        return {**manifest, "version": str(version)}
    return manifest


def _refusal(error: Any, path: str, reason: str, others: tuple[str, ...]) -> InvalidInput:
    """The error that names what is wrong with the first field: missing,
    unknown (with the closest known name) or of the wrong value."""
    if error.validator == "required" and path != error.json_path:
        return MissingManifestField(path, reason, others)
    if error.validator == "additionalProperties" and path != error.json_path:
        known = error.schema.get("properties", {})
        return UnknownManifestField(path, nearest(path.rpartition(".")[2], known), reason,
                                    others)
    return InvalidManifest(path, reason, others)


def _document_order(error: Any) -> list[tuple[int, int, str]]:
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path]


_REQUIRED = re.compile(r"'([^']+)' is a required property")


def _field(error: Any) -> str:
    """The JSON path of the field an error is about (the missing or extra
    key itself, rather than the object that lacks or has it)."""
    field: str = error.json_path
    if error.validator == "required" and isinstance(error.instance, dict):
        # One error per missing key; only its message names which.
        named = _REQUIRED.match(error.message)
        missing = [named.group(1)] if named else [
            k for k in error.validator_value if k not in error.instance]
        if missing:
            field = f"{field}.{missing[0]}"
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            field = f"{field}.{extra[0]}"
    return field


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    # jsonschema is imported on first use: it is a sizeable share of a
    # worker's start-up and only builds need it.
    import jsonschema

    return jsonschema.Draft202012Validator(SCHEMA)


def package_manager(manifest: dict[str, Any]) -> str:
    """``dpkg`` or ``rpm``: as the manifest says, else guessed from the distro."""
    declared = manifest.get("package_manager")
    if isinstance(declared, str):
        return declared
    distro = str(manifest.get("os", {}).get("distro", "")).lower()
    return "rpm" if distro in _RPM_DISTROS else "dpkg"


def _shorten(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
