"""The REST API over the standard library's HTTP client: JSON requests, and
uploads and downloads streamed in chunks with a digest and progress."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

from heater.blobs import CHUNK
from heater.client.progress import Progress


class ClientError(Exception):
    """Something the user should read; the command exits 1. ``status`` is
    the HTTP status of a refusal by the server, if that is what it is."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    """A response read whole (JSON and text answers are small)."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict[str, Any]:
        result = json.loads(self.body)
        if not isinstance(result, dict):
            raise ClientError(f"the server answered {type(result).__name__}, not a JSON object")
        return result


class Client:
    """A Heater server at ``url``, called with ``token`` when one is given."""

    def __init__(self, url: str, token: str | None) -> None:
        parts = urlsplit(url)
        if "://" not in url:  # "127.0.0.1:8080" reads as scheme "127.0.0.1"
            raise ClientError(f"the server URL {url!r} has no scheme; did you mean "
                              f"http://{url}?")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.parts = parts
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _connection(self) -> http.client.HTTPConnection:
        """A connection to the server, made now, so that failing to reach it
        is reported with the URL tried (a bare "Connection refused" does not
        say where)."""
        kind = (http.client.HTTPSConnection if self.parts.scheme == "https"
                else http.client.HTTPConnection)
        conn = kind(self.parts.hostname or "", self.parts.port, timeout=300)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise ClientError(f"cannot reach {self.url}: {exc.strerror or exc}") from None
        return conn

    def request(self, method: str, path: str, body: object = None,
                query: Mapping[str, str | Sequence[str] | None] | None = None) -> Answer:
        """``method path?query`` with ``body`` as JSON; a 4xx or 5xx answer
        is a :class:`ClientError` that says what the server said."""
        if query:
            pairs = [(key, value) for key, values in query.items() if values is not None
                     for value in ([values] if isinstance(values, str) else values)]
            path = f"{path}?{urlencode(pairs)}" if pairs else path
        conn = self._connection()
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
            conn.request(method, self.prefix + path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise ClientError(f"{method} {path}: {describe_error(response.status, payload)}",
                              response.status)
        return Answer(response.status, response.headers, payload)

    def json(self, method: str, path: str, body: object = None,
             query: Mapping[str, str | Sequence[str] | None] | None = None) -> dict[str, Any]:
        """The JSON object the server answers."""
        return self.request(method, path, body, query).json()

    def upload(self, path: str, source: IO[bytes], size: int, progress: Progress,
               digest: Any) -> tuple[int, bytes]:
        conn = self._connection()
        try:
            conn.putrequest("PUT", self.prefix + path)
            for key, value in {**self.headers, "Content-Type": "application/octet-stream",
                               "Content-Length": str(size)}.items():
                conn.putheader(key, value)
            conn.endheaders()
            while chunk := source.read(CHUNK):
                conn.send(chunk)
                digest.update(chunk)
                progress.advance(len(chunk))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def download(self, path: str, out: IO[bytes], progress: Progress, digest: Any) -> None:
        conn = self._connection()
        try:
            conn.request("GET", self.prefix + path, headers=self.headers)
            response = conn.getresponse()
            if response.status != 200:
                raise ClientError(f"GET {path}: {describe_error(response.status, response.read())}",
                                  response.status)
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                progress.advance(len(chunk))
        finally:
            conn.close()


def describe_error(status: int, body: bytes) -> str:
    """An error answer as ``status code: message``, or ``HTTP status`` when
    its body is not Heater's JSON error."""
    try:
        error = json.loads(body)["error"]
        return f"{status} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"
