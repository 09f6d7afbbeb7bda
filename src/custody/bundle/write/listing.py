"""The source listing of an ingest, spilled to disk as the folder is walked
(bundle/read/source.walk_source), so that a million files cost no memory: the files
and folders in the manifest's order, read back as often as ingest needs them. Only
what is rare stays in memory: the skipped entries, the files stored under another
name, and the names that differ only by Unicode normalisation."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from custody.base.models import SkippedEntry
from custody.bundle.read.source import (
    SourceDir,
    SourceEntry,
    SourceFile,
    SourceListing,
    walk_source,
)
from custody.bundle.write.spill import RecordSpill


@dataclass
class SpilledListing:
    """A source listing whose files and folders are on disk."""

    files: RecordSpill
    dirs: RecordSpill
    skipped: tuple[SkippedEntry, ...]
    total_bytes: int
    originals: list[tuple[str, bytes]] = field(default_factory=list)
    """(stored path, original bytes) of every file stored under another name."""
    unnormalised: set[str] = field(default_factory=set)
    """The NFC forms of paths that are not in NFC (where twins can be)."""

    @property
    def file_count(self) -> int:
        return self.files.count

    def iter_files(self) -> Iterator[SourceFile]:
        for rel, abs_path, size, dev, ino, original in self.files:
            yield SourceFile(rel, abs_path, size, dev, ino, original)

    def iter_dirs(self) -> Iterator[SourceDir]:
        for rel, atime_ns, mtime_ns in self.dirs:
            yield SourceDir(rel, atime_ns, mtime_ns)

    def normalisation_twins(self) -> list[tuple[str, str]]:
        """As SourceListing.normalisation_twins (files first, then folders), with
        memory for the rare names concerned only: two paths can share an NFC form
        only when one of them is not in NFC."""
        if not self.unnormalised:
            return []
        seen: dict[str, str] = {}
        twins = []
        for rel in _rels(self.files, self.dirs):
            key = unicodedata.normalize("NFC", rel)
            if key not in self.unnormalised:
                continue
            if key in seen:
                twins.append((seen[key], rel))
            else:
                seen[key] = rel
        return twins

    def whole(self) -> SourceListing:
        """The listing in memory (for --expand, which rewrites it)."""
        return SourceListing(tuple(self.iter_files()), tuple(self.iter_dirs()), self.skipped)

    def close(self) -> None:
        self.files.close()
        self.dirs.close()


def _rels(files: RecordSpill, dirs: RecordSpill) -> Iterator[str]:
    for record in files:
        yield record[0]
    for record in dirs:
        yield record[0]


def spill_listing(source: Path, where: Path, given: SourceListing | None = None) -> SpilledListing:
    """Walk `source` (or take `given`: the listing of one evidence file, or one
    --expand rewrote) into anonymous files in `where`. Raises InputError as
    walk_source does."""
    files, dirs = RecordSpill(where), RecordSpill(where)
    skipped: list[SkippedEntry] = []
    originals: list[tuple[str, bytes]] = []
    unnormalised: set[str] = set()
    total = 0
    entries: Iterable[SourceEntry] = (
        walk_source(source) if given is None else chain(given.files, given.dirs, given.skipped)
    )
    for entry in entries:
        if isinstance(entry, SkippedEntry):
            skipped.append(entry)
            continue
        if not unicodedata.is_normalized("NFC", entry.rel):
            unnormalised.add(unicodedata.normalize("NFC", entry.rel))
        if isinstance(entry, SourceDir):
            dirs.append((entry.rel, entry.atime_ns, entry.mtime_ns))
            continue
        files.append((entry.rel, entry.abs_path, entry.size, entry.dev, entry.ino, entry.original))
        total += entry.size
        if entry.original is not None:
            originals.append((entry.rel, entry.original))
    skipped.sort(key=lambda s: os.fsencode(s.path))
    return SpilledListing(files, dirs, tuple(skipped), total, originals, unnormalised)
