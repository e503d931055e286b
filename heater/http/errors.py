"""Domain errors as JSON responses, with the status the error table gives
(:mod:`heater.errors`), and the JSON error shape.

Every error leaves the API as ``{"error": {"code": "...", "message": "..."}}``
(plus the data a domain error carries, such as a tombstone for 410).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from heater.errors import CODES, STATUS, Gone, HeaterError, status_of

log = logging.getLogger(__name__)

# So that curl and browsers offer to send credentials.
CHALLENGE = 'Basic realm="Heater", charset="UTF-8"'


def error_response(status: int, code: str, message: str,
                   extra: dict[str, object] | None = None) -> Response:
    body: dict[str, object] = {"code": code, "message": message}
    if extra:
        body.update(extra)
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = CHALLENGE
    return response


def _domain_error(error: HeaterError) -> Response:
    extra = error.details()
    if isinstance(error, Gone) and error.record:
        extra["tombstone"] = error.record
    return error_response(status_of(error), error.code, error.message, extra)


# The table's code for a status werkzeug refuses on its own (a body past the
# size limit is "too_large" whichever layer notices it).
_CODE_OF_STATUS = {status: category.code for category, status in STATUS.items()
                   if category is not HeaterError}


def _http_error(error: HTTPException) -> Response:
    code = (error.name or "error").lower().replace(" ", "_")
    if code not in CODES:
        code = _CODE_OF_STATUS.get(error.code or 500, code)
    message = error.description or error.name
    if error.code in (404, 405):  # no such route: name it, and where routes are listed
        message = (f"no endpoint {request.method} {request.path}"
                   f"{' (no such method there)' if error.code == 405 else ''}; "
                   "the API is described at /api/v1/openapi.json")
    response = error_response(error.code or 500, code, message)
    for key, value in error.get_headers():
        if key.lower() not in ("content-type", "content-length"):
            response.headers[key] = value
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return error_response(500, "internal", "internal server error; the server log has details")


def init_app(app: Flask) -> None:
    app.register_error_handler(HeaterError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
