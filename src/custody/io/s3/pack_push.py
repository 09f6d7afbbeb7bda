"""Sending the packed layout (bundle/format/pack.py): tar segments of small
files, and the index, each one object created exactly as a bundle file is
(upload.py): conditional, locked, every piece's SHA-256 checked by the server,
and each member's SHA-256 compared with the bundle's manifest as it is packed,
so a segment holding a file that changed after the local verify never
becomes visible.

A segment is built as it is sent, 16 MiB at a time: memory holds one part per
worker, never a whole segment.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import InputError, SourceChangedError
from custody.base.fsutil import open_source_readonly
from custody.base.workers import Cancelled
from custody.bundle.format import pack
from custody.io.s3.client import StoreError, b64, call, error_code, s3_errors
from custody.io.s3.upload import PART_SIZE, Uploader, _composite

READ_PIECE = 1 << 20


@dataclass(frozen=True)
class Blob:
    """An object made by custody (a segment or the index): its key and how to
    make its bytes again, in pieces of at most PART_SIZE."""

    rel: str
    key: str
    size: int


def _parts(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Pieces of exactly PART_SIZE bytes (the last one shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= PART_SIZE:
            yield bytes(buffer[:PART_SIZE])
            del buffer[:PART_SIZE]
    if buffer:
        yield bytes(buffer)


def segment_chunks(
    bundle: Path, segment: pack.Segment, stop: threading.Event | None = None
) -> Iterator[bytes]:
    """A segment's bytes, each member read once from the bundle and checked
    against its manifest SHA-256. Raises SourceChangedError for a file that
    changed, InputError for one that is not a regular file."""
    for m in segment.members:
        if stop is not None and stop.is_set():
            raise Cancelled
        full = bundle / m.rel
        yield pack.member_header(m.rel, m.size)
        fd = open_source_readonly(full)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputError("not a regular file; not pushed", path=str(full))
            h = hashlib.sha256()
            left = m.size
            while left > 0:
                piece = os.read(fd, min(left, READ_PIECE))
                if not piece:
                    break
                h.update(piece)
                left -= len(piece)
                yield piece
            extra = os.read(fd, 1)
        finally:
            os.close(fd)
        if left or extra or h.hexdigest() != m.sha256:
            raise SourceChangedError(
                "the file changed after the bundle was verified (size or SHA-256 is not the "
                "manifest's); not pushed",
                path=str(full),
            )
        yield bytes(pack.padding(m.size))
    yield pack.END_OF_ARCHIVE


def index_members(segments: list[pack.Segment]) -> Iterator[pack.IndexMember]:
    """Every packed file's index line, computed from the plan: a member's
    offset follows from the headers and sizes before it."""
    for s in segments:
        offset = 0
        for m in s.members:
            offset += len(pack.member_header(m.rel, m.size))
            yield pack.IndexMember(m.rel, s.number, offset, m.size, m.sha256)
            offset += m.size + pack.padding(m.size)


class PackSender:
    """Sends segments and the index for one push, through the push's Uploader
    (its retention, counters and progress)."""

    def __init__(self, uploader: Uploader, bundle: Path) -> None:
        self.up = uploader
        self.bundle = bundle
        self.lock = threading.Lock()
        self.digests: dict[int, str] = {}  # segment number -> SHA-256 of its bytes

    def _where(self, key: str) -> str:
        return f"s3://{self.up.location.bucket}/{key}"

    def key(self, rel: str) -> str:
        return self.up.location.key_prefix + rel

    # -- segments --------------------------------------------------------

    def send_segment(self, segment: pack.Segment, stop: threading.Event) -> None:
        payload = sum(m.size for m in segment.members)
        parts = _parts(segment_chunks(self.bundle, segment, stop))
        digest, created = self._send(self.key(segment.key), segment.size, parts, stop)
        with self.lock:
            self.digests[segment.number] = digest
        if created:
            with self.up.lock:
                self.up.uploaded += 1
                self.up.bytes_uploaded += segment.size
        else:
            self.check_segment(segment)
            return
        self.up.tracker.add_bytes(payload)
        for _ in segment.members:
            self.up.tracker.file_done()

    def check_segment(self, segment: pack.Segment) -> None:
        """A segment already stored (an earlier push): it must be exactly the
        segment this push would make; never written over."""
        digest = self._check_existing(
            self.key(segment.key), segment.size, _parts(segment_chunks(self.bundle, segment))
        )
        with self.lock:
            self.digests[segment.number] = digest

    # -- the index -------------------------------------------------------

    def index_chunks(self, segments: list[pack.Segment]) -> Iterator[bytes]:
        records = [
            pack.IndexSegment(s.number, s.key, s.size, self.digests[s.number], len(s.members))
            for s in segments
        ]
        return pack.index_bytes(records, index_members(segments))

    def index_size(self, segments: list[pack.Segment]) -> int:
        return sum(len(line) for line in self.index_chunks(segments))

    def send_index(self, segments: list[pack.Segment], existing: bool) -> None:
        key = self.key(pack.INDEX)
        size = self.index_size(segments)
        if existing:
            self._check_existing(key, size, _parts(self.index_chunks(segments)))
            return
        _, created = self._send(key, size, _parts(self.index_chunks(segments)), None)
        if created:
            with self.up.lock:
                self.up.uploaded += 1
                self.up.bytes_uploaded += size
        else:
            self._check_existing(key, size, _parts(self.index_chunks(segments)))

    # -- one object from pieces -------------------------------------------

    def _check_existing(self, key: str, size: int, parts: Iterator[bytes]) -> str:
        where = self._where(key)
        head = call(
            where,
            self.up.client.head_object,
            Bucket=self.up.location.bucket,
            Key=key,
            ChecksumMode="ENABLED",
        )
        whole = hashlib.sha256()
        digests = []
        for part in parts:
            whole.update(part)
            digests.append(hashlib.sha256(part).digest())
        digest = whole.hexdigest()
        checksum = b64(digest) if size <= PART_SIZE else _composite(digests)
        stored = head.get("ChecksumSHA256")
        metadata = head.get("Metadata") or {}
        same = head.get("ContentLength") == size and (
            stored == checksum or (stored is None and metadata.get("sha256") == digest)
        )
        if not same:
            raise StoreError(
                "the store already holds a different object under this key; "
                "nothing is written over (push to another prefix)",
                path=where,
            )
        self.up._extend_retention_key(key, head)
        with self.up.lock:
            self.up.already += 1
        return digest

    def _send(
        self,
        key: str,
        size: int,
        parts: Iterator[bytes],
        stop: threading.Event | None,
    ) -> tuple[str, bool]:
        """Create the object `key` from `parts`; (its SHA-256, True) when this
        push created it, (digest, False) when another push had created it
        first (the caller then checks it is the same)."""
        bucket = self.up.location.bucket
        where = self._where(key)
        if size <= PART_SIZE:
            data = b"".join(parts)
            digest = hashlib.sha256(data).hexdigest()
            if len(data) != size:
                raise StoreError(f"made {len(data)} bytes, expected {size}", path=where)
            try:
                self.up.client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=data,
                    ChecksumSHA256=b64(digest),
                    IfNoneMatch="*",
                    Metadata={"sha256": digest},
                    **self.up._lock_args(),
                )
            except Exception as e:
                if _appeared(e):
                    return digest, False
                with s3_errors(where):
                    raise
            return digest, True
        created = call(
            where,
            self.up.client.create_multipart_upload,
            Bucket=bucket,
            Key=key,
            ChecksumAlgorithm="SHA256",
            **self.up._lock_args(),
        )
        upload_id = created["UploadId"]
        completed = False
        try:
            whole = hashlib.sha256()
            done: list[dict[str, Any]] = []
            total = 0
            for piece in parts:
                if stop is not None and stop.is_set():
                    raise Cancelled
                whole.update(piece)
                total += len(piece)
                part_sum = b64(hashlib.sha256(piece).hexdigest())
                number = len(done) + 1
                answer = call(
                    where,
                    self.up.client.upload_part,
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=piece,
                    ChecksumSHA256=part_sum,
                )
                done.append(
                    {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": part_sum}
                )
            if total != size:
                raise StoreError(f"made {total} bytes, expected {size}", path=where)
            try:
                self.up.client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": done},
                    IfNoneMatch="*",
                )
                completed = True
            except Exception as e:
                if _appeared(e):
                    return whole.hexdigest(), False
                with s3_errors(where):
                    raise
            return whole.hexdigest(), True
        finally:
            if not completed:
                with contextlib.suppress(Exception):
                    self.up.client.abort_multipart_upload(
                        Bucket=bucket, Key=key, UploadId=upload_id
                    )


def _appeared(exc: BaseException) -> bool:
    """A conditional create refused because the object appeared meanwhile."""
    return error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict")
