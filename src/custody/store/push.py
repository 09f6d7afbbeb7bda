"""custody store push: a verified bundle folder into write-once object storage.

Order of work, so that an interruption at any moment leaves either nothing
or a resumable prefix and never anything that passes for a whole bundle:
the bundle is verified locally first; then every payload file, then every tag
file, and the tag manifest last. Each file is read once, in pieces held in
memory; each piece's SHA-256 travels with it (x-amz-checksum-sha256), so the
server refuses bytes that changed on the way, and the whole file's SHA-256 is
compared with the bundle's manifest before the object becomes visible (a
single PUT, or the completion of a multipart upload). Objects are created
with If-None-Match: * and Object Lock retention in compliance mode; objects
already there (an earlier, interrupted push) are checked against the local
file's checksums and not sent again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..bundle import layout
from ..errors import InputError, SourceChangedError, VerificationFailed
from ..fsutil import open_source_readonly
from ..progress import ProgressCallback, ProgressTracker
from ..workers import Cancelled, run_parallel
from .client import (
    S3Client,
    StoreError,
    b64,
    call,
    check_bucket,
    connect,
    error_code,
    list_keys,
    s3_errors,
)
from .location import S3Location

PART_SIZE = 16 << 20  # multipart above this; S3 allows 10,000 parts: 160 GB per file
COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class Retention:
    """Object Lock retention for every object of a push (mode None: no lock)."""

    mode: str | None
    retain_until: datetime | None
    source: str  # "--retain-until", "--retain-years", "bucket default", "none (--no-lock)"

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "retain_until": self.retain_until.strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.retain_until
            else None,
            "source": self.source,
        }


@dataclass(frozen=True)
class PushResult:
    """What `custody store push` did."""

    bundle: str
    location: str
    endpoint_url: str | None
    bundle_id: str | None
    case: str | None
    exhibit: str | None
    statement_sha256: str | None
    objects: int
    uploaded: int
    already_stored: int
    bytes_uploaded: int
    retention: Retention
    ledger_index: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "location": self.location,
            "endpoint_url": self.endpoint_url,
            "bundle_id": self.bundle_id,
            "case": self.case,
            "exhibit": self.exhibit,
            "statement_sha256": self.statement_sha256,
            "objects": self.objects,
            "uploaded": self.uploaded,
            "already_stored": self.already_stored,
            "bytes_uploaded": self.bytes_uploaded,
            "retention": self.retention.to_json(),
            "ledger_index": self.ledger_index,
        }


def add_years(moment: datetime, years: int) -> datetime:
    """The midnight (UTC) that ends the day `years` calendar years after
    `moment` (29 February becomes 28 February). Whole days: a push run again
    the same day asks for the same retention, and nothing is extended."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        later = day.replace(year=day.year + years)
    except ValueError:
        later = day.replace(year=day.year + years, day=28)
    return later + timedelta(days=1)


def choose_retention(
    *,
    lock_config: dict[str, Any],
    retain_until: datetime | None,
    retain_years: int | None,
    no_lock: bool,
    now: datetime,
    where: str,
) -> Retention:
    """The retention a push applies, from the options and the bucket. Pure.
    Raises InputError for a bucket without Object Lock (unless no_lock), for
    conflicting options and for a date that is not in the future."""
    if retain_until is not None and retain_years is not None:
        raise InputError("give --retain-until or --retain-years, not both")
    if no_lock:
        if retain_until is not None or retain_years is not None:
            raise InputError("--no-lock cannot be combined with a retention")
        return Retention(None, None, "none (--no-lock)")
    if not lock_config:
        raise InputError(
            "the bucket has no Object Lock: objects could be deleted or written over; "
            "use a bucket created with Object Lock, or give --no-lock",
            path=where,
        )
    if retain_years is not None:
        if retain_years < 1:
            raise InputError("--retain-years must be at least 1")
        return Retention(COMPLIANCE, add_years(now, retain_years), "--retain-years")
    if retain_until is not None:
        if retain_until <= now:
            raise InputError(f"--retain-until {retain_until:%Y-%m-%d} is not in the future")
        return Retention(COMPLIANCE, retain_until, "--retain-until")
    default = (lock_config.get("Rule") or {}).get("DefaultRetention") or {}
    if default.get("Years") or default.get("Days"):
        if default.get("Years"):
            until = add_years(now, int(default["Years"]))
        else:
            until = now + timedelta(days=int(default["Days"]))
        return Retention(str(default.get("Mode") or COMPLIANCE), until, "bucket default")
    raise InputError(
        "give --retain-until DATE or --retain-years N (the bucket sets no default retention, "
        "and a compliance lock cannot be shortened once set)",
        path=where,
    )


@dataclass(frozen=True)
class _Item:
    rel: str
    full: Path
    key: str
    size: int
    expected: str | None  # the manifest's SHA-256, None for the tag manifest itself


def _bundle_files(bundle: Path) -> Iterator[tuple[str, Path, int]]:
    stack = [(bundle, "")]
    while stack:
        folder, rel_dir = stack.pop()
        with os.scandir(folder) as it:
            for entry in sorted(it, key=lambda e: e.name):
                rel = rel_dir + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    yield rel, Path(entry.path), entry.stat(follow_symlinks=False).st_size
                else:
                    raise InputError("not a regular file; not pushed", path=entry.path)


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
    import base64

    whole = hashlib.sha256(b"".join(part_digests)).digest()
    return f"{base64.b64encode(whole).decode()}-{len(part_digests)}"


def _local_checksums(item: _Item) -> tuple[str, str]:
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


class _Pusher:
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

    def _where(self, item: _Item) -> str:
        return f"s3://{self.location.bucket}/{item.key}"

    def _lock_args(self) -> dict[str, Any]:
        if self.retention.mode is None:
            return {}
        return {
            "ObjectLockMode": self.retention.mode,
            "ObjectLockRetainUntilDate": self.retention.retain_until,
        }

    def _changed(self, item: _Item, digest: str) -> SourceChangedError:
        return SourceChangedError(
            f"SHA-256 is {digest}, the bundle's manifest says {item.expected}: "
            "the file changed after the bundle was verified; not pushed",
            path=str(item.full),
        )

    def check_existing(self, item: _Item) -> None:
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

    def _extend_retention(self, item: _Item, head: dict[str, Any]) -> None:
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
            "Key": item.key,
            "Retention": {"Mode": self.retention.mode, "RetainUntilDate": wanted},
        }
        if head.get("VersionId") not in (None, "null"):
            args["VersionId"] = head["VersionId"]
        call(self._where(item), self.client.put_object_retention, **args)

    def upload(self, item: _Item, stop: threading.Event) -> None:
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

    def _created(self, item: _Item, exc: BaseException) -> bool:
        """A conditional create refused because the object appeared meanwhile
        (another push): True when it is this very file, which then counts as
        already stored; False for any other failure. Raises StoreError when a
        different object took the key."""
        if error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return False
        self.check_existing(item)
        return True

    def _put_single(self, item: _Item, fd: int) -> bool:
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

    def _put_multipart(self, item: _Item, fd: int, stop: threading.Event) -> bool:
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


def _expected_digests(bundle: Path) -> dict[str, str]:
    """The SHA-256 each file must have: the payload manifest and the tag
    manifest (both already checked by the local verify)."""
    expected: dict[str, str] = {}
    for name in (layout.MANIFEST, layout.TAG_MANIFEST):
        try:
            listed, _ = layout.parse_manifest((bundle / name).read_bytes())
        except OSError as e:
            raise InputError(f"cannot read {name} ({e.strerror})", path=str(bundle)) from e
        expected.update(listed)
    return expected


def push_bundle(
    *,
    home: Path,
    bundle: Path,
    destination: str,
    policy: Any,
    signer: Any,
    retain_until: datetime | None = None,
    retain_years: int | None = None,
    no_lock: bool = False,
    endpoint_url: str | None = None,
    now: datetime | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int = 4,
) -> PushResult:
    """Push the bundle folder `bundle` to `destination` (s3://bucket/prefix):
    objects under prefix/<bundle folder name>/. Verifies it locally first
    (VerificationFailed before anything is sent), then uploads as described
    above, and records a `store` entry in the ledger. Raises InputError,
    StoreError, StoreUnreachable, SourceChangedError."""
    from ..actions import verify_with_home
    from ..ledger.store import Ledger

    now = now or datetime.now(UTC).replace(microsecond=0)
    target_root = S3Location.parse(destination)
    if bundle.is_symlink() or not bundle.is_dir():
        raise InputError("push takes a bundle folder (unpack an archive first)", path=str(bundle))
    bundle = bundle.resolve()
    report = verify_with_home(home=home, bundle=bundle, policy=policy)
    if not report.verified:
        raise VerificationFailed(
            "does not verify locally; nothing pushed: "
            + "; ".join(p.line() for p in report.problems),
            path=str(bundle),
        )
    location = target_root.child(bundle.name)
    client = connect(endpoint_url=endpoint_url, workers=workers)
    lock_config = check_bucket(client, location)
    retention = choose_retention(
        lock_config=lock_config,
        retain_until=retain_until,
        retain_years=retain_years,
        no_lock=no_lock,
        now=now,
        where=f"s3://{location.bucket}",
    )
    expected = _expected_digests(bundle)
    items = []
    for rel, full, size in _bundle_files(bundle):
        digest = expected.get(rel)
        if digest is None and rel != layout.TAG_MANIFEST:
            raise InputError("file is in no manifest; not pushed", path=str(full))
        items.append(_Item(rel, full, location.key_prefix + rel, size, digest))
    existing = {obj["Key"] for obj in list_keys(client, location, location.key_prefix)}
    payload = [i for i in items if not layout.is_tag_path(i.rel)]
    tags = [i for i in items if layout.is_tag_path(i.rel) and i.rel != layout.TAG_MANIFEST]
    last = [i for i in items if i.rel == layout.TAG_MANIFEST]
    todo = [i for i in payload if i.key not in existing]
    tracker = ProgressTracker("push", len(todo), sum(i.size for i in todo), on_progress)
    pusher = _Pusher(client, location, retention, tracker)
    pusher.abort_stale_uploads(location.key_prefix)

    # Objects already stored are all checked before anything is sent: a
    # different bundle under the same name is refused with the store untouched.
    run_parallel(
        lambda item, _stop: pusher.check_existing(item),
        [i for i in items if i.key in existing],
        workers=workers,
    )
    # Tag files after the payload and the tag manifest last: a bundle whose
    # tag manifest is in the store was pushed whole.
    for group in (payload, tags, last):
        run_parallel(pusher.upload, [i for i in group if i.key not in existing], workers=workers)
    tracker.finish()
    statement = report.statement or {}
    subject = {
        "bundle_id": statement.get("bundle_id"),
        "case": statement.get("case"),
        "exhibit": statement.get("exhibit"),
        "statement_sha256": report.statement_sha256,
        "location": str(location),
        "endpoint_url": endpoint_url,
        "objects": len(items),
        "retention": retention.to_json(),
    }
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action="store",
            subject=subject,
            signer=signer.key,
            signer_name=signer.name,
            time=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    return PushResult(
        bundle=str(bundle),
        location=str(location),
        endpoint_url=endpoint_url,
        bundle_id=statement.get("bundle_id"),
        case=statement.get("case"),
        exhibit=statement.get("exhibit"),
        statement_sha256=report.statement_sha256,
        objects=len(items),
        uploaded=pusher.uploaded,
        already_stored=pusher.already,
        bytes_uploaded=pusher.bytes_uploaded,
        retention=retention,
        ledger_index=appended.index,
    )
