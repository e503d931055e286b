"""An encoded slash (``%2F``) in a request's path.

The WSGI server decodes the path before anything routes it, so ``%2F``
inside a segment arrives as ``/`` and shifts every later segment:
``/api/v1/templates/acme/we%2Fb`` would be routed as five segments and
answer a puzzling 404 "no endpoint". Here the path as the client sent it
(``RAW_URI``, set by gunicorn and werkzeug, or ``REQUEST_URI``) is matched
again with each encoded slash kept inside its segment, to learn which
value holds one:

- a namespace, name, version, build id, commit or signature never holds a
  ``/``: the request is 400 ``invalid_value`` naming that field;
- in a ref or a file path ``%2F`` means ``/``, as the decoded path already
  says: a ref may hold one (``feature%2Flogin`` is the branch
  ``feature/login``) and a git file name never does, so it can only
  separate directories. Those requests go on as routed;
- a path that matches no route once its encoded slashes stay in their
  segments is 400 ``invalid_value`` for ``path``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.routing.exceptions import RoutingException

from heater.errors import InvalidValue
from heater.names import InvalidName

ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)
# Route values in which an encoded slash is a slash.
SLASH_FIELDS = frozenset({"ref", "path", "ref_path", "filename"})
# Stands for an encoded slash while a path is matched again: characters
# every segment converter takes (the repository name's included), in a run
# that no real value holds.
_MARK = "x2fx2fx2fx2f"


def sent_path(environ: dict[str, Any]) -> str | None:
    """The request's path as sent, still percent-encoded (None when the
    server does not say)."""
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(uri, str) or not uri:
        return None
    if not uri.startswith("/"):  # the absolute form, "http://host/path"
        uri = urlsplit(uri).path
    return uri.split("?", 1)[0]


def _segments(environ: dict[str, Any]) -> list[str] | None:
    """The raw segments of the path below the application's mount point,
    or None when no encoded slash is among them."""
    sent = sent_path(environ)
    if sent is None or ENCODED_SLASH.search(sent) is None:
        return None
    mount = len([s for s in str(environ.get("SCRIPT_NAME", "")).split("/") if s])
    return sent.split("/")[1 + mount:]


@dataclass(frozen=True)
class Slashed:
    """Where an encoded slash is refused: the ``field`` and its ``value``
    as sent (``path`` and the whole path when no route takes the path so),
    and the route the request was meant for, if one takes it."""

    field: str
    value: str
    rule: Rule | None = None


def field_with_encoded_slash(environ: dict[str, Any], url_map: Map) -> Slashed | None:
    """Where this request holds an encoded slash where none may be, or None."""
    segments = _segments(environ)
    if segments is None:
        return None
    marked = "/" + "/".join(unquote(ENCODED_SLASH.sub(_MARK, s)) for s in segments)
    adapter = url_map.bind_to_environ(environ)
    try:
        try:
            rule, values = adapter.match(marked, method=environ.get("REQUEST_METHOD"),
                                         return_rule=True)
        except MethodNotAllowed as exc:  # still the route: its values say which field
            rule, values = adapter.match(marked, method=sorted(exc.valid_methods or ())[0],
                                         return_rule=True)
    except (HTTPException, RoutingException, IndexError):
        return Slashed("path", "/" + "/".join(segments))
    for field, value in values.items():
        if _MARK in str(value) and field not in SLASH_FIELDS:
            return Slashed(str(field), str(value).replace(_MARK, "%2F"), rule)
    return None


def repo_field_with_encoded_slash(environ: dict[str, Any]) -> Slashed | None:
    """For a git URL (``/<ns>/<name>.git/...``): ``namespace`` or ``name``,
    and the segment as sent, when the repository's part of the path holds
    an encoded slash."""
    segments = _segments(environ)
    if segments is None:
        return None
    for field, segment in zip(("namespace", "name"), segments, strict=False):
        if ENCODED_SLASH.search(segment):
            return Slashed(field, segment)
        if segment.lower().endswith(".git"):
            break
    return None


def encoded_slash_refusal(slashed: Slashed) -> InvalidValue:
    """The 400 ``invalid_value`` for ``slashed`` (see the module)."""
    field, value = slashed.field, slashed.value
    if field == "path":
        shown = value if len(value) <= 80 else value[:77] + "..."
        return InvalidValue(field, f"invalid path {shown!r}: no URL of this server takes an "
                            "encoded slash (%2F) there; send the slash unencoded")
    return InvalidName(field, value, f"holds an encoded slash (%2F), which no {field} may "
                       "contain")


def init_app(app: Flask) -> None:
    """Refuse an encoded slash where none may be, before any other hook."""
    @app.before_request
    def refuse_encoded_slash() -> None:
        found = field_with_encoded_slash(request.environ, current_app.url_map)
        if found is not None:
            # Answered as by the route it was meant for (a page for a page).
            request.url_rule = found.rule
            raise encoded_slash_refusal(found)
