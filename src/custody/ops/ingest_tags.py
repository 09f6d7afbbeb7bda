"""The signed part of a new bundle, once its payload is copied: bag-info's fields,
the statement, the tag files and the timestamps' files, and the officer's warnings
about names. Used by ops/writer.py, which decides when each is made."""

from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

from custody import __version__
from custody.base.hashing import sha256_bytes
from custody.base.utc import utc_text
from custody.bundle.format import layout
from custody.bundle.format.names import NAMES, names_file_bytes
from custody.bundle.format.statement import Statement
from custody.bundle.write.listing import SpilledListing
from custody.extraction.members import EXTRACTIONS_FIELD
from custody.ops.stamp import StoredToken
from custody.tsa.attempt import GRANTED, StampAttempt


def bag_info_bytes(
    *,
    officer: str,
    case: str,
    exhibit: str | None,
    fingerprint: str,
    src: Path,
    created: datetime,
    total: int,
    count: int,
    note: str | None,
    c2pa_reports: int,
    extractions: int,
) -> bytes:
    """bag-info.txt of a new bundle, field for field as every ingest writes it."""
    bag_fields = [
        ("Source-Organization", officer),
        ("Contact-Name", officer),
        ("External-Identifier", case),
        ("Custody-Case-Id", case),
        ("Custody-Exhibit-Ref", exhibit or ""),
        ("Custody-Officer", officer),
        ("Custody-Key-Fingerprint", fingerprint),
        ("Custody-Source-Path", str(src)),
        ("Custody-Source-Host", platform.node()),
        ("Bagging-Date", created.strftime("%Y-%m-%d")),
        ("Bag-Software-Agent", f"custody {__version__}"),
        ("Payload-Oxum", f"{total}.{count}"),
    ]
    if note:
        bag_fields.append(("Internal-Sender-Description", note))
    if c2pa_reports:
        bag_fields.append((layout.C2PA_REPORTS_FIELD, str(c2pa_reports)))
    if extractions:
        bag_fields.append((EXTRACTIONS_FIELD, str(extractions)))
    return layout.format_bag_info(bag_fields)


def new_statement(
    *,
    bundle_id: str,
    case: str,
    exhibit: str | None,
    officer: str,
    fingerprint: str,
    created: datetime,
    count: int,
    total: int,
    manifest_sha256: str,
    bag_info: bytes,
    metadata_sha256: str,
    names_file: bytes | None,
    similar_sha256: str | None,
    commitments: dict[str, object],
) -> Statement:
    return Statement(
        bundle_id=bundle_id,
        case=case,
        exhibit=exhibit,
        officer=officer,
        key_fingerprint=fingerprint,
        created=utc_text(created),
        tool=f"custody {__version__}",
        file_count=count,
        total_bytes=total,
        manifest_sha256=manifest_sha256,
        bag_info_sha256=sha256_bytes(bag_info),
        metadata_sha256=metadata_sha256,
        note=None,
        names_sha256=sha256_bytes(names_file) if names_file is not None else None,
        similar_sha256=similar_sha256,
        commitments=commitments,
    )


def timestamp_files(attempts: tuple[StampAttempt, ...]) -> list[StoredToken]:
    granted = [a for a in attempts if a.status == GRANTED and a.reply is not None]
    return [
        StoredToken(layout.timestamp_path(i), sha256_bytes(a.reply or b""), a)
        for i, a in enumerate(granted, start=1)
    ]


def names_file(listing: SpilledListing) -> bytes | None:
    """custody/names.json when a file is stored under a name other than its own."""
    originals = {f"{layout.PAYLOAD_DIR}/{rel}": raw for rel, raw in listing.originals}
    return names_file_bytes(originals) if originals else None


def name_warnings(listing: SpilledListing) -> tuple[str, ...]:
    return tuple(
        f"{a!r} and {b!r} differ only by Unicode normalisation: both are kept, but "
        "macOS and bagit-python treat them as one name"
        for a, b in listing.normalisation_twins()
    ) + tuple(
        f"{raw!r} is not a {_unportable(raw)} name: stored as {rel!r}; "
        f"the original bytes are kept in {NAMES}"
        for rel, raw in listing.originals
    )


def _unportable(name: bytes) -> str:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return "UTF-8"
    return "portable"


def restore_dir_times(data_dir: Path, listing: SpilledListing) -> None:
    """Give every copied folder its source's times, once nothing more is written in
    them (setting a folder's times changes nothing of its parent's, so the order is free)."""
    for d in listing.iter_dirs():
        os.utime(data_dir / d.rel, ns=(d.atime_ns, d.mtime_ns), follow_symlinks=False)
