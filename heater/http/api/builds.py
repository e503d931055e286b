"""REST endpoints for image builds (``/api/v1/builds/<uuid>``): state, the
binary upload, the download with Range requests, publishing to Glance and
deletion.

The upload reads ``wsgi.input`` itself, in bounded chunks, and never goes
through Flask's body parsing, so the JSON size limit does not apply and a
body of any size (with Content-Length or chunked) streams to the blob store.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.datastructures import Range
from werkzeug.wsgi import wrap_file

from heater.blobs import CHUNK, ReadsInto
from heater.errors import InvalidValue, UnsupportedMediaType
from heater.http.body import request_body
from heater.http.context import caller, registry
from heater.http.publicurl import base_url, link
from heater.images.builds import Status
from heater.images.digests import UploadIncomplete
from heater.images.service import Build, Images

bp = Blueprint("builds_api", __name__, url_prefix="/api/v1/builds")

BINARY = "application/octet-stream"


def images() -> Images:
    return Images(registry())


def build_json(build: Build) -> dict[str, object]:
    """A build as ``GET /api/v1/builds/<id>`` answers it."""
    shown = build.as_json()
    if build.status is Status.QUEUED:
        shown["upload_url"] = link(f"/api/v1/builds/{build.id}/file")
    return shown


@bp.get("/<build_id>")
def get_build(build_id: str) -> Response:
    return jsonify(build_json(images().get(caller(), build_id)))


@bp.delete("/<build_id>")
def delete_build(build_id: str) -> Response:
    glance = request.args.get("glance", "keep")
    if glance not in ("keep", "delete"):
        raise InvalidValue("glance", f"glance must be keep or delete, not {glance!r}")
    return jsonify(images().delete(caller(), build_id, delete_published=glance == "delete"))


@bp.get("/<build_id>/referrers")
def referrers(build_id: str) -> Response:
    found = images().referrers(caller(), build_id)
    return jsonify({"referrers": [referrer.as_json() for referrer in found]})


@bp.post("/<build_id>/publish")
def publish(build_id: str) -> Response:
    return jsonify(images().publish(caller(), build_id, base_url()).as_json())


@bp.put("/<build_id>/file")
def upload(build_id: str) -> Response:
    if request.mimetype not in ("", BINARY):
        raise UnsupportedMediaType(f"send the image as Content-Type: {BINARY}")
    body = _Received(request_body(request.environ))
    build = images().upload(caller(), build_id, body, request.content_length)
    return jsonify(build_json(build))


class _Received:
    """The request body, a failure of the server's reader being a broken upload."""

    def __init__(self, body: ReadsInto) -> None:
        self._body = body
        self.received = 0

    def readinto(self, buffer: memoryview, /) -> int:
        try:
            got = self._body.readinto(buffer)
        except Exception as exc:
            raise UploadIncomplete(self.received, None) from exc
        self.received += got
        return got


@bp.route("/<build_id>/file", methods=["GET", "HEAD"])
def download(build_id: str) -> Response:
    service = images()
    build = service.uploaded(caller(), build_id)
    size = build.size or 0
    etag = build.sha256 or build.id
    headers = {
        "ETag": f'"{etag}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache" if build.private else "public, no-cache",
        "Content-Disposition": f'attachment; filename="{build.id}.{_extension(build)}"',
    }
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    seconds = current_app.config.get("BLOB_REDIRECT_SECONDS", 0)
    if seconds and request.method == "GET":
        url = service.signed_url(build, seconds)
        if url is not None:  # the client's Range goes along to the store
            return Response(status=302, headers={"Location": url, "ETag": f'"{etag}"',
                                                 "Cache-Control": "private, no-store"})
    start, stop, status = 0, size, 200
    wanted = request.range
    if wanted is not None and wanted.units == "bytes" and len(wanted.ranges) == 1 and (
            _range_still_valid(request.headers.get("If-Range"), etag)):
        bounds = _bounds(wanted, size)
        if bounds is None:
            return _unsatisfiable(size, headers)
        start, stop = bounds
        status = 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    headers["Content-Length"] = str(stop - start)
    if request.method == "HEAD":
        return Response(status=status, headers=headers, content_type=BINARY)
    reader = service.read(build, start, stop)
    # wrap_file hands the reader to the server's file wrapper, so gunicorn
    # can sendfile() the range (it sends exactly Content-Length bytes).
    return Response(wrap_file(request.environ, reader, CHUNK), status=status,  # type: ignore[arg-type]
                    headers=headers, content_type=BINARY, direct_passthrough=True)


def _range_still_valid(if_range: str | None, etag: str) -> bool:
    """Whether a Range applies given ``If-Range`` (RFC 9110 13.1.5): no
    header, or the current strong ETag. A date would be compared with
    Last-Modified, which a build does not send, so it never matches: the
    client gets the whole file rather than a part of another one."""
    return if_range is None or if_range.strip() == f'"{etag}"'


def _bounds(wanted: Range, size: int) -> tuple[int, int] | None:
    """``[start, stop)`` of the one range asked for, None if unsatisfiable.
    A suffix longer than the file means the whole file (RFC 9110 14.1.2),
    which werkzeug refuses."""
    start, end = wanted.ranges[0]
    if start < 0 and end is None:
        return (max(size + start, 0), size) if size else None
    return wanted.range_for_length(size)


def _unsatisfiable(size: int, headers: dict[str, str]) -> Response:
    response = jsonify({"error": {"code": "range_not_satisfiable",
                                  "message": f"the range is outside the {size} bytes"}})
    response.status_code = 416
    response.headers.update(headers)
    response.headers["Content-Range"] = f"bytes */{size}"
    return response


def _extension(build: Build) -> str:
    return str(build.manifest.get("disk_format", "img"))
