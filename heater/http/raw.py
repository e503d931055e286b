"""Raw files for Heat: ``GET /<ns>/<name>/raw/<ref>/<path>``.

The ref and the path are both in the URL path, so that Heat's ``urljoin``
of a relative ``get_file`` or nested template ``type:`` lands on the
sibling file at the same ref. The ref is a version, a branch or tag,
``latest`` or a SHA; a branch name may hold ``/`` (the longest branch or
tag name the URL starts with is the ref: :mod:`heater.repos.browse`).

Caching follows what can change: a file addressed by a full commit SHA
never does (``immutable``); a version's tag never moves, but the version
may be yanked or the repository made private, so it is cached for a day;
branches, ``latest`` and abbreviated SHAs (which a later commit may make
ambiguous) are cached briefly. Every answer names the full-SHA URL of the
same file in ``Content-Location``, the address to cache for good. The ETag
is the blob's SHA: strong, the same at every ref where the file is
unchanged, and compared weakly (RFC 9110) for ``If-None-Match``, so
``W/"<etag>"``, lists of ETags and ``*`` all give 304.

Files over a megabyte are streamed from ``git cat-file`` in 64 KiB
chunks (:mod:`heater.git.blobs`): a worker never holds a large file whole.

A file read through a yanked version (``v1.2.0`` after a yank) still
answers, with ``X-Heater-Yanked: <reason>`` so that tools can warn.

A request without credentials of its own reads as the browser signed in
to the web UI (its session cookie, :mod:`heater.http.web.session`): the
UI's Raw links, README images and icons of a private template point here.
The cookie is ``SameSite=Strict``, so another site's page cannot make a
browser send it.

``/<ns>/<name>/signed/<signature>/raw/<commit>/<path>`` is the same file
for anyone holding a signed URL (:mod:`heater.auth.signing`), private
templates included; it is never stored by a shared cache.
"""

from __future__ import annotations

import mimetypes
import posixpath
import time
from urllib.parse import quote

from flask import Blueprint, Flask, Response, request
from werkzeug.routing import PathConverter

from heater.auth.tokens import Caller, Principal, Role
from heater.git.blobs import STREAM_ABOVE, BlobStream
from heater.http.api.templates import templates
from heater.http.context import caller
from heater.http.credentials import credentials_from_environ, note_caller
from heater.http.web.base import COOKIE, web_caller
from heater.names import RepoId
from heater.repos.resolve import Resolved
from heater.templates.service import SIGNED_URL_READER, RawFile

bp = Blueprint("raw", __name__)


class FilePath(PathConverter):
    """Werkzeug's path converter, newlines included: git allows them in a
    file name, so such a path must reach the handler (which says what is
    wrong with it) rather than match no route."""

    regex = "[^/](?s:.*?)"


def init_app(app: Flask) -> None:
    """Use :class:`FilePath` for ``<path:...>``; before any route is added."""
    app.url_map.converters["path"] = FilePath

IMMUTABLE_MAX_AGE = 365 * 24 * 3600
VERSION_MAX_AGE = 24 * 3600
MOVING_MAX_AGE = 60

# Templates and the files they pull in are shown as text, so that browsers
# display them instead of downloading them; Heat does not look at the type.
TEXT_SUFFIXES = frozenset({
    ".yaml", ".yml", ".template", ".env", ".sh", ".bash", ".py", ".txt", ".cfg",
    ".conf", ".ini", ".j2", ".pp", ".ps1", ".cloudinit", ".md", ".rst", ".csv",
})
# Nothing served here may run in the registry's origin, whatever it contains.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


# A yank reason is a paragraph; a header needs a line.
MAX_HEADER_TEXT = 512


def header_text(text: str) -> str:
    """``text`` as one header line: whitespace runs as one space, at most
    MAX_HEADER_TEXT characters, non-ASCII and control characters
    percent-encoded (UTF-8), since header values are Latin-1 at best."""
    line = " ".join(text.split())[:MAX_HEADER_TEXT]
    return quote(line, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")


def content_type(path: str) -> str:
    suffix = posixpath.splitext(path)[1].lower()
    if suffix in TEXT_SUFFIXES or not suffix:
        return "text/plain; charset=utf-8"
    if suffix == ".json":
        return "application/json"
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def cache_control(resolved: Resolved, private: bool) -> str:
    audience = "private" if private else "public"
    if resolved.full_sha:
        return f"{audience}, max-age={IMMUTABLE_MAX_AGE}, immutable"
    if resolved.kind == "version":
        return f"{audience}, max-age={VERSION_MAX_AGE}"
    return f"{audience}, max-age={MOVING_MAX_AGE}"


def _reader() -> Caller:
    """The request's own credentials, else the web UI's session."""
    if credentials_from_environ(request.environ) is None and request.cookies.get(COOKIE):
        return web_caller()
    return caller()


# merge_slashes=False: "a//b" is refused, not redirected to another file.
@bp.get("/<namespace>/<name>/raw/<ref>/<path:path>", merge_slashes=False)
def raw_file(namespace: str, name: str, ref: str, path: str) -> Response:
    found = templates().raw_file(_reader(), RepoId(namespace, name), ref, path)
    resolved, path = found.resolved, found.path
    return _answer(found, f"/{namespace}/{name}/raw/{resolved.sha}/{quote(path)}",
                   cache_control(resolved, found.info.private), found.info.private)


@bp.get("/<namespace>/<name>/signed/<signature>/raw/<commit>/<path:path>",
        merge_slashes=False)
def signed_raw_file(namespace: str, name: str, signature: str, commit: str,
                    path: str) -> Response:
    found = templates().signed_raw_file(RepoId(namespace, name), signature, commit, path,
                                        time.time())
    note_caller(request.environ, Principal(SIGNED_URL_READER, Role.READER, namespace))
    # Never kept by a shared cache: the URL must stop working when it expires.
    return _answer(found, request.path, "private, no-store", True)


def _answer(found: RawFile, location: str, cache: str, private: bool) -> Response:
    """The file, or 304, with the headers every raw answer carries."""
    path = found.path
    etag = str(found.blob.id)
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": cache,
        "Content-Location": location,
        "X-Heater-Commit": found.resolved.sha,
        **SECURITY_HEADERS,
    }
    if private:
        headers["Vary"] = "Authorization, X-Auth-Token, Cookie"
    if found.yank is not None:
        headers["X-Heater-Yanked"] = header_text(str(found.yank.get("reason") or "yanked"))
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers=headers)
    headers["Content-Length"] = str(found.size)
    if request.method == "HEAD":
        return Response(status=200, headers=headers, content_type=content_type(path))
    # A large file comes from a git process in bounded chunks, never whole.
    body: bytes | BlobStream = (BlobStream(found.repo_path, etag) if found.size > STREAM_ABOVE
                                else found.blob.data)
    return Response(body, status=200, headers=headers, content_type=content_type(path),
                    direct_passthrough=True)
