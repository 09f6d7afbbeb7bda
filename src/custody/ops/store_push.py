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

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.base.errors import InputError, VerificationFailed
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.base.utc import utc_text
from custody.base.workers import run_parallel
from custody.bundle.format import layout, pack
from custody.io.s3.client import S3Client, check_bucket, connect, list_keys
from custody.io.s3.location import S3Location
from custody.io.s3.pack_push import PackSender
from custody.io.s3.retention import Retention, choose_retention
from custody.io.s3.upload import Item, Uploader


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
    files: int
    segments: int
    layout: str
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
            "files": self.files,
            "segments": self.segments,
            "layout": self.layout,
            "uploaded": self.uploaded,
            "already_stored": self.already_stored,
            "bytes_uploaded": self.bytes_uploaded,
            "retention": self.retention.to_json(),
            "ledger_index": self.ledger_index,
        }


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


def _layout_in_store(
    items: list[Item], existing: set[str], location: S3Location, *, packed: bool
) -> bool:
    """Whether to pack: the layout already under the prefix (an earlier push of
    this bundle, interrupted or whole) wins over the one asked for, so that a
    push run again never stores a file twice in two layouts."""
    base = location.key_prefix
    if any(key[len(base) :].startswith(pack.PACK_DIR) for key in existing):
        return True
    if any(i.key in existing and pack.is_packed(i.rel, i.size) for i in items):
        return False
    return packed


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
    packed: bool = True,
) -> PushResult:
    """Push the bundle folder `bundle` to `destination` (s3://bucket/prefix):
    objects under prefix/<bundle folder name>/, small files packed into tar
    segments with an index (bundle/format/pack.py; `packed=False`: one
    object per file, the layout of ADR 0008). Verifies it locally first
    (VerificationFailed before anything is sent), then uploads as described
    above, and records a `store` entry in the ledger. Raises InputError,
    StoreError, StoreUnreachable, SourceChangedError."""
    from custody.ops.actions import verify_with_home

    now = now or datetime.now(UTC).replace(microsecond=0)
    target_root = S3Location.parse(destination)
    if bundle.is_symlink() or not bundle.is_dir():
        raise InputError("push takes a bundle folder (unpack an archive first)", path=str(bundle))
    bundle = bundle.resolve()
    from custody.io.ledger_store import Ledger

    Ledger.refuse_if_damaged(home)
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
    try:
        return _push_verified(
            home=home,
            bundle=bundle,
            location=location,
            client=client,
            retention=retention,
            report=report,
            endpoint_url=endpoint_url,
            now=now,
            on_progress=on_progress,
            workers=workers,
            signer=signer,
            packed=packed,
        )
    except OSError as e:
        # A bundle file that cannot be read (permissions, I/O error): one line.
        raise InputError(
            f"cannot be read ({e.strerror or e}); the push can be run again",
            path=str(e.filename or bundle),
        ) from e


def _push_verified(
    *,
    home: Path,
    bundle: Path,
    location: S3Location,
    client: S3Client,
    retention: Retention,
    report: Any,
    endpoint_url: str | None,
    now: datetime,
    on_progress: ProgressCallback | None,
    workers: int,
    signer: Any,
    packed: bool,
) -> PushResult:
    from custody.io.ledger_store import Ledger

    expected = _expected_digests(bundle)
    items = []
    for rel, full, size in _bundle_files(bundle):
        digest = expected.get(rel)
        if digest is None and rel != layout.TAG_MANIFEST:
            raise InputError("file is in no manifest; not pushed", path=str(full))
        items.append(Item(rel, full, location.key_prefix + rel, size, digest))
    existing = {obj["Key"] for obj in list_keys(client, location, location.key_prefix)}
    packed = _layout_in_store(items, existing, location, packed=packed)
    segments: list[pack.Segment] = []
    if packed:
        for i in items:
            if pack.is_pack_path(i.rel):
                raise InputError(
                    f"{pack.PACK_DIR} is the packed layout's name in the store; push this "
                    "bundle with --one-object-per-file",
                    path=str(i.full),
                )
        small = [i for i in items if i.expected is not None and pack.is_packed(i.rel, i.size)]
        segments = pack.plan_segments(pack.PackFile(i.rel, i.size, i.expected or "") for i in small)
        taken = {i.rel for i in small}
        items_single = [i for i in items if i.rel not in taken]
    else:
        items_single = items
    payload = [i for i in items_single if not layout.is_tag_path(i.rel)]
    tags = [i for i in items_single if layout.is_tag_path(i.rel) and i.rel != layout.TAG_MANIFEST]
    last = [i for i in items_single if i.rel == layout.TAG_MANIFEST]
    todo = [i for i in payload if i.key not in existing]
    todo_segments = [s for s in segments if location.key_prefix + s.key not in existing]
    tracker = ProgressTracker(
        "push",
        len(todo)
        + sum(sum(1 for m in s.members if not layout.is_tag_path(m.rel)) for s in todo_segments),
        sum(i.size for i in todo) + sum(sum(m.size for m in s.members) for s in todo_segments),
        on_progress,
    )
    pusher = Uploader(client, location, retention, tracker)
    sender = PackSender(pusher, bundle)
    pusher.abort_stale_uploads(location.key_prefix)
    index_key = location.key_prefix + pack.INDEX

    # Objects already stored are all checked before anything is sent: a
    # different bundle under the same name is refused with the store untouched.
    run_parallel(
        lambda item, _stop: pusher.check_existing(item),
        [i for i in items_single if i.key in existing],
        workers=workers,
    )
    run_parallel(
        lambda segment, _stop: sender.check_segment(segment),
        [s for s in segments if location.key_prefix + s.key in existing],
        workers=workers,
    )
    if segments and index_key in existing and not todo_segments:
        sender.send_index(segments, existing=True)
    # Segments and large payload files first, then the index, then the tag
    # files and the tag manifest last: a bundle whose tag manifest is in the
    # store was pushed whole.
    first: list[Any] = [*todo_segments, *[i for i in payload if i.key not in existing]]
    run_parallel(
        lambda work, stop: (
            sender.send_segment(work, stop)
            if isinstance(work, pack.Segment)
            else pusher.upload(work, stop)
        ),
        first,
        workers=workers,
    )
    if segments and index_key not in existing:
        sender.send_index(segments, existing=False)
    elif segments and todo_segments:
        sender.send_index(segments, existing=True)
    for group in (tags, last):
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
        "objects": len(items_single) + (len(segments) + 1 if segments else 0),
        "retention": retention.to_json(),
    }
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action="store",
            subject=subject,
            signer=signer.key,
            signer_name=signer.name,
            time=utc_text(now),
        )
    return PushResult(
        bundle=str(bundle),
        location=str(location),
        endpoint_url=endpoint_url,
        bundle_id=statement.get("bundle_id"),
        case=statement.get("case"),
        exhibit=statement.get("exhibit"),
        statement_sha256=report.statement_sha256,
        objects=subject["objects"],
        files=len(items),
        segments=len(segments),
        layout="packed" if segments else "files",
        uploaded=pusher.uploaded,
        already_stored=pusher.already,
        bytes_uploaded=pusher.bytes_uploaded,
        retention=retention,
        ledger_index=appended.index,
    )
