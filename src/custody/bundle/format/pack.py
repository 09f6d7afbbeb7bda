"""The packed layout of a bundle in object storage (docs/storage.md, ADR 0025). Pure.

Small files are stored as members of uncompressed tar segments
(`custody-pack/segment-NNNNNN.tar`, about SEGMENT_TARGET bytes each), with an
index (`custody-pack/index.jsonl`) giving, for each packed file, its segment,
the offset of its bytes in that segment, its size and its SHA-256. Large files
and the tag files verification reads stay one object each.

This module decides what is packed and makes the bytes (headers, plan,
index); pack_read.py reads them back without trusting the index.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from custody.bundle.format import layout

PACK_DIR = "custody-pack/"
INDEX = PACK_DIR + "index.jsonl"
FORMAT = "custody-pack"
VERSION = 1
SEGMENT_TARGET = 64 << 20  # a segment is closed before it would pass this size
SEGMENT_FILES = 10_000  # and before it would hold more files than this
SMALL_FILE_LIMIT = 16 << 20  # files smaller than this are packed (one PUT's worth)
BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)
MAX_INDEX_LINE = 64 * 1024
# Tag files that are many and only hashed (one per signed photo, one per phone member).
PACKED_TAG_DIRS = (layout.C2PA_DIR, "custody/extractions/")

PROBLEM = "pack"  # the kind of every problem with the packed layout itself


def segment_key(number: int) -> str:
    """The key (below the bundle's prefix) of segment `number` (from 1)."""
    return f"{PACK_DIR}segment-{number:06d}.tar"


def is_pack_path(rel: str) -> bool:
    """True for the objects of the packed layout (never a bundle file)."""
    return rel.startswith(PACK_DIR)


def is_packed(rel: str, size: int) -> bool:
    """Whether a bundle file goes into a segment: a payload file, or a tag file
    that verification only hashes, smaller than SMALL_FILE_LIMIT. The other tag
    files (bagit.txt, the manifests, the statement, its signature, metadata)
    stay one object each, read directly by verify and by hand."""
    if size >= SMALL_FILE_LIMIT:
        return False
    return not layout.is_tag_path(rel) or rel.startswith(PACKED_TAG_DIRS)


def padding(size: int) -> int:
    """Zero bytes after a member's data, to the next 512-byte block."""
    return -size % BLOCK


def member_header(rel: str, size: int) -> bytes:
    """The tar header of one member: POSIX pax (ustar with a pax extended
    header only when the name needs one), regular file, mode 0644, owner 0,
    time 0: the same bytes for the same file on every push."""
    info = tarfile.TarInfo(rel)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


@dataclass(frozen=True)
class PackFile:
    """A bundle file to pack, with the SHA-256 its manifest gives it."""

    rel: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Segment:
    """One planned segment: its number and members in order."""

    number: int
    members: tuple[PackFile, ...]

    @property
    def key(self) -> str:
        return segment_key(self.number)

    @property
    def size(self) -> int:
        """The segment's exact size in bytes."""
        total = len(END_OF_ARCHIVE)
        for m in self.members:
            total += len(member_header(m.rel, m.size)) + m.size + padding(m.size)
        return total


def plan_segments(
    files: Iterable[PackFile], *, target: int = SEGMENT_TARGET, most: int = SEGMENT_FILES
) -> list[Segment]:
    """Cut the files, sorted by path, into segments of at most about `target`
    bytes and `most` files (a segment always takes at least one file; the
    count bounds what a reader holds of the index per segment, and gives
    workers segments to share). Deterministic: the same files give the same
    segments, so a push run again finds them stored."""
    segments: list[Segment] = []
    current: list[PackFile] = []
    used = len(END_OF_ARCHIVE)
    for f in sorted(files, key=lambda f: f.rel):
        need = BLOCK + f.size + padding(f.size)  # a pax header can add a few blocks
        if current and (used + need > target or len(current) >= most):
            segments.append(Segment(len(segments) + 1, tuple(current)))
            current, used = [], len(END_OF_ARCHIVE)
        current.append(f)
        used += need
    if current:
        segments.append(Segment(len(segments) + 1, tuple(current)))
    return segments


@dataclass(frozen=True)
class IndexMember:
    """One line of the index: where a packed file's bytes are."""

    path: str
    segment: int
    offset: int
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "segment": self.segment,
            "offset": self.offset,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class IndexSegment:
    """One line of the index describing a segment object."""

    segment: int
    key: str
    size: int
    sha256: str
    files: int

    def to_json(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
            "files": self.files,
        }


def _line(value: dict[str, Any]) -> bytes:
    return (
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        + b"\n"
    )


def index_bytes(segments: list[IndexSegment], members: Iterable[IndexMember]) -> Iterator[bytes]:
    """The index, line by line: a header, one line per segment, then one line
    per packed file in path order (which is also segment and offset order)."""
    yield _line({"format": FORMAT, "version": VERSION, "segments": len(segments)})
    for s in segments:
        yield _line(s.to_json())
    for m in members:
        yield _line(m.to_json())
