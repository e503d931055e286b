"""A large request body (an image's bytes) read in filled chunks.

``heater serve``'s worker puts a reader of the body that reads the client
socket straight into the caller's buffer in the environ, under
:data:`SOCKET_BODY_ENV`: gunicorn's ``wsgi.input`` copies every block
through two buffers of its own, and a profile of a 1 GiB upload found the
request thread spending most of its time there. Under another WSGI server
``wsgi.input`` is read as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, Protocol

SOCKET_BODY_ENV = "heater.socket_body"


class ReadsInto(Protocol):
    def readinto(self, buffer: memoryview, /) -> int:
        """Bytes put at the start of ``buffer``; 0 at the end of the body."""


def body_chunks(environ: dict[str, Any], size: int) -> Iterator[bytes | bytearray]:
    """The request body in chunks of ``size`` bytes, the last one shorter.

    Each chunk is new (consumers may keep it for a while: a hashing thread),
    so the reading is the only copy made."""
    into: ReadsInto | None = environ.get(SOCKET_BODY_ENV)
    if into is None:
        body: IO[bytes] = environ["wsgi.input"]
        while data := body.read(size):
            yield data
        return
    while True:
        chunk = bytearray(size)
        view = memoryview(chunk)
        filled = 0
        while filled < size and (got := into.readinto(view[filled:])):
            filled += got
        view.release()
        if filled < size:
            del chunk[filled:]
        if chunk:
            yield chunk
        if filled < size:
            return
