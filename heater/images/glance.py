"""Glance, the OpenStack image service, as the place a build is published.

Heater talks to Glance's v2 API as one OpenStack user of its own (an
application credential in configuration), over a keystoneauth session that
keeps its token fresh. An image is created under the build's UUID, its
bytes stream from the blob store in chunks, and Glance's own checksums are
compared with the build's before the publication counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from heater.auth.keystone import v3_url
from heater.errors import Conflict, Unavailable

TIMEOUT_SECONDS = 300  # one read or write of the socket, not the whole upload


class GlanceUnavailable(Unavailable):
    code = "glance_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Glance cannot take the image now ({detail}); nothing was "
                         "published, try again")


class GlanceNotConfigured(Conflict):
    """Publishing asked of a server set up to publish nowhere: a state of
    this registry, not an outage, so it is no 5xx."""

    code = "glance_not_configured"

    def __init__(self) -> None:
        super().__init__("this server publishes to no Glance: its operator sets "
                         "HEATER_GLANCE_CREDENTIAL and HEATER_KEYSTONE_URL")


class GlanceIdTaken(Conflict):
    """Glance holds (or once held: it never reuses a deleted id) another
    image under the build's id."""

    code = "glance_id_taken"

    def __init__(self, image_id: str) -> None:
        super().__init__(f"Glance already has an image {image_id} that is not this "
                         "build's (or had one and deleted it: Glance does not reuse ids)")
        self.image_id = image_id


class GlanceMismatch(Unavailable):
    """Glance holds other bytes than the build's (a transfer that went
    wrong): the image is deleted, nothing is recorded."""

    code = "glance_mismatch"

    def __init__(self, image_id: str, wanted: Mapping[str, object],
                 got: Mapping[str, object]) -> None:
        differ = ", ".join(f"{key} {got[key]!r} (expected {wanted[key]!r})"
                           for key in wanted if wanted[key] != got.get(key))
        super().__init__(f"Glance's copy of {image_id} differs from the build: {differ}; "
                         "try again")
        self.wanted = dict(wanted)
        self.got = dict(got)


@dataclass(frozen=True)
class GlanceImage:
    """What Glance says of an image."""

    id: str
    url: str
    status: str
    size: int | None
    checksum: str | None
    hash_algo: str | None
    hash_value: str | None
    properties: Mapping[str, Any]


class Glance:
    """Glance's v2 API, as the application credential ``credential``
    (id, secret) of ``keystone_url``; ``url`` overrides the catalog's
    public image endpoint."""

    def __init__(self, keystone_url: str, credential: tuple[str, str],
                 url: str | None = None) -> None:
        plugin = v3.ApplicationCredential(v3_url(keystone_url),
                                          application_credential_id=credential[0],
                                          application_credential_secret=credential[1])
        self.session = ks_session.Session(auth=plugin, timeout=TIMEOUT_SECONDS)
        self._url = url

    @property
    def url(self) -> str:
        if self._url is None:
            try:
                found = self.session.get_endpoint(service_type="image", interface="public")
            except ks_exceptions.ClientException as exc:
                raise GlanceUnavailable(f"Keystone: {type(exc).__name__}") from None
            if not found:
                raise GlanceUnavailable("Keystone's catalog has no public image endpoint")
            self._url = found.rstrip("/")
        return self._url

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.session.request(f"{self.url}{path}", method, raise_exc=False, **kwargs)
        except ks_exceptions.ClientException as exc:
            raise GlanceUnavailable(type(exc).__name__) from None

    def show(self, image_id: str) -> GlanceImage | None:
        """The image, None if Glance has none (or none this user may see)."""
        response = self._call("GET", f"/v2/images/{image_id}")
        if response.status_code == 404:
            return None
        _expect(response, 200, "reading the image")
        return self._image(response.json())

    def create(self, image_id: str, fields: Mapping[str, str]) -> GlanceImage:
        """A new, empty image record under ``image_id``; :class:`GlanceIdTaken`
        if the id is taken."""
        response = self._call("POST", "/v2/images", json={"id": image_id, **fields})
        if response.status_code == 409:
            raise GlanceIdTaken(image_id)
        _expect(response, 201, "creating the image")
        return self._image(response.json())

    def upload(self, image_id: str, source: Readable, size: int) -> None:
        """Stream ``size`` bytes from ``source`` into an image created by
        :meth:`create`, with their length said up front."""
        response = self._call("PUT", f"/v2/images/{image_id}/file", data=_Sized(source, size),
                              headers={"Content-Type": "application/octet-stream"})
        _expect(response, 204, "uploading the bytes")

    def delete(self, image_id: str) -> bool:
        """Delete the image; False if Glance had none."""
        response = self._call("DELETE", f"/v2/images/{image_id}")
        if response.status_code == 404:
            return False
        _expect(response, 204, "deleting the image")
        return True

    def _image(self, body: Mapping[str, Any]) -> GlanceImage:
        return GlanceImage(str(body["id"]), f"{self.url}/v2/images/{body['id']}",
                           str(body.get("status")), body.get("size"), body.get("checksum"),
                           body.get("os_hash_algo"), body.get("os_hash_value"), body)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Sized:
    """A reader whose length requests can see, so that it sends
    Content-Length and streams the body (a bare iterator would be chunked,
    which leaves Glance unable to refuse a wrong size up front)."""

    def __init__(self, source: Readable, size: int) -> None:
        self.source = source
        self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, size: int = -1) -> bytes:
        return self.source.read(size)


def _expect(response: Any, status: int, doing: str) -> None:
    if response.status_code != status:
        detail = response.text[:300].strip().replace("\n", " ")
        raise GlanceUnavailable(f"{doing} answered {response.status_code}: {detail}")
