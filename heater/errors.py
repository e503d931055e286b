"""Domain error categories, and the one table of error codes.

Modules define their own exceptions next to the code that raises them, as
subclasses of one of these categories, and carry the data that explains them.
Every code a client can see is listed once in :data:`CODES` with its
category, which gives its HTTP status (:data:`STATUS`); each front end (the
JSON API, the git endpoint) renders errors from these two tables, so a code
means one thing and has one status everywhere.
"""

from __future__ import annotations

import base64
import binascii
import re


class HeaterError(Exception):
    """Base of every error a user can cause. ``code`` is a stable machine name."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def details(self) -> dict[str, object]:
        """What the error body says beside ``code`` and ``message``."""
        return {}


class InvalidInput(HeaterError):
    """The request cannot be right as sent. Raised as such (without a code
    of its own), it is a malformed value: prefer :class:`InvalidValue`,
    which names the field."""

    code = "invalid_value"


class NotFound(HeaterError):
    code = "not_found"


class Conflict(HeaterError):
    code = "conflict"


class Gone(HeaterError):
    """The thing existed and was deleted on purpose; ``record`` says how."""

    code = "gone"

    def __init__(self, message: str, *, record: dict[str, object] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.record = record or {}


class Unauthenticated(HeaterError):
    """No credentials, or credentials that are not valid."""

    code = "unauthenticated"


class Forbidden(HeaterError):
    """Valid credentials that do not allow this action."""

    code = "forbidden"


class TooLarge(HeaterError):
    code = "too_large"


class UnsupportedMediaType(HeaterError):
    code = "unsupported_media_type"


class Unavailable(HeaterError):
    """A store the request needs cannot answer now; the message says what an
    operator does about it. Nothing was changed."""

    code = "unavailable"


class InvalidValue(InvalidInput):
    """A malformed query, path or body value (a name, a version, a format,
    an enum...): ``field`` names the parameter or body field."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field

    def details(self) -> dict[str, object]:
        return {"field": self.field}


class UnknownField(InvalidInput):
    """A query parameter or body field the endpoint does not take (a typo
    must not be silently dropped); ``did_you_mean`` is the closest known
    name, if one is close."""

    code = "unknown_field"

    def __init__(self, field: str, did_you_mean: str | None, where: str = "field",
                 message: str | None = None) -> None:
        hint = f" (did you mean {did_you_mean!r}?)" if did_you_mean else ""
        super().__init__(message or f"unknown {where} {field!r}{hint}")
        self.field = field
        self.did_you_mean = did_you_mean

    def details(self) -> dict[str, object]:
        return {"field": self.field, "did_you_mean": self.did_you_mean}


class MissingField(InvalidInput):
    """A required query parameter or body field is absent."""

    code = "missing_field"

    def __init__(self, field: str, message: str | None = None) -> None:
        super().__init__(message or f"{field!r} is required")
        self.field = field

    def details(self) -> dict[str, object]:
        return {"field": self.field}


class AlreadyDone(Conflict):
    """A lifecycle action repeated while it is in effect (yanking a yanked
    version, deleting a deleted build), or undone while it is not."""

    code = "already_done"


class InvalidMarker(InvalidValue):
    """A paging marker this server did not make, or made for another listing;
    every paged listing (catalog, commit history) refuses it alike."""

    def __init__(self, reason: str) -> None:
        super().__init__("marker",
                         f"invalid marker: {reason}; use the 'next' URL of a previous page")
        self.reason = reason


def encode_marker(text: str) -> str:
    """A paging marker holding ``text``: opaque to clients, URL-safe."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_marker(marker: str, pattern: re.Pattern[str]) -> re.Match[str]:
    """What :func:`encode_marker` put in ``marker``, matched by ``pattern``;
    :class:`InvalidMarker` for anything else."""
    try:
        text = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidMarker("not a marker this server made") from None
    match = pattern.match(text)
    if match is None:
        raise InvalidMarker("not a marker this server made")
    return match


# The HTTP status of each category.
STATUS: dict[type[HeaterError], int] = {
    HeaterError: 400,
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    Unavailable: 503,
}

# Every error code, once, with its category. A code is raised only as an
# instance of its category (tests check every definition and use of one).
CODES: dict[str, type[HeaterError]] = {
    "error": HeaterError,
    # 400: the request cannot be right as sent
    "invalid_value": InvalidInput,
    "unknown_field": InvalidInput,
    "missing_field": InvalidInput,
    "invalid_json": InvalidInput,
    "ambiguous_ref": InvalidInput,
    "empty_upload": InvalidInput,
    "invalid_config": InvalidInput,
    "invalid_entrypoint": InvalidInput,
    "invalid_host": InvalidInput,
    "invalid_yaml": InvalidInput,
    "invalid_range": InvalidInput,
    "unbundlable_template": InvalidInput,
    "upload_incomplete": InvalidInput,
    "validation_failed": InvalidInput,
    # 401, 403
    "unauthenticated": Unauthenticated,
    "invalid_token": Unauthenticated,
    "forbidden": Forbidden,
    "not_pushable": Forbidden,
    "cross_site_post": Forbidden,
    # 404: what the URL names does not exist (or may not be seen)
    "not_found": NotFound,
    "blob_not_found": NotFound,
    "build_not_found": NotFound,
    "build_not_uploaded": NotFound,
    "file_not_found": NotFound,
    "repository_not_found": NotFound,
    "token_not_found": NotFound,
    "unknown_ref": NotFound,
    # 409: the state of the registry does not allow it
    "conflict": Conflict,
    "glance_id_taken": Conflict,
    "glance_not_configured": Conflict,
    "blob_exists": Conflict,
    "build_exists": Conflict,
    "build_not_queued": Conflict,
    "already_done": Conflict,
    "concurrent_update": Conflict,
    "lifecycle_busy": Conflict,
    "name_tombstoned": Conflict,
    "ref_refused": Conflict,
    "repository_exists": Conflict,
    "token_exists": Conflict,
    "upload_in_progress": Conflict,
    "version_bump_too_small": Conflict,
    "version_exists": Conflict,
    "visibility_mismatch": Conflict,
    # 410: deleted on purpose
    "gone": Gone,
    "build_deleted": Gone,
    "repository_deleted": Gone,
    # 413, 415, 503
    "too_large": TooLarge,
    "upload_too_long": TooLarge,
    "bundle_too_large": TooLarge,
    "unsupported_media_type": UnsupportedMediaType,
    "unavailable": Unavailable,
    "index_unavailable": Unavailable,
    "blob_store_unavailable": Unavailable,
    "database_unavailable": Unavailable,
    "identity_unavailable": Unavailable,
    "glance_unavailable": Unavailable,
    "glance_mismatch": Unavailable,
    "graphviz_missing": Unavailable,
    "graphviz_failed": Unavailable,
}


def category_of(error: HeaterError) -> type[HeaterError]:
    """The category ``error``'s code is listed under (for a code missing
    from the table, the nearest category the error belongs to)."""
    listed = CODES.get(error.code)
    if listed is not None:
        return listed
    # The categories are siblings: an error belongs to one of them at most.
    return next((category for category in STATUS
                 if category is not HeaterError and isinstance(error, category)), HeaterError)


def status_of(error: HeaterError) -> int:
    """The HTTP status every front end answers ``error`` with."""
    return STATUS[category_of(error)]
