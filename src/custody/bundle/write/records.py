"""The records of a new bundle's payload: one metadata record a copied file
(extracted from the copy, never the source), the working copies `--expand`
adds, and the streamed writes of metadata.json and the manifests, hashed as
they are written. Used by writer.py, which decides when each runs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from custody.base.hashing import sha256_bytes
from custody.base.models import CopiedFile
from custody.base.processes import map_ordered
from custody.bundle.read.source import SourceListing
from custody.bundle.write.listing import SpilledListing
from custody.bundle.write.spill import SortedIndex
from custody.extraction.hook import ExtractionsWritten, add_members, extraction_kind
from custody.metadata import extract_record, metadata_chunks
from custody.metadata.chats import resolve_hashes


def file_records(
    listing: SpilledListing,
    copied: SortedIndex,
    data_dir: Path,
    with_metadata: bool,
    sidecar_digests: dict[str, str],
    origin: dict[str, dict[str, Any]],
    extracted: ExtractionsWritten | None = None,
) -> Iterator[dict[str, Any]]:
    # Metadata comes after the copies, from the copies (hot in the page cache),
    # on every core: the parsers are pure Python, so they run in processes
    # (custody.base.processes), never beside the copy threads.
    # The payload's paths and digests are looked up on disk (the copies' index),
    # never held whole: the parsers only ask whether a path is there, and the
    # workers read the index through the descriptor they inherit at fork.
    siblings = cast(frozenset[str], copied)
    digests = _Digests(copied)
    root = data_dir.parent
    context = (data_dir, siblings, with_metadata)
    pairs = zip(listing.iter_files(), copied.items_in_order(), strict=True)
    jobs = ((f.rel, sha256, size, mime) for f, (_, (size, sha256, mime)) in pairs)
    read = map_ordered(_read_one, jobs, context=context, sized=len(copied))
    for f, (record, sidecars, extraction) in zip(listing.iter_files(), read, strict=True):
        if extraction is not None:
            add_members(
                extraction,
                record,
                data_dir / f.rel,
                root,
                siblings,
                digests,
                with_metadata,
                extracted,
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


class _Digests(Mapping[str, str]):
    """{rel: SHA-256} of the copies, read from their index on disk."""

    def __init__(self, copied: SortedIndex) -> None:
        self._copied = copied

    def __getitem__(self, rel: str) -> str:
        return str(self._copied[rel][1])

    def __iter__(self) -> Iterator[str]:
        return iter(self._copied)

    def __len__(self) -> int:
        return len(self._copied)


def _read_one(
    context: tuple[Path, frozenset[str], bool], job: tuple[str, str, int, str | None]
) -> tuple[dict[str, Any], dict[str, bytes], str | None]:
    """One file's record (in a worker process): its metadata, the C2PA reports
    to keep beside it, and whether it is a phone extraction."""
    data_dir, siblings, with_metadata = context
    rel, sha256, size, mime = job
    sidecars: dict[str, bytes] = {}
    # A phone extraction (UFDR, iOS backup's Manifest.db, Android tar) is not
    # parsed as a file: its members go to a members file (extraction/).
    extraction = extraction_kind(rel, mime, data_dir / rel, siblings)
    record = extract_record(
        copy_path=data_dir / rel,
        rel_path=rel,
        sha256=sha256,
        size=size,
        siblings=siblings,
        enabled=with_metadata and extraction is None,
        sniffed=(mime,),
        sidecars=sidecars,
    )
    return record, sidecars, extraction


def expand_payload(
    listing: SourceListing,
    copied: list[CopiedFile],
    data_dir: Path,
    manifest_rows: Callable[[Path], Iterator[Any]] | None = None,
) -> tuple[SourceListing, list[CopiedFile], dict[str, dict[str, Any]]]:
    from custody.bundle.write.expand import expand_archives

    extra = expand_archives(listing.files, copied, data_dir, manifest_rows)
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
