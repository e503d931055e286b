"""Image bytes on S3 (``blobs = "s3"``), through botocore: AWS, or any
server that speaks the S3 API (Swift's s3api, Ceph RGW, MinIO...).

A blob is the object ``<bucket>/<blob id>``. One that fits in a part
(``blob_part_bytes``, at least 5 MiB, S3's floor) is one PUT; a larger one
is a multipart upload, visible only once completed. Write-once: the PUT
and the completion say ``If-None-Match: *``; a server that does not
support conditional writes (Swift's s3api answers NotImplemented) gets a
HEAD just before them instead, which leaves a window for two writers of
one id (Heater's upload lock already keeps them apart). Multipart uploads
that a dead process left are aborted by :meth:`S3BlobStore.abandoned` once
older than the cleanup grace period.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.config
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from heater.blobs import (
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
    MIN_PART_BYTES,
    BodyReader,
    EmptyReader,
    PartedWriter,
    PartReader,
    translated,
)
from heater.names import check_blob_id

TIMEOUT_SECONDS = 60
_MISSING = ("404", "NoSuchKey", "NotFound")

_translated = translated("S3", ClientError, BotoCoreError)


@dataclass(frozen=True)
class S3Settings:
    endpoint: str  # empty: AWS's endpoint for the region
    bucket: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = "us-east-1"
    part_bytes: int = DEFAULT_PART_BYTES
    parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT


class S3BlobStore(BlobStore):
    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        config = botocore.config.Config(
            # Path-style works everywhere; virtual hosts need DNS per bucket.
            s3={"addressing_style": "path"}, signature_version="s3v4",
            connect_timeout=TIMEOUT_SECONDS, read_timeout=TIMEOUT_SECONDS,
            retries={"max_attempts": 3, "mode": "standard"},
            # Checksums only where S3 requires them: servers other than AWS
            # (s3api) refuse the newer trailing-checksum uploads.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=32)
        # botocore's clients are thread-safe; one serves every thread.
        self.client: Any = botocore.session.get_session().create_client(
            "s3", endpoint_url=settings.endpoint or None, region_name=settings.region,
            aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key,
            config=config)
        self._bucket_ready = False
        self.conditional_writes = True  # until the server says otherwise

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except ClientError as again:  # another node made it meanwhile
                if _code(again) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    # -- BlobStore ------------------------------------------------------------

    @_translated
    def writer(self, blob_id: str) -> S3Writer:
        self._ensure_bucket()
        if self._size(blob_id) is not None:
            raise BlobExists(blob_id)
        return S3Writer(self, blob_id, max(self.settings.part_bytes, MIN_PART_BYTES),
                        self.settings.parts_in_flight)

    @_translated
    def open(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader:
        size = self.stat(blob_id).size
        stop = check_range(size, start, end)
        if stop == start:
            return EmptyReader()
        extra = {} if (start, stop) == (0, size) else {"Range": f"bytes={start}-{stop - 1}"}
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=blob_id, **extra)
        except ClientError as exc:
            if _code(exc) in _MISSING:  # deleted since the HEAD
                raise BlobNotFound(blob_id) from None
            raise
        return BodyReader(answer["Body"])

    @_translated
    def stat(self, blob_id: str) -> BlobStat:
        size = self._size(blob_id)
        if size is None:
            raise BlobNotFound(blob_id)
        return BlobStat(size)

    @_translated
    def url_for(self, blob_id: str, expires_in: int) -> str:
        """A presigned GET (signature v4, computed here: no request)."""
        return str(self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_blob_id(blob_id)},
            ExpiresIn=expires_in))

    @_translated
    def delete(self, blob_id: str) -> bool:
        # S3's DELETE answers 204 whether or not the key existed.
        if self._size(blob_id) is None:
            return False
        self.client.delete_object(Bucket=self.bucket, Key=blob_id)
        return True

    def stored(self, page: int = LIST_PAGE) -> Iterator[StoredBlob]:
        """The bucket's objects, ``page`` keys a request (ListObjectsV2,
        each page asked with the continuation token of the one before)."""
        token: str | None = ""
        while token is not None:
            answer = self._listing_page(token, page)
            for entry in answer.get("Contents", []):
                if is_blob_id(entry["Key"]):
                    yield StoredBlob(entry["Key"], int(entry["Size"]),
                                     entry["LastModified"].timestamp())
            token = answer.get("NextContinuationToken") if answer.get("IsTruncated") else None

    @_translated
    def _listing_page(self, token: str, limit: int) -> dict[str, Any]:
        more = {"ContinuationToken": token} if token else {}
        try:
            return dict(self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=limit, **more))
        except ClientError as exc:
            if _code(exc) == "NoSuchBucket":  # nothing stored yet
                return {}
            raise

    @_translated
    def abandoned(self, cutoff: float) -> list[str]:
        """Abort the multipart uploads begun before ``cutoff`` (a live
        upload finishes within the grace period)."""
        removed: list[str] = []
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                        removed.append(f"{self.bucket}/{upload['Key']} ({upload['UploadId']})")
        except ClientError as exc:
            if _code(exc) != "NoSuchBucket":
                raise
        return removed

    # -- helpers ----------------------------------------------------------------

    def _size(self, blob_id: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=check_blob_id(blob_id))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return int(head["ContentLength"])

    def conditional(self, blob_id: str, call: Any, **kwargs: Any) -> None:
        """``call`` (a PUT or a completion) only if ``blob_id`` is free."""
        if self.conditional_writes:
            try:
                call(IfNoneMatch="*", **kwargs)
                return
            except ClientError as exc:
                if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    raise BlobExists(blob_id) from None
                if _code(exc) != "NotImplemented":
                    raise
                self.conditional_writes = False
                if "Body" in kwargs:  # read by the refused attempt
                    kwargs["Body"].seek(0)
        if self._size(blob_id) is not None:
            raise BlobExists(blob_id)
        call(**kwargs)


class S3Writer(PartedWriter):
    def __init__(self, store: S3BlobStore, blob_id: str, part_bytes: int,
                 parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT) -> None:
        super().__init__(part_bytes, parts_in_flight)
        self._store = store
        self._blob_id = blob_id
        self._upload_id: str | None = None
        self._starting = threading.Lock()  # the first parts may be sent at once
        self._etags: dict[int, str] = {}

    @_translated
    def _put_whole(self, data: PartReader) -> None:
        self._store.conditional(self._blob_id, self._store.client.put_object,
                                Bucket=self._store.bucket, Key=self._blob_id, Body=data)

    @_translated
    def _put_part(self, number: int, data: PartReader) -> None:
        client = self._store.client
        with self._starting:
            if self._upload_id is None:
                self._upload_id = client.create_multipart_upload(
                    Bucket=self._store.bucket, Key=self._blob_id)["UploadId"]
        answer = client.upload_part(Bucket=self._store.bucket, Key=self._blob_id,
                                    UploadId=self._upload_id, PartNumber=number, Body=data)
        self._etags[number] = answer["ETag"]

    @_translated
    def _complete(self) -> None:
        parts = [{"PartNumber": n, "ETag": self._etags[n]} for n in sorted(self._etags)]
        self._store.conditional(self._blob_id, self._store.client.complete_multipart_upload,
                                Bucket=self._store.bucket, Key=self._blob_id,
                                UploadId=self._upload_id, MultipartUpload={"Parts": parts})

    @_translated
    def _discard_parts(self) -> None:
        if self._upload_id is not None:
            self._store.client.abort_multipart_upload(
                Bucket=self._store.bucket, Key=self._blob_id, UploadId=self._upload_id)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
