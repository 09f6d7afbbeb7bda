"""What a scan of a bundle found, before anything is judged: the model every
reader fills (folder, archive, object storage) and verification reads."""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from custody.base.archive_names import ARCHIVE_ERRORS, clean_member_name, read_zip_member
from custody.base.models import Problem
from custody.bundle.format import layout
from custody.extraction.members import EXTRACTIONS_DIR

# Tag files are read into memory; a larger one is reported, not read.
MAX_TAG_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A regular file in a bundle: its size and SHA-256 (None when not hashed)."""

    size: int
    sha256: str | None


@dataclass
class BundleScan:
    """What is in a bundle, before anything is judged."""

    location: str
    files: dict[str, ScannedFile] = field(default_factory=dict)
    tag_bytes: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    odd_paths: set[str] = field(default_factory=set)
    root_prefix: str = ""
    fetch: Callable[[str], bytes | None] | None = None
    """Reads a file again from a bundle that is not on this file system
    (object storage); None for folders and archives."""

    def add(
        self, rel: str, scanned: ScannedFile | None, data: bytes | None, problem: Problem | None
    ) -> None:
        """One file as read: its digest (and bytes, for a tag file), or, when it
        could not be read as a regular file, its problem."""
        if scanned is None:
            if problem is not None:
                self.problems.append(problem)
            self.odd_paths.add(rel)
            return
        self.files[rel] = scanned
        if data is not None:
            self.tag_bytes[rel] = data

    def read_tag(self, rel: str) -> bytes | None:
        """A tag file's bytes, from memory or read again from the bundle."""
        if rel in self.tag_bytes:
            return self.tag_bytes[rel]
        if rel not in self.files:
            return None
        if self.fetch is not None:
            return self.fetch(rel)
        return read_member(Path(self.location), self.root_prefix + rel)


def read_capped(stream: IO[bytes]) -> bytes:
    """A tag file's bytes, read in 1 MiB pieces up to the cap (one read of the
    cap's size would allocate 256 MiB for a 50-byte file)."""
    pieces = []
    total = 0
    while total <= MAX_TAG_FILE_BYTES:
        piece = stream.read(1 << 20)
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces)


def wants_bytes(path: str) -> bool:
    """Tag files whose content verification reads. Not the payload, and not the
    metadata file, which can be tens of megabytes: the statement covers it by
    hash, and the few readers that need its records read it again (read_tag).
    Nor the C2PA reports, which check_c2pa compares by hash."""
    return (
        layout.is_tag_path(path)
        and path != layout.METADATA
        and path != layout.SIMILAR  # hashed; read again by `custody similar`
        and not path.startswith(layout.C2PA_DIR)  # one per signed photo: hashed, not kept
        and not path.startswith(EXTRACTIONS_DIR)  # a phone's members: hashed, not kept
    )


def read_member(path: Path, name: str) -> bytes | None:
    """One file of a bundle folder or archive, or None when it cannot be read."""

    try:
        if path.is_dir():
            full = path / name
            if full.is_symlink() or not full.is_file():
                return None
            return full.read_bytes()
        if zipfile.is_zipfile(path):
            return read_zip_member(path, name)  # the directory walked, never listed whole
        with tarfile.open(path, mode="r|*") as tf:
            for member in tf:
                if clean_member_name(member.name) == name and member.isreg():
                    stream = tf.extractfile(member)
                    return stream.read() if stream is not None else None
    except ARCHIVE_ERRORS:
        return None
    return None


def mark_odd(scan: BundleScan, rel: str, what: str) -> None:
    scan.problems.append(
        Problem("not_regular_file", rel, f"{what}: never followed, not accepted as evidence")
    )
    scan.odd_paths.add(rel)
