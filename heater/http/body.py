"""A large request body (an image's bytes), read into the caller's buffers.

``heater serve``'s worker puts a reader of the body that reads the client
socket straight into the caller's buffer in the environ, under
:data:`SOCKET_BODY_ENV`: gunicorn's ``wsgi.input`` copies every block
through two buffers of its own, and a profile of a 1 GiB upload found the
request thread spending most of its time there. Under another WSGI server
``wsgi.input`` is read as usual.
"""

from __future__ import annotations

from typing import IO, Any

from heater.blobs import ReadsInto

SOCKET_BODY_ENV = "heater.socket_body"


def request_body(environ: dict[str, Any]) -> ReadsInto:
    """The request body, read into the caller's buffers."""
    into: ReadsInto | None = environ.get(SOCKET_BODY_ENV)
    return into if into is not None else _InputBody(environ["wsgi.input"])


class _InputBody:
    """``wsgi.input`` as a :class:`ReadsInto` (one copy more)."""

    def __init__(self, body: IO[bytes]) -> None:
        self._body = body

    def readinto(self, buffer: memoryview, /) -> int:
        data = self._body.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
