"""Domain error categories.

Modules define their own exceptions next to the code that raises them, as
subclasses of one of these categories, and carry the data that explains them.
The HTTP layer maps categories to status codes in one table
(:mod:`heater.http.errors`); the domain never speaks HTTP.
"""

from __future__ import annotations


class HeaterError(Exception):
    """Base of every error a user can cause. ``code`` is a stable machine name."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(HeaterError):
    code = "invalid"


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
