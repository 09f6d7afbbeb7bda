"""Continuing a stopped ingest's copies: which of the copies its journal lists
(bundle/write/journal.py) are still good, checked on every core, streamed so that
memory stays flat however many files there are (docs/ledger.md, "Interrupted
ingests continue")."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.hashing import CHUNK, HEAD_BYTES
from custody.base.models import CopiedFile
from custody.base.progress import ProgressTracker
from custody.base.workers import run_parallel
from custody.bundle.read.source import SourceFile
from custody.bundle.write.journal import Journalled, journal_entries
from custody.bundle.write.listing import SpilledListing
from custody.bundle.write.spill import RecordSpill, SortedIndex, sorted_runs
from custody.metadata.sniff import sniff


def _latest(where: Path, path: Path) -> Iterator[Journalled]:
    """The journal's entries in path order, only the last line of each path."""
    numbered = (
        (e.path, n, e.size, e.sha256, e.mtime_ns, e.mime)
        for n, e in enumerate(journal_entries(path))
    )
    previous: tuple[Any, ...] | None = None
    for record in sorted_runs(where, numbered, key=lambda r: (r[0], r[1])):
        if previous is not None and previous[0] != record[0]:
            yield Journalled(previous[0], previous[2], previous[3], previous[4], previous[5])
        previous = record
    if previous is not None:
        yield Journalled(previous[0], previous[2], previous[3], previous[4], previous[5])


@dataclass
class Reused:
    """What a resume keeps and what it must copy again: the good copies by path
    {rel: (size, sha256, mime)}, and the source files still to copy (in order)."""

    good: SortedIndex
    rest: RecordSpill


_CHECK_BATCH = 1024


def reuse_copies(
    listing: SpilledListing,
    data_dir: Path,
    journal: Path,
    tracker: ProgressTracker,
    workers: int | None = None,
) -> Reused:
    """The journalled copies that are still good: the copy hashes to its line, and
    the source file has the size and mtime it had when copied. Anything else in
    the payload folder (a copy cut short, a damaged or outdated one, a working
    copy of --expand) is removed, to be made again. Streams the listing and the
    journal (sorted on disk): memory stays flat however many files there are.
    Raises UntrustedJournal when the journal changed since it was checked."""
    where = data_dir.parent
    good, rest = SortedIndex(where), RecordSpill(where)
    entries = _latest(where, journal)
    entry = next(entries, None)
    batch: list[tuple[SourceFile, Journalled | None]] = []

    def flush() -> None:
        checked = run_parallel(
            lambda pair, stop: _still_good(pair[0], pair[1], data_dir), batch, workers=workers
        )
        for (f, _), copy in zip(batch, checked, strict=True):
            if copy is None:
                rest.append((f.rel, f.abs_path, f.size, f.dev, f.ino, f.original))
            else:
                good.add(f.rel, (copy.size, copy.sha256, copy.mime))
                tracker.add_bytes(copy.size)
                tracker.file_done()
        batch.clear()

    for f in listing.iter_files():
        while entry is not None and entry.path < f.rel:
            entry = next(entries, None)
        batch.append((f, entry if entry is not None and entry.path == f.rel else None))
        if len(batch) >= _CHECK_BATCH:
            flush()
    flush()
    good.seal()
    _remove_all_but(data_dir, good)
    return Reused(good, rest)


def _still_good(f: SourceFile, entry: Journalled | None, data_dir: Path) -> CopiedFile | None:
    if entry is None or f.size != entry.size:
        return None
    try:
        st = os.lstat(f.abs_path)
    except OSError:
        return None
    if st.st_size != entry.size or st.st_mtime_ns != entry.mtime_ns:
        return None
    copy = data_dir / f.rel
    try:
        kept = os.lstat(copy)
        if not stat.S_ISREG(kept.st_mode) or kept.st_size != entry.size:
            return None
        digest, head = _hash_with_head(copy)
        # Reading may have moved the copy's access time: it keeps the source's.
        os.utime(copy, ns=(kept.st_atime_ns, kept.st_mtime_ns), follow_symlinks=False)
    except OSError:
        return None
    if digest != entry.sha256:
        return None
    return CopiedFile(f.rel, entry.size, digest, sniff(head))


def _remove_all_but(data_dir: Path, keep: Mapping[str, object]) -> None:
    for root, dirs, files in os.walk(data_dir, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            full = os.path.join(root, name)
            if os.path.relpath(full, data_dir).replace(os.sep, "/") not in keep:
                os.unlink(full)


def _hash_with_head(path: Path) -> tuple[str, bytes]:
    h = hashlib.sha256()
    head = b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if not head:
                head = chunk[:HEAD_BYTES]
            h.update(chunk)
    return h.hexdigest(), head
