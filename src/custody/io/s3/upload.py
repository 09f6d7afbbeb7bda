"""Sending files to object storage, each checked on the way (see push.py).

Each file is read once, in pieces held in memory; each piece's SHA-256
travels with it (x-amz-checksum-sha256) and the whole file's SHA-256 is
compared with the manifest before the object becomes visible. Creates are
conditional (If-None-Match: *): nothing is ever written over.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from custody.base.errors import InputError, SourceChangedError
from custody.base.fsutil import open_source_readonly
from custody.base.progress import ProgressTracker
from custody.base.workers import Cancelled
from custody.bundle.format import layout
from custody.io.s3.client import S3Client, StoreError, b64, call, error_code, s3_errors
from custody.io.s3.location import S3Location
from custody.io.s3.retention import Retention

PART_SIZE = 16 << 20  # multipart above this; S3 allows 10,000 parts: 160 GB per file


@dataclass(frozen=True)
class Item:
    """One bundle file to push: where it is, its key, and the SHA-256 the
    bundle's manifest gives it (None for the tag manifest itself)."""

    rel: str
    full: Path
    key: str
    size: int
    expected: str | None  # the manifest's SHA-256, None for the tag manifest itself


def _read_exactly(fd: int, size: int) -> bytes:
    pieces = []
    left = size
    while left > 0:
        piece = os.read(fd, min(left, 1 << 20))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


def _composite(part_digests: list[bytes]) -> str:
    """S3's composite checksum of a multipart object: SHA-256 of the parts'
    SHA-256 digests, base64, '-' and the number of parts."""
    whole = hashlib.sha256(b"".join(part_digests)).digest()
    return f"{base64.b64encode(whole).decode()}-{len(part_digests)}"


def _local_checksums(item: Item) -> tuple[str, str]:
    """(SHA-256 hex of the whole file, the checksum S3 keeps for it)."""
    fd = open_source_readonly(item.full)
    try:
        whole = hashlib.sha256()
        parts: list[bytes] = []
        while True:
            piece = _read_exactly(fd, PART_SIZE)
            if not piece:
                break
            whole.update(piece)
            parts.append(hashlib.sha256(piece).digest())
        digest = whole.hexdigest()
        if item.size <= PART_SIZE:
            return digest, b64(digest)
        return digest, _composite(parts)
    finally:
        os.close(fd)


class Uploader:
    """Sends the files of one push and checks those already stored; counts
    what it did. Thread-safe: the workers of a push share one."""

    def __init__(
        self,
        client: S3Client,
        location: S3Location,
        retention: Retention,
        tracker: ProgressTracker,
    ) -> None:
        self.client = client
        self.location = location
        self.retention = retention
        self.tracker = tracker
        self.lock = threading.Lock()
        self.uploaded = 0
        self.bytes_uploaded = 0
        self.already = 0

    def _where(self, item: Item) -> str:
        return f"s3://{self.location.bucket}/{item.key}"

    def _lock_args(self) -> dict[str, Any]:
        if self.retention.mode is None:
            return {}
        return {
            "ObjectLockMode": self.retention.mode,
            "ObjectLockRetainUntilDate": self.retention.retain_until,
        }

    def _changed(self, item: Item, digest: str) -> SourceChangedError:
        return SourceChangedError(
            f"SHA-256 is {digest}, the bundle's manifest says {item.expected}: "
            "the file changed after the bundle was verified; not pushed",
            path=str(item.full),
        )

    def check_existing(self, item: Item) -> None:
        """An object already at the key (an earlier push): accept it when it
        holds exactly the local file, and never write over it."""
        where = self._where(item)
        head = call(
            where,
            self.client.head_object,
            Bucket=self.location.bucket,
            Key=item.key,
            ChecksumMode="ENABLED",
        )
        digest, checksum = _local_checksums(item)
        if item.expected is not None and digest != item.expected:
            raise self._changed(item, digest)
        stored = head.get("ChecksumSHA256")
        metadata = head.get("Metadata") or {}
        same = head.get("ContentLength") == item.size and (
            stored == checksum or (stored is None and metadata.get("sha256") == digest)
        )
        if not same:
            raise StoreError(
                "the store already holds a different object under this key; "
                "nothing is written over (push to another prefix)",
                path=where,
            )
        self._extend_retention(item, head)
        with self.lock:
            self.already += 1

    def _extend_retention(self, item: Item, head: dict[str, Any]) -> None:
        self._extend_retention_key(item.key, head)

    def _extend_retention_key(self, key: str, head: dict[str, Any]) -> None:
        """Give an object stored earlier at least this push's retention
        (compliance mode allows extending, never shortening)."""
        wanted = self.retention.retain_until
        if self.retention.mode is None or wanted is None:
            return
        current = head.get("ObjectLockRetainUntilDate")
        if isinstance(current, datetime) and current >= wanted:
            return
        args: dict[str, Any] = {
            "Bucket": self.location.bucket,
            "Key": key,
            "Retention": {"Mode": self.retention.mode, "RetainUntilDate": wanted},
        }
        if head.get("VersionId") not in (None, "null"):
            args["VersionId"] = head["VersionId"]
        call(f"s3://{self.location.bucket}/{key}", self.client.put_object_retention, **args)

    def upload(self, item: Item, stop: threading.Event) -> None:
        fd = open_source_readonly(item.full)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputError("not a regular file; not pushed", path=str(item.full))
            if item.size <= PART_SIZE:
                created = self._put_single(item, fd)
            else:
                created = self._put_multipart(item, fd, stop)
        finally:
            os.close(fd)
        if not created:
            return  # another push stored this very file first: counted as already stored
        with self.lock:
            self.uploaded += 1
            self.bytes_uploaded += item.size
        if not layout.is_tag_path(item.rel):
            self.tracker.file_done()

    def _created(self, item: Item, exc: BaseException) -> bool:
        """A conditional create refused because the object appeared meanwhile
        (another push): True when it is this very file, which then counts as
        already stored; False for any other failure. Raises StoreError when a
        different object took the key."""
        if error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return False
        self.check_existing(item)
        return True

    def _put_single(self, item: Item, fd: int) -> bool:
        data = _read_exactly(fd, item.size + 1)
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != item.size or (item.expected is not None and digest != item.expected):
            raise self._changed(item, digest)
        try:
            self.client.put_object(
                Bucket=self.location.bucket,
                Key=item.key,
                Body=data,
                ChecksumSHA256=b64(digest),
                IfNoneMatch="*",
                Metadata={"sha256": digest},
                **self._lock_args(),
            )
        except Exception as e:
            if self._created(item, e):
                return False
            with s3_errors(self._where(item)):
                raise
        if not layout.is_tag_path(item.rel):
            self.tracker.add_bytes(item.size)
        return True

    def _put_multipart(self, item: Item, fd: int, stop: threading.Event) -> bool:
        where = self._where(item)
        bucket = self.location.bucket
        created = call(
            where,
            self.client.create_multipart_upload,
            Bucket=bucket,
            Key=item.key,
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": item.expected or ""},
            **self._lock_args(),
        )
        upload_id = created["UploadId"]
        completed = False
        try:
            whole = hashlib.sha256()
            parts: list[dict[str, Any]] = []
            total = 0
            while True:
                if stop.is_set():
                    raise Cancelled
                piece = _read_exactly(fd, PART_SIZE)
                if not piece:
                    break
                whole.update(piece)
                total += len(piece)
                part_sum = b64(hashlib.sha256(piece).hexdigest())
                number = len(parts) + 1
                answer = call(
                    where,
                    self.client.upload_part,
                    Bucket=bucket,
                    Key=item.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=piece,
                    ChecksumSHA256=part_sum,
                )
                parts.append(
                    {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": part_sum}
                )
                self.tracker.add_bytes(len(piece))
            digest = whole.hexdigest()
            if total != item.size or (item.expected is not None and digest != item.expected):
                raise self._changed(item, digest)
            try:
                self.client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=item.key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    IfNoneMatch="*",
                )
                completed = True
            except Exception as e:
                if self._created(item, e):
                    return False
                with s3_errors(where):
                    raise
            return True
        finally:
            if not completed:
                # Best effort: a later push clears what is left, too.
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(
                        Bucket=bucket, Key=item.key, UploadId=upload_id
                    )

    def abort_stale_uploads(self, prefix: str) -> None:
        """Multipart uploads left by a push that was killed: invisible, and
        in the way of nothing, but they hold storage until aborted."""
        with s3_errors(self.location):
            answer = self.client.list_multipart_uploads(Bucket=self.location.bucket, Prefix=prefix)
        for upload in answer.get("Uploads", []):
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(
                    Bucket=self.location.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
