"""The gunicorn worker of ``heater serve``: gthread, with request headers
read by the worker's event loop before a thread is taken.

Stock gthread hands a connection to a thread as soon as a byte arrives, and
the thread then blocks until the request headers are complete: forty
clients sending a header line a second hold every thread of two workers, and
``/healthz`` waits behind them. Here the main loop reads the headers itself,
non-blocking, with a deadline; only a complete request head reaches a
thread, whose parser finds it already buffered. The body is then read by the
thread as it streams (a git push is never buffered whole), but each read and
write of the socket has an idle deadline, so a client that stops sending or
reading ends its request instead of holding the thread.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import resource
import selectors
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.http.body import Body, LengthReader
from gunicorn.workers.gthread import TConn, ThreadWorker

from heater.http.body import SOCKET_BODY_ENV

# The whole request head (request line and headers) must arrive within this
# time of the connection being accepted, or of a kept-alive connection
# becoming readable again; then the client gets 408.
HEADER_TIMEOUT = 10.0
# Once a thread serves the request: the longest a read of the body or a write
# of the response may wait for the client (git keeps both moving).
BODY_IDLE_TIMEOUT = 60.0
# The largest request head read before a thread is used; every client Heater
# serves sends a few hundred bytes.
HEADER_BYTES_LIMIT = 64 * 1024
READ_CHUNK = 16 * 1024
# Connections one worker holds at once (most of them waiting in the event
# loop, which costs a descriptor and a small buffer each).
WORKER_CONNECTIONS = 4096
HEAD_END = b"\r\n\r\n"


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (never above
    the hard limit, never lower than it is); the soft limit now in force
    (``sys.maxsize`` for none)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return sys.maxsize
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def _error_response(status: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


REQUEST_TIMEOUT = _error_response(
    "408 Request Timeout", "request_timeout",
    f"the request headers did not arrive within {HEADER_TIMEOUT:g} s")
HEADERS_TOO_LARGE = _error_response(
    "431 Request Header Fields Too Large", "headers_too_large",
    f"the request headers exceed {HEADER_BYTES_LIMIT} bytes")


class _ClientSocket(socket.socket):
    """A client connection that, made blocking (as gthread does before a
    thread reads from it), still waits at most BODY_IDLE_TIMEOUT per call."""

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(BODY_IDLE_TIMEOUT)
        else:
            super().setblocking(False)


@dataclass
class _Head:
    """A connection whose request head is still arriving."""

    deadline: float
    data: bytearray = field(default_factory=bytearray)


class SocketBody:
    """A request body of known length read from the client socket straight
    into the caller's buffer (see :mod:`heater.http.body`). Whatever
    gunicorn's parser already holds of it comes first, and gunicorn's count
    of what is left goes down with each read, so that the connection's next
    request is still found where it starts."""

    def __init__(self, body: Body, sock: socket.socket) -> None:
        self._body = body
        self._reader: LengthReader = body.reader
        self._sock = sock

    def readinto(self, buffer: memoryview, /) -> int:
        spare = self._body.buf.getvalue()
        if spare:  # read ahead through wsgi.input: already counted
            got = min(len(buffer), len(spare))
            buffer[:got] = spare[:got]
            self._body.buf = io.BytesIO()
            self._body.buf.write(spare[got:])
            return got
        wanted = min(len(buffer), int(self._reader.length))
        if wanted <= 0:
            return 0
        try:
            held = self._reader.unreader.take_buffered()  # read with the head
            if held:
                got = min(wanted, len(held))
                buffer[:got] = held[:got]
                if got < len(held):  # a pipelined request's
                    self._reader.unreader.unread(held[got:])
            else:
                got = self._sock.recv_into(buffer[:wanted])
        except Exception:
            self._body.failed = True  # where the next request starts is unknown
            raise
        if not got:  # the client closed before the end
            self._body.failed = True
        self._reader.length -= got
        return got


class HeaderReadingWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with request heads read in the event loop under a deadline,
    and a body of known length readable straight from the socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heads: dict[Any, _Head] = {}
        # Connections in the order their deadlines fall (all have the same
        # timeout); one that left for a thread is skipped when reached.
        self.head_deadlines: deque[tuple[float, Any]] = deque()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app: Any = getattr(self, "wsgi")  # noqa: B009  (set by gunicorn, untyped)

        def with_socket_body(environ: dict[str, Any], start_response: Any) -> Any:
            body, sock = environ.get("wsgi.input"), environ.get("gunicorn.socket")
            if isinstance(body, Body) and isinstance(body.reader, LengthReader) and sock:
                environ[SOCKET_BODY_ENV] = SocketBody(body, sock)
            return app(environ, start_response)

        self.wsgi = with_socket_body

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        client_sock = _ClientSocket(fileno=client_sock.detach())
        self._read_head(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection has its next request coming."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        """As gthread, except that a request the client pipelined behind the
        one just served, and whose head is not complete yet, is read here
        too rather than by a thread."""
        if (self.alive and not fs.cancelled() and fs.exception() is None
                and fs.result() is True and conn.parser.unreader.buf.getvalue()):
            data = conn.parser.unreader.take_buffered()
            if HEAD_END not in data:
                self._read_head(conn, data)
                return
            conn.parser.unreader.unread(data)
        super().finish_request(conn, fs)

    def _read_head(self, conn: Any, data: bytes = b"") -> None:
        conn.sock.setblocking(False)
        head = _Head(time.monotonic() + HEADER_TIMEOUT, bytearray(data))
        self.heads[conn] = head
        self.head_deadlines.append((head.deadline, conn))
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self._on_head_readable, conn))

    def _on_head_readable(self, conn: Any, client: Any) -> None:
        head = self.heads[conn]
        try:
            data = conn.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before sending a request
            self._drop_head(conn)
            return
        searched_from = max(0, len(head.data) - len(HEAD_END) + 1)
        head.data += data
        if head.data.find(HEAD_END, searched_from) >= 0:
            self._to_thread(conn, bytes(head.data))
        elif len(head.data) > HEADER_BYTES_LIMIT:
            self._drop_head(conn, HEADERS_TOO_LARGE)

    def _to_thread(self, conn: Any, data: bytes) -> None:
        """Hand a connection whose request head is buffered to a thread."""
        self.poller.unregister(conn.sock)
        del self.heads[conn]
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(data)
        conn.data_ready = True  # no thread may wait for the first byte
        self.enqueue_req(conn)

    def _drop_head(self, conn: Any, answer: bytes | None = None) -> None:
        """Close a connection still reading its head, answering ``answer``
        first if the client is still there to read it."""
        self.poller.unregister(conn.sock)
        del self.heads[conn]
        self.nr_conns -= 1
        with contextlib.suppress(OSError):
            if answer:
                conn.sock.send(answer)  # small: fits the empty send buffer
                # Unread request bytes at close() would make the kernel
                # reset the connection and the client could lose the answer.
                while conn.sock.recv(READ_CHUNK):
                    pass
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        conn.close()

    def murder_pending(self) -> None:
        """gthread's loop calls this every turn (at least once a second):
        also close the connections whose head is late, or all of them once
        the worker stops (none of them has a request being served)."""
        super().murder_pending()
        now = time.monotonic()
        while self.head_deadlines:
            deadline, conn = self.head_deadlines[0]
            if self.alive and deadline > now:
                break
            self.head_deadlines.popleft()
            head = self.heads.get(conn)
            if head is not None and head.deadline == deadline:
                self._drop_head(conn, REQUEST_TIMEOUT if self.alive else None)
