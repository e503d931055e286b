"""Image bytes on OpenStack Swift (``blobs = "swift"``), through
python-swiftclient; Keystone v3 through a keystoneauth1 session, or
tempauth (v1.0).

A blob is the object ``<container>/<blob id>``. One that fits in a part
(``blob_part_bytes``) is one PUT; a larger one is sent as segments to
``<container>_segments/<blob id>/<upload>/<n>`` and becomes a Static Large
Object when its manifest is PUT, the one request that makes it visible.
Every object PUT says ``If-None-Match: *``, so blobs are write-once in
Swift itself. Deleting a large blob deletes its segments with it
(``multipart-manifest=delete``). Segments of an upload that died are
removed by :meth:`SwiftBlobStore.abandoned` once older than the cleanup
grace period; the manifest names its upload, so the segments of a
committed blob are never taken for them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPException
from typing import Any
from urllib.parse import quote, urlsplit

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from swiftclient import client as swift
from swiftclient.utils import generate_temp_url

from heater.blobs import (
    CHUNK,
    LIST_PAGE,
    BlobExists,
    BlobNotFound,
    BlobReader,
    BlobStat,
    BlobStore,
    StoredBlob,
    check_range,
    is_blob_id,
)
from heater.blobs.parts import (
    DEFAULT_PART_BYTES,
    DEFAULT_PARTS_IN_FLIGHT,
    BodyReader,
    EmptyReader,
    PartedWriter,
    PartReader,
    translated,
)
from heater.names import check_blob_id

# Metadata on a large blob's manifest naming the upload its segments carry.
UPLOAD_META = "x-object-meta-heater-upload"
TIMEOUT_SECONDS = 60.0
# A few quick retries for a connection that a proxy closed; more would hold
# a request for minutes.
RETRIES = 2

# Keystone's refusals (a wrong password, Keystone down) are the store's too.
_translated = translated("Swift", swift.ClientException, ks_exceptions.ClientException)


@dataclass(frozen=True)
class SwiftSettings:
    """Where the container is and who Heater is there."""

    auth_url: str
    user: str
    key: str = field(repr=False)
    container: str = "heater"
    auth: str = "tempauth"  # or "keystone" (v3)
    project: str = ""
    user_domain: str = "Default"
    project_domain: str = "Default"
    region: str = ""
    part_bytes: int = DEFAULT_PART_BYTES
    parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT


class SwiftBlobStore(BlobStore):
    def __init__(self, settings: SwiftSettings) -> None:
        # swiftclient logs every request, curl line and headers, at INFO:
        # Heater's log keeps one line per request of its own.
        logging.getLogger("swiftclient").setLevel(logging.WARNING)
        self.settings = settings
        self.container = settings.container
        self.segments = f"{settings.container}_segments"
        # tempauth: one token for every thread, renewed when refused.
        self._auth: tuple[str, str] | None = None
        # keystone: the session caches and renews its token itself.
        self._session: ks_session.Session | None = None
        if settings.auth == "keystone":
            self._session = ks_session.Session(auth=v3.Password(
                auth_url=settings.auth_url, username=settings.user, password=settings.key,
                project_name=settings.project, user_domain_name=settings.user_domain,
                project_domain_name=settings.project_domain))
        self._containers_ready = False
        self._temp_url_key: str | None = None

    # -- connections -----------------------------------------------------------

    def _connect(self) -> swift.Connection:
        """A connection of its own for one operation: swiftclient's are not
        to be shared between threads, and one streaming a body is busy."""
        options = {"region_name": self.settings.region} if self.settings.region else {}
        if self._session is not None:
            return swift.Connection(session=self._session, os_options=options,
                                    retries=RETRIES, timeout=TIMEOUT_SECONDS)
        url, token = self._auth or (None, None)
        return swift.Connection(authurl=self.settings.auth_url, user=self.settings.user,
                                key=self.settings.key, preauthurl=url, preauthtoken=token,
                                retries=RETRIES, timeout=TIMEOUT_SECONDS)

    def _keep_token(self, conn: swift.Connection) -> None:
        if self._session is None and conn.url and conn.token:
            self._auth = (conn.url, conn.token)

    @contextlib.contextmanager
    def connection(self) -> Iterator[swift.Connection]:
        """A connection for one operation; the token it ends up with is kept."""
        conn = self._connect()
        try:
            yield conn
        finally:
            self._keep_token(conn)
            conn.close()

    def _ensure_containers(self, conn: swift.Connection) -> None:
        if self._containers_ready:
            return
        for name in (self.container, self.segments):
            conn.put_container(name)  # idempotent
        self._containers_ready = True

    # -- BlobStore ------------------------------------------------------------

    @_translated
    def writer(self, blob_id: str) -> SwiftWriter:
        with self.connection() as conn:
            self._ensure_containers(conn)
            if self._head(conn, blob_id) is not None:
                raise BlobExists(blob_id)
        return SwiftWriter(self, blob_id, self.settings.part_bytes,
                           self.settings.parts_in_flight)

    @_translated
    def open(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader:
        conn = self._connect()  # the body's own: it stays open while the body streams
        try:
            headers = self._head(conn, blob_id)
            self._keep_token(conn)
            if headers is None:
                raise BlobNotFound(blob_id)
            size = int(headers["content-length"])
            stop = check_range(size, start, end)
            if stop == start:
                conn.close()
                return EmptyReader()
            wanted = {} if (start, stop) == (0, size) else {"Range": f"bytes={start}-{stop - 1}"}
            _, body = conn.get_object(self.container, blob_id, resp_chunk_size=CHUNK,
                                      headers=wanted)
        except swift.ClientException as exc:
            conn.close()
            if exc.http_status == 404:  # deleted since the HEAD
                raise BlobNotFound(blob_id) from None
            raise
        except BaseException:
            conn.close()
            raise
        return BodyReader(body, conn.close)

    @_translated
    def stat(self, blob_id: str) -> BlobStat:
        with self.connection() as conn:
            headers = self._head(conn, blob_id)
        if headers is None:
            raise BlobNotFound(blob_id)
        return BlobStat(int(headers["content-length"]))

    @_translated
    def url_for(self, blob_id: str, expires_in: int) -> str:
        """A temp URL (Swift's tempurl middleware) signed with the container's
        key, which is set at first use if the container has none."""
        with self.connection() as conn:
            key = self._key(conn)
            storage = urlsplit(conn.url)
        path = f"{storage.path}/{quote(self.container)}/{check_blob_id(blob_id)}"
        signed = generate_temp_url(path, expires_in, key, "GET")
        return f"{storage.scheme}://{storage.netloc}{signed}"

    @_translated
    def delete(self, blob_id: str) -> bool:
        with self.connection() as conn:
            headers = self._head(conn, blob_id)
            if headers is None:
                return False
            large = headers.get("x-static-large-object", "").lower() == "true"
            try:
                conn.delete_object(self.container, check_blob_id(blob_id),
                                   query_string="multipart-manifest=delete" if large else None,
                                   headers={"Accept": "application/json"})
            except swift.ClientException as exc:
                if exc.http_status == 404:  # another delete won
                    return False
                raise
        return True

    def stored(self, page: int = LIST_PAGE) -> Iterator[StoredBlob]:
        """The container's objects, ``page`` names a request, each page
        asked from the last name of the one before (Swift's ``marker``)."""
        marker = ""
        while entries := self._listing_page(marker, page):
            for entry in entries:
                if is_blob_id(entry["name"]):
                    yield StoredBlob(entry["name"], int(entry["bytes"]),
                                     _listing_time(entry["last_modified"]))
            marker = entries[-1]["name"]

    @_translated
    def _listing_page(self, marker: str, limit: int) -> list[dict[str, Any]]:
        with self.connection() as conn:
            try:
                return list(conn.get_container(self.container, marker=marker, limit=limit)[1])
            except swift.ClientException as exc:
                if exc.http_status == 404:  # no container: nothing stored yet
                    return []
                raise

    @_translated
    def abandoned(self, cutoff: float) -> list[str]:
        """Delete the segments of uploads that never became a blob (their
        process died) and were last written before ``cutoff``."""
        removed: list[str] = []
        with self.connection() as conn:
            try:
                _, listing = conn.get_container(self.segments, full_listing=True)
            except swift.ClientException as exc:
                if exc.http_status == 404:
                    return removed
                raise
            uploads: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for entry in listing:
                blob_id, upload, _ = [*entry["name"].split("/"), "", ""][:3]
                uploads.setdefault((blob_id, upload), []).append(entry)
            for (blob_id, upload), entries in uploads.items():
                newest = max(_listing_time(e["last_modified"]) for e in entries)
                if newest >= cutoff or self._committed_upload(conn, blob_id) == upload:
                    continue
                for entry in entries:
                    with contextlib.suppress(swift.ClientException):
                        conn.delete_object(self.segments, entry["name"])
                        removed.append(f"{self.segments}/{entry['name']}")
        return removed

    # -- helpers ----------------------------------------------------------------

    def _head(self, conn: swift.Connection, blob_id: str) -> dict[str, str] | None:
        try:
            return dict(conn.head_object(self.container, check_blob_id(blob_id)))
        except swift.ClientException as exc:
            if exc.http_status == 404:
                return None
            raise

    def _committed_upload(self, conn: swift.Connection, blob_id: str) -> str | None:
        try:
            headers = conn.head_object(self.container, blob_id,
                                       query_string="multipart-manifest=get")
        except swift.ClientException as exc:
            if exc.http_status == 404:
                return None
            raise
        return str(headers.get(UPLOAD_META, "")) or None

    def _key(self, conn: swift.Connection) -> str:
        if self._temp_url_key is None:
            self._ensure_containers(conn)
            meta = "x-container-meta-temp-url-key"
            key = conn.head_container(self.container).get(meta)
            if not key:
                conn.post_container(self.container, {meta: secrets.token_hex(32)})
                # Read back: if two nodes set one at once, both use the winner's.
                key = conn.head_container(self.container)[meta]
            self._temp_url_key = str(key)
        return self._temp_url_key


class SwiftWriter(PartedWriter):
    def __init__(self, store: SwiftBlobStore, blob_id: str, part_bytes: int,
                 parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT) -> None:
        super().__init__(part_bytes, parts_in_flight)
        self._store = store
        self._blob_id = blob_id
        self._upload = uuid.uuid4().hex
        self._segments: dict[int, dict[str, object]] = {}  # by number: they end in any order

    def _segment(self, number: int) -> str:
        return f"{self._blob_id}/{self._upload}/{number:08d}"

    @_translated
    def _put_whole(self, data: PartReader) -> None:
        with self._store.connection() as conn:
            self._put(conn, self._store.container, self._blob_id, data)

    @_translated
    def _put_part(self, number: int, data: PartReader) -> None:
        with self._store.connection() as conn:
            etag = _send_file(conn, self._store.segments, self._segment(number), data, {})
            if etag is None:
                etag = conn.put_object(self._store.segments, self._segment(number), data,
                                       content_length=len(data), chunk_size=CHUNK)
        self._segments[number] = {"path": f"/{self._store.segments}/{self._segment(number)}",
                                  "etag": etag, "size_bytes": len(data)}

    @_translated
    def _complete(self) -> None:
        manifest = json.dumps([self._segments[n] for n in sorted(self._segments)]).encode()
        with self._store.connection() as conn:
            self._put(conn, self._store.container, self._blob_id, manifest,
                      query_string="multipart-manifest=put",
                      headers={UPLOAD_META: self._upload})

    @_translated
    def _discard_parts(self) -> None:
        with self._store.connection() as conn:
            for number in range(1, self.parts + 1):
                with contextlib.suppress(swift.ClientException):
                    conn.delete_object(self._store.segments, self._segment(number))

    def _put(self, conn: swift.Connection, container: str, name: str,
             data: bytes | PartReader, query_string: str | None = None,
             headers: dict[str, str] | None = None) -> None:
        reading = {"chunk_size": CHUNK} if isinstance(data, PartReader) else {}
        headers = {"If-None-Match": "*", **(headers or {})}
        try:
            if not (isinstance(data, PartReader) and query_string is None
                    and _send_file(conn, container, name, data, headers) is not None):
                conn.put_object(container, name, data, content_length=len(data), **reading,
                                query_string=query_string, headers=headers)
        except swift.ClientException as exc:
            if exc.http_status == 412:  # If-None-Match: another writer committed it
                raise BlobExists(self._blob_id) from None
            raise


def _send_file(conn: swift.Connection, container: str, name: str, data: PartReader,
               headers: dict[str, str]) -> str | None:
    """PUT a part from its memory file with ``sendfile``; its ETag. Through
    swiftclient, whose HTTP stack reads a body in 16 KiB blocks, each copied
    twice, sending cost 0.7 s of CPU per GiB; this, 0.2 s. None, and
    nothing sent, when the part has no memory file or the storage URL is
    not plain HTTP (through TLS the bytes pass through Python anyway).
    Failures as swiftclient raises them; a refused token is renewed once,
    and a connection that breaks is tried again, as swiftclient does."""
    if data.memory_file is None:
        return None
    if not conn.url or not conn.token:
        conn.url, conn.token = conn.get_auth()
    storage = urlsplit(conn.url)
    if storage.scheme != "http":
        return None
    path = f"{storage.path}/{quote(container)}/{quote(name)}"
    for attempt in range(RETRIES + 1):
        http = HTTPConnection(storage.hostname or "", storage.port or 80,
                              timeout=TIMEOUT_SECONDS)
        try:
            http.putrequest("PUT", path, skip_accept_encoding=True)
            for header, value in {**headers, "X-Auth-Token": conn.token,
                                  "Content-Length": str(len(data))}.items():
                http.putheader(header, value)
            http.endheaders()
            assert http.sock is not None  # connected by endheaders
            if len(data):  # sendfile counts from 1
                with open(data.memory_file, "rb", buffering=0, closefd=False) as part:
                    http.sock.sendfile(part, 0, len(data))
            response = http.getresponse()
            answer = response.read()
        except (ConnectionError, HTTPException):
            if attempt == RETRIES:
                raise
            continue
        finally:
            http.close()
        if response.status == 401 and attempt < RETRIES:
            conn.url = conn.token = None
            conn.url, conn.token = conn.get_auth()
            continue
        if not 200 <= response.status < 300:
            raise swift.ClientException(
                "Object PUT failed", http_scheme=storage.scheme, http_host=storage.hostname,
                http_port=storage.port, http_path=path, http_status=response.status,
                http_reason=response.reason, http_response_content=answer,
                http_response_headers=dict(response.getheaders()))
        return str(response.getheader("etag", "")).strip('"')
    raise AssertionError("unreachable")


def _listing_time(value: str) -> float:
    """A container listing's ``last_modified``: ISO 8601 in UTC, no zone."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
