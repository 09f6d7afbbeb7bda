"""The S3 source for verify: a bundle read in place from object storage.

Every object is streamed once (never written to disk) and hashed, on a few
threads like the folder path, into the same BundleScan the folder and archive
readers produce, so the same `evaluate` and the same report apply. Alongside,
each object's Object Lock state: retention mode and date, legal hold, and
whether it was written over or deleted after the push (earlier versions and
delete markers in a versioned bucket).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from custody.base.errors import NotABundleError
from custody.base.fsutil import unsafe_path_reason
from custody.base.models import Problem
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.base.utc import utc_text
from custody.base.workers import Cancelled, run_parallel
from custody.bundle.format import layout, pack, pack_read
from custody.bundle.read.scan import MAX_TAG_FILE_BYTES, BundleScan, ScannedFile
from custody.io.s3.client import S3Client, error_code, list_versions, s3_errors, translate
from custody.io.s3.location import S3Location
from custody.io.s3.pack_scan import Listed, read_packed

READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    """One object of a stored bundle and its lock."""

    path: str
    size: int
    version_id: str | None
    retention_mode: str | None
    retain_until: str | None
    legal_hold: bool
    earlier_versions: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "version_id": self.version_id,
            "retention_mode": self.retention_mode,
            "retain_until": self.retain_until,
            "legal_hold": self.legal_hold,
            "earlier_versions": self.earlier_versions,
        }


@dataclass
class StoredBundle:
    """A scan of a stored bundle, and what the store says about each object."""

    scan: BundleScan
    location: S3Location
    endpoint_url: str | None
    objects: list[StoredObject] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    layout: str = "files"  # or "packed": small files in tar segments (pack.py)

    def warnings(self) -> list[str]:
        """What a verifier should know about the lock, one line each."""
        out = []
        unlocked = [o.path for o in self.objects if o.retention_mode is None]
        if unlocked:
            out.append(
                f"{len(unlocked)} of {len(self.objects)} objects have no Object Lock retention "
                f"(first: {unlocked[0]}): they can be deleted or written over"
            )
        for o in self.objects:
            if o.earlier_versions:
                out.append(
                    f"{o.path}: written over in the store after it was pushed "
                    f"({o.earlier_versions} earlier version(s) kept)"
                )
        for path in self.deleted:
            out.append(f"{path}: deleted in the store (a delete marker hides its locked version)")
        return out

    def to_json(self) -> dict[str, Any]:
        dates = [o.retain_until for o in self.objects if o.retain_until is not None]
        return {
            "location": str(self.location),
            "endpoint_url": self.endpoint_url,
            "layout": self.layout,
            "object_count": len(self.objects),
            "all_locked": bool(self.objects) and all(o.retention_mode for o in self.objects),
            "retain_until_earliest": min(dates) if dates else None,
            "legal_holds": sum(1 for o in self.objects if o.legal_hold),
            "deleted": list(self.deleted),
            "objects": [o.to_json() for o in self.objects],
        }


def _iso(value: object) -> str | None:
    if isinstance(value, datetime):
        from datetime import UTC

        return utc_text(value.astimezone(UTC))
    return str(value) if value else None


def _wants_bytes(rel: str) -> bool:
    # As the folder reader: tag files verification reads, not the metadata file.
    return layout.is_tag_path(rel) and rel != layout.METADATA


def scan_stored_bundle(
    *,
    client: S3Client,
    location: S3Location,
    endpoint_url: str | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> StoredBundle:
    """Scan the bundle stored under `location` (s3://bucket/prefix/<bundle>).
    Raises NotABundleError when nothing like a bundle is there, StoreError or
    StoreUnreachable when the store cannot be read."""
    base = location.key_prefix
    versions, markers = list_versions(client, location, base)
    latest: dict[str, dict[str, Any]] = {}
    earlier: Counter[str] = Counter()
    for v in versions:
        if v.get("IsLatest", True):
            latest[v["Key"]] = v
        else:
            earlier[v["Key"]] += 1
    deleted = sorted(m["Key"][len(base) :] for m in markers if m.get("IsLatest"))
    if base + layout.BAGIT_TXT not in latest and base + layout.STATEMENT not in latest:
        raise NotABundleError(
            "no bundle stored here (no bagit.txt under this prefix)", path=str(location)
        )
    scan = BundleScan(location=str(location))
    stored = StoredBundle(scan=scan, location=location, endpoint_url=endpoint_url, deleted=deleted)
    items: list[tuple[str, str, str | None, int]] = []
    packed: dict[str, Listed] = {}
    for key in sorted(latest):
        v = latest[key]
        rel = key[len(base) :]
        if rel.endswith("/") and not v.get("Size"):
            continue  # a "folder" marker some tools create
        reason = unsafe_path_reason(rel)
        if reason is not None:
            scan.problems.append(Problem("unsafe_path", rel, f"object key rejected: {reason}"))
            scan.odd_paths.add(rel)
            continue
        version = v.get("VersionId")
        version = version if version not in (None, "null") else None
        if pack.is_pack_path(rel):
            packed[rel] = Listed(rel, version, v["Size"])
            continue
        items.append((rel, key, version, v["Size"]))
    payload = [size for rel, _, _, size in items if not layout.is_tag_path(rel)]
    tracker = ProgressTracker(
        "verify", len(payload), sum(payload) + sum(o.size for o in packed.values()), on_progress
    )
    stored.layout = "packed" if packed else "files"

    def read_one(
        item: tuple[str, str, str | None, int], stop: threading.Event
    ) -> tuple[str, ScannedFile | None, bytes | None, StoredObject | None, Problem | None]:
        rel, key, version, listed_size = item
        args: dict[str, Any] = {"Bucket": location.bucket, "Key": key}
        if version is not None:
            args["VersionId"] = version  # exactly the version listed, not a newer one
        try:
            response = client.get_object(**args)
        except Exception as e:
            code = error_code(e)
            if code is None:
                raise translate(e, f"{location}/{rel}") from e
            if code in ("NoSuchKey", "NoSuchVersion", "AccessDenied", "InvalidObjectState"):
                return (
                    rel,
                    None,
                    None,
                    None,
                    Problem("unreadable", rel, f"object cannot be read ({code})"),
                )
            raise translate(e, f"{location}/{rel}") from e
        body = response["Body"]
        h = hashlib.sha256()
        count = 0
        keep: list[bytes] | None = (
            [] if _wants_bytes(rel) and listed_size <= MAX_TAG_FILE_BYTES else None
        )
        is_payload = not layout.is_tag_path(rel)
        try:
            with s3_errors(f"{location}/{rel}"):
                while piece := body.read(READ_CHUNK):
                    h.update(piece)
                    count += len(piece)
                    if keep is not None:
                        keep.append(piece)
                        if count > MAX_TAG_FILE_BYTES:  # more than the listing said
                            keep = None
                    if is_payload:
                        tracker.add_bytes(len(piece))
                    if stop.is_set():
                        raise Cancelled
        finally:
            body.close()
        if is_payload:
            tracker.file_done()
        hold = response.get("ObjectLockLegalHoldStatus") == "ON"
        obj = StoredObject(
            path=rel,
            size=count,
            version_id=response.get("VersionId") or version,
            retention_mode=response.get("ObjectLockMode"),
            retain_until=_iso(response.get("ObjectLockRetainUntilDate")),
            legal_hold=hold,
            earlier_versions=earlier.get(key, 0),
        )
        data = b"".join(keep) if keep is not None else None
        return rel, ScannedFile(count, h.hexdigest()), data, obj, None

    results = run_parallel(read_one, items, workers=workers)
    for rel, scanned, data, obj, problem in results:
        scan.add(rel, scanned, data, problem)
        if scanned is not None and obj is not None:
            stored.objects.append(obj)
    if packed:
        singles = {rel for rel, _, _, _ in items}
        _read_packed(client, location, packed, stored, singles, earlier, tracker, workers)
    tracker.finish()
    chosen = {rel: version for rel, _, version, _ in items}
    scan.fetch = lambda rel: _fetch(client, location, rel, chosen.get(rel))
    return stored


def _read_packed(
    client: S3Client,
    location: S3Location,
    packed: dict[str, Listed],
    stored: StoredBundle,
    singles: set[str],
    earlier: Counter[str],
    tracker: ProgressTracker,
    workers: int | None,
) -> None:
    """The segments, each read once against the index, their members added
    to the scan as files of the bundle; the layout's problems to the scan's."""
    scan = stored.scan

    def member(m: pack_read.MemberRead) -> None:
        if not m.ok:
            return
        if m.path in singles:
            scan.problems.append(
                Problem(pack.PROBLEM, m.path, "stored twice: as its own object and in a segment")
            )
            return
        scan.add(m.path, ScannedFile(m.size, m.sha256), None, None)
        if not layout.is_tag_path(m.path):
            tracker.file_done()

    found = read_packed(
        client=client,
        location=location,
        listed=packed,
        on_member=member,
        on_bytes=tracker.add_bytes,
        on_index=lambda files: tracker.add_work(files, 0),
        workers=workers or 8,
    )
    scan.problems.extend(found.problems)
    for rel, size, response in sorted(found.responses, key=lambda r: r[0]):
        version = packed[rel].version
        stored.objects.append(
            StoredObject(
                path=rel,
                size=size,
                version_id=response.get("VersionId") or version,
                retention_mode=response.get("ObjectLockMode"),
                retain_until=_iso(response.get("ObjectLockRetainUntilDate")),
                legal_hold=response.get("ObjectLockLegalHoldStatus") == "ON",
                earlier_versions=earlier.get(location.key_prefix + rel, 0),
            )
        )


def _fetch(client: S3Client, location: S3Location, rel: str, version: str | None) -> bytes | None:
    """One object's bytes, read again (the metadata file, for the file table):
    the version that was hashed, or None when it cannot be read."""
    args: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key_prefix + rel}
    if version is not None:
        args["VersionId"] = version
    try:
        response = client.get_object(**args)
        data: bytes = response["Body"].read()
        return data
    except Exception:
        return None
