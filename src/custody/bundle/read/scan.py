"""What a scan of a bundle found, before anything is judged: the model every
reader fills (folder, archive, object storage) and verification reads."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Callable, ItemsView, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from custody.base import spill
from custody.base.archive_names import ARCHIVE_ERRORS, clean_member_name, read_zip_member
from custody.base.models import Problem
from custody.base.spill import SortedSpill, SpillDir, temp_parent_outside, writing
from custody.bundle.format import layout
from custody.extraction.members import EXTRACTIONS_DIR

# Tag files are read into memory; a larger one is reported, not read.
MAX_TAG_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A regular file in a bundle: its size and SHA-256 (None when not hashed)."""

    size: int
    sha256: str | None


SPILL_TAG_BYTES = 4 * 1024 * 1024
"""A tag file larger than this (the payload manifest, the commitments of a
large bundle) is kept in the scan's temporary folder, not in memory."""


def spill_tag_bytes() -> int:
    return SPILL_TAG_BYTES  # read when used: tests lower it


class ScannedFiles(MutableMapping[str, ScannedFile]):
    """Every regular file of a bundle: {bundle path: ScannedFile}.

    Tag files (few) are held in a dict. Payload files (under data/, up to
    millions) are spilled to disk in sorted runs (base/spill.py): `payload()`
    reads them back in path order, for the checks that join them with the
    manifest, and their count and bytes are kept as they are added. Looking
    one payload path up is cheap while the bundle is small (under one run)
    and a few hundred lines read from the spill past that (SortedSpill.lookup):
    checks join, they do not look up."""

    def __init__(self, where: SpillDir | None = None) -> None:
        self._where = where if where is not None else SpillDir()
        self._tags: dict[str, ScannedFile] = {}
        self._payload = SortedSpill(self._where)
        self._small: dict[str, ScannedFile] | None = {}
        self._removed: frozenset[str] = frozenset()
        self._dotted: dict[str, ScannedFile] = {}
        self._shared = False
        self._count = 0
        self._bytes = 0

    @property
    def where(self) -> SpillDir:
        return self._where

    def __setitem__(self, rel: str, scanned: ScannedFile) -> None:
        if layout.is_tag_path(rel):
            self._tags[rel] = scanned
            return
        if self._small is not None and rel in self._small:
            # Replaced (a test, a tool): the spill is written again, as it is small.
            self._small[rel] = scanned
            self._rebuild()
            return
        if self._shared or rel in self._removed:
            raise ValueError(f"{rel}: a large scan is complete; files cannot be added again")
        self._payload.add(rel, _value(scanned))
        self._count += 1
        self._bytes += scanned.size
        if _dotted(rel):
            self._dotted[rel] = scanned
        if self._small is not None:
            self._small[rel] = scanned
            if len(self._small) > spill.RUN_SIZE:
                self._small = None

    def __getitem__(self, rel: str) -> ScannedFile:
        if layout.is_tag_path(rel):
            return self._tags[rel]
        if rel in self._removed:
            raise KeyError(rel)
        if self._small is not None:
            return self._small[rel]
        value = self._payload.lookup(rel)
        if value is None:
            raise KeyError(rel)
        return _scanned(value)

    def __delitem__(self, rel: str) -> None:
        if layout.is_tag_path(rel):
            del self._tags[rel]
            return
        if self._small is not None:
            del self._small[rel]
            self._rebuild()
            return
        if self._shared:
            raise ValueError(f"{rel}: a large scan is complete; files cannot be removed")
        scanned = self[rel]
        self._count -= 1
        self._bytes -= scanned.size
        self._removed = self._removed | {rel}
        self._dotted.pop(rel, None)

    def _rebuild(self) -> None:
        assert self._small is not None
        self._dotted = {p: f for p, f in self._small.items() if _dotted(p)}
        self._payload = SortedSpill(self._where)
        for path, scanned in self._small.items():
            self._payload.add(path, _value(scanned))
        self._count = len(self._small)
        self._bytes = sum(f.size for f in self._small.values())

    def __iter__(self) -> Iterator[str]:
        yield from list(self._tags)
        for path, _ in self.payload():
            yield path

    def __len__(self) -> int:
        return len(self._tags) + self._count

    def items(self) -> _StreamedItems:
        """Every (path, ScannedFile): the tag files, then the payload in path order."""
        return _StreamedItems(self)

    def dotted(self) -> dict[str, ScannedFile]:
        """The payload files named like the files systems add (.DS_Store,
        ._name, Thumbs.db, desktop.ini): the only ones that may be OS
        leftovers (bundle/read/leftovers.py), found without a pass."""
        return self._dotted

    def tags(self) -> dict[str, ScannedFile]:
        """The files outside data/, as a dict."""
        return self._tags

    def payload(self) -> Iterator[tuple[str, ScannedFile]]:
        """The payload files, sorted by path (as Python sorts str)."""
        removed = self._removed
        previous = None
        for path, value in self._payload:
            if path == previous:
                # Readers add a path once; a large scan cannot tell at once.
                raise ValueError(f"{path}: added to a large scan twice")
            previous = path
            if path in removed:
                continue
            yield path, _scanned(value)

    @property
    def payload_count(self) -> int:
        return self._count

    @property
    def payload_bytes(self) -> int:
        return self._bytes

    def without(self, gone: Mapping[str, ScannedFile]) -> ScannedFiles:
        """These files less `gone` (a few of them, with what was scanned of
        each), sharing the spilled payload."""
        other = ScannedFiles(self._where)
        other._tags = {p: f for p, f in self._tags.items() if p not in gone}
        if self._small is not None:
            other._small = {p: f for p, f in self._small.items() if p not in gone}
            other._rebuild()
            return other
        # Large: both share the spill, and neither may change after.
        payload = {p: f for p, f in gone.items() if not layout.is_tag_path(p)}
        other._payload = self._payload
        other._small = None
        other._removed = self._removed | frozenset(payload)
        other._dotted = {p: f for p, f in self._dotted.items() if p not in payload}
        other._count = self._count - len(payload)
        other._bytes = self._bytes - sum(f.size for f in payload.values())
        self._shared = other._shared = True
        return other


def _dotted(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.startswith(".") or name in ("Thumbs.db", "desktop.ini")


def _value(scanned: ScannedFile) -> str:
    return f"{scanned.size} {scanned.sha256 or '-'}"


def _scanned(value: str) -> ScannedFile:
    size, _, digest = value.partition(" ")
    return ScannedFile(int(size), None if digest == "-" else digest)


class _StreamedItems(ItemsView[str, ScannedFile]):
    _mapping: ScannedFiles

    def __iter__(self) -> Iterator[tuple[str, ScannedFile]]:
        yield from list(self._mapping.tags().items())
        yield from self._mapping.payload()


class TagBytes(MutableMapping[str, bytes]):
    """The bytes of the tag files verification reads: {bundle path: bytes}.
    A large one (over SPILL_TAG_BYTES) is kept in a temporary file, read again
    when asked for; `open` streams it."""

    def __init__(self, where: SpillDir | None = None) -> None:
        self._where = where if where is not None else SpillDir()
        self._memory: dict[str, bytes] = {}
        self._spilled: dict[str, Path] = {}

    def __setitem__(self, rel: str, data: bytes) -> None:
        self._spilled.pop(rel, None)
        self._memory.pop(rel, None)
        if len(data) > spill_tag_bytes():
            path = self._where.new_file("tag")
            with writing(path):
                path.write_bytes(data)
            self._spilled[rel] = path
        else:
            self._memory[rel] = data

    def keep_file(self, rel: str, path: Path) -> None:
        """A tag file already copied into the spill folder (`new_file`)."""
        self._memory.pop(rel, None)
        self._spilled[rel] = path

    def __getitem__(self, rel: str) -> bytes:
        if rel in self._memory:
            return self._memory[rel]
        return self._spilled[rel].read_bytes()

    def __contains__(self, rel: object) -> bool:
        return rel in self._memory or rel in self._spilled

    def __delitem__(self, rel: str) -> None:
        if self._memory.pop(rel, None) is None:
            del self._spilled[rel]

    def __iter__(self) -> Iterator[str]:
        yield from list(self._memory)
        yield from list(self._spilled)

    def __len__(self) -> int:
        return len(self._memory) + len(self._spilled)

    def open(self, rel: str) -> IO[bytes] | None:
        """A tag file's bytes as a stream, or None when not kept."""
        if rel in self._memory:
            return io.BytesIO(self._memory[rel])
        if rel in self._spilled:
            return open(self._spilled[rel], "rb")
        return None

    def small(self) -> dict[str, bytes]:
        """The tag files held in memory (all but the large ones)."""
        return dict(self._memory)

    def only(self, keep: Callable[[str], bool]) -> TagBytes:
        """These tag bytes for the paths `keep` accepts, sharing the files."""
        other = TagBytes(self._where)
        other._memory = {p: b for p, b in self._memory.items() if keep(p)}
        other._spilled = {p: f for p, f in self._spilled.items() if keep(p)}
        return other


@dataclass
class BundleScan:
    """What is in a bundle, before anything is judged.

    `files` and `tag_bytes` spill to a private temporary folder (outside the
    bundle) past a bound, so that a scan's memory does not grow with the
    number of files; `close()` removes the folder (so do garbage collection
    and the interpreter's exit)."""

    location: str
    files: ScannedFiles = field(default_factory=ScannedFiles)
    tag_bytes: TagBytes = field(default_factory=TagBytes)
    problems: list[Problem] = field(default_factory=list)
    odd_paths: set[str] = field(default_factory=set)
    root_prefix: str = ""
    fetch: Callable[[str], bytes | None] | None = None
    """Reads a file again from a bundle that is not on this file system
    (object storage); None for folders and archives."""

    def __setattr__(self, name: str, value: object) -> None:
        # A dict given for `files` or `tag_bytes` (when built, or set after, as
        # tests do) becomes the spilling kind, in the scan's spill folder.
        if name == "files" and isinstance(value, Mapping):
            if not isinstance(value, ScannedFiles) or (not value.where.made and not value):
                files = ScannedFiles(_spill_dir(self.location))
                for rel, scanned in value.items():
                    files[rel] = scanned
                value = files
        elif (
            name == "tag_bytes"
            and isinstance(value, Mapping)
            and (not isinstance(value, TagBytes) or not value)
        ):
            tag_bytes = TagBytes(self.files.where)
            for rel, data in value.items():
                tag_bytes[rel] = data
            value = tag_bytes
        object.__setattr__(self, name, value)

    @property
    def spill(self) -> SpillDir:
        """The scan's private temporary folder (made on first use)."""
        return self.files.where

    def close(self) -> None:
        """Remove the temporary folder; the scan is not usable after."""
        self.files.where.close()
        self.tag_bytes._where.close()

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


def _spill_dir(location: str) -> SpillDir:
    return SpillDir(temp_parent_outside(location))


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


def copy_capped(stream: IO[bytes], out: IO[bytes]) -> ScannedFile:
    """read_capped, written to `out` as read instead of kept: the size and
    SHA-256 of what was copied."""
    h = hashlib.sha256()
    total = 0
    while total <= MAX_TAG_FILE_BYTES:
        piece = stream.read(1 << 20)
        if not piece:
            break
        h.update(piece)
        with writing(getattr(out, "name", "temporary file")):
            out.write(piece)
        total += len(piece)
    return ScannedFile(total, h.hexdigest())


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
