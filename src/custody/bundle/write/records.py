"""The records of a new bundle's payload: one metadata record a copied file
(extracted from the copy, never the source), the working copies `--expand`
adds, and the streamed writes of metadata.json and the manifests, hashed as
they are written. Used by writer.py, which decides when each runs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from custody.base.hashing import sha256_bytes
from custody.base.models import CopiedFile
from custody.bundle.read.source import SourceListing
from custody.metadata import extract_record, metadata_chunks
from custody.metadata.chats import resolve_hashes


def file_records(
    listing: SourceListing,
    copied: list[CopiedFile],
    data_dir: Path,
    with_metadata: bool,
    sidecar_digests: dict[str, str],
    origin: dict[str, dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    # Metadata comes after the copies, from the copies (hot in the page cache):
    # the parsers are pure Python, and run beside the copy threads they would
    # only take turns with them for the interpreter.
    siblings = frozenset(f.rel for f in listing.files)
    digests = {c.path: c.sha256 for c in copied}
    root = data_dir.parent
    for f, c in zip(listing.files, copied, strict=True):
        sidecars: dict[str, bytes] = {}
        record = extract_record(
            copy_path=data_dir / f.rel,
            rel_path=f.rel,
            sha256=c.sha256,
            size=c.size,
            siblings=siblings,
            enabled=with_metadata,
            sniffed=(c.mime,),
            sidecars=sidecars,
        )
        if f.original is not None:
            record["details"]["original_path_bytes_hex"] = f.original.hex()
        resolve_hashes(record, digests.get)  # a chat's attachments, by SHA-256
        if f.rel in origin:
            record["details"]["expanded_from"] = origin[f.rel]
        # The C2PA reports are tag files; the record (signed with metadata.json)
        # carries each one's SHA-256, and bag-info their count.
        for name, data in sidecars.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            write_new(target, data)
            sidecar_digests[name] = sha256_bytes(data)
        yield record


def expand_payload(
    listing: SourceListing, copied: list[CopiedFile], data_dir: Path
) -> tuple[SourceListing, list[CopiedFile], dict[str, dict[str, Any]]]:
    from custody.bundle.write.expand import expand_archives

    extra = expand_archives(listing.files, copied, data_dir)
    if not extra.files:
        return listing, copied, {}
    pairs = sorted(
        zip([*listing.files, *extra.files], [*copied, *extra.copied], strict=True),
        key=lambda pair: pair[0].rel.encode("utf-8"),
    )
    listing = replace(listing, files=tuple(f for f, _ in pairs))
    return listing, [c for _, c in pairs], extra.origin


def write_metadata(path: Path, records: Iterator[dict[str, Any]]) -> str:
    """Stream custody/metadata.json to disk; returns its SHA-256."""
    return write_stream(path, metadata_chunks(records))


def write_stream(path: Path, chunks: Iterable[bytes]) -> str:
    """Write a new file from chunks, hashing them; returns the SHA-256."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        for chunk in chunks:
            h.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return h.hexdigest()


def write_new(path: Path, data: bytes) -> None:
    # Durability comes from the one sync_filesystem() before the final rename.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
