"""What the zip and the tar rules of archive_checks.py share: how a refusal is
worded, how a member name is shown in it, the names that become one path once
extracted (NameBook), and how a tar header or compressed data is recognised.
"""

from __future__ import annotations

import re
import struct
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from custody.base.errors import NotABundleError

TAR_BLOCK = 512
MAX_MEMBERS = 1_000_000  # members an archive may hold: more is refused, unread
NAMES_IN_MEMORY = 20_000  # members whose names NameBook keeps in memory; past it, spilled
GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZIP_LOCAL_MAGIC = b"PK\x03\x04"
NAME_SHOWN = 120  # code points of a member name shown in a refusal


class ArchiveRefused(NotABundleError):
    """An archive that extractors would read differently: never verified."""


def refuse(path: Path, why: str) -> ArchiveRefused:
    return ArchiveRefused(f"archive refused: {why}", path=str(path))


def shown(name: str) -> str:
    """A member name in a refusal, quoted, every character outside printable
    ASCII escaped as \\u{hex} (verifier/src/readings.js shows it alike)."""
    chars = list(name)
    cut = len(chars) > NAME_SHOWN
    out = []
    for ch in chars[:NAME_SHOWN]:
        code = ord(ch)
        if 0x20 <= code < 0x7F and ch not in "\\'":
            out.append(ch)
        else:
            out.append(f"\\u{{{code:x}}}")
    return "'" + "".join(out) + ("..." if cut else "") + "'"


def collision_key(name: str) -> str:
    """One key for names that an extractor writes to one path: `\\` is a
    separator on Windows, empty and `.` parts vanish (`/a`, `a//b`, `./a`),
    Windows drops a name's trailing dots and spaces, and NTFS ignores case (a
    simple, one-for-one upper-casing). Names differing only in Unicode form
    stay apart, as on Linux and Windows (a witness's phone can hold both
    spellings of "Café.txt"; docs/format.md says where they do not)."""
    parts = [p.rstrip(". ") or p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    joined = "/".join(parts)
    upper = joined.upper()
    if len(upper) == len(joined):
        return upper  # no character upper-cased to several: the same, a character at a time
    return "".join(up if len(up := ch.upper()) == 1 else ch for ch in joined)


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


_BUCKETS = 64
_SPILLED = struct.Struct("<QHBBHH")  # member, reading, primary, folder, name, key lengths


class NameBook:
    """Member names seen so far, refusing one path given by two members in
    any reading (a member may have several: UTF-8 and cp437 for a zip name
    without the UTF-8 flag).

    Up to NAMES_IN_MEMORY members the names are kept in a dict and a
    collision raises at once. Past that (a zip of a million members), every
    name goes to one of 256 bucket files by its collision key, and
    `raise_first` reads the buckets one at a time and raises the collision
    that the in-memory book would have raised first: memory stays flat.
    `check=False` makes a book that accepts everything (a second walk)."""

    def __init__(self, path: Path, *, check: bool = True) -> None:
        self.path = path
        self.check = check
        self.seen: dict[str, tuple[str, bool, int, bool]] = {}
        self.members = 0
        self.spill: tempfile.TemporaryDirectory[str] | None = None
        self.outs: list[BinaryIO] = []

    @classmethod
    def for_members(cls, path: Path) -> NameBook:
        return cls(path)

    def __enter__(self) -> NameBook:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for out in self.outs:
            out.close()
        self.outs = []
        if self.spill is not None:
            self.spill.cleanup()
            self.spill = None

    def add(self, name: str, is_dir: bool, *other_readings: str) -> None:
        if not self.check:
            return
        self.members += 1
        readings = [(_clean(name), True), *((_clean(r), False) for r in other_readings)]
        if self.spill is None:
            for reading, primary in readings:
                why = _collision(self.seen, reading, is_dir, primary, self.members)
                if why is not None:
                    raise refuse(self.path, why)
            if self.members >= NAMES_IN_MEMORY:
                self._start_spill()
            return
        for n, (reading, primary) in enumerate(readings):
            self._spill_one(reading, is_dir, primary, self.members, n)

    def _start_spill(self) -> None:
        self.spill = tempfile.TemporaryDirectory(prefix="custody-names-")
        self.outs = [
            open(Path(self.spill.name) / str(b), "wb")  # noqa: SIM115 (closed by close)
            for b in range(_BUCKETS)
        ]
        for name, is_dir, member, primary in self.seen.values():
            self._spill_one(name, is_dir, primary, member, 0 if primary else 1)
        self.seen = {}

    def _spill_one(self, name: str, is_dir: bool, primary: bool, member: int, n: int) -> None:
        if name in ("", "."):
            return
        key = collision_key(name)
        raw = name.encode("utf-8", "surrogatepass")
        packed = key.encode("utf-8", "surrogatepass")
        out = self.outs[zlib.crc32(packed) % _BUCKETS]
        out.write(_SPILLED.pack(member, n, primary, is_dir, len(raw), len(packed)) + raw + packed)

    def raise_first(self, before: Exception | None = None) -> None:
        """Raise the first collision among the names spilled so far (all of
        them before `before`, the fault that stopped the walk), if any."""
        del before  # every spilled name comes before it: a collision wins
        if self.spill is None:
            return
        for out in self.outs:
            out.close()
        self.outs = []
        first: tuple[int, int, str] | None = None
        for b in range(_BUCKETS):
            seen: dict[str, tuple[str, bool, int, bool]] = {}
            with open(Path(self.spill.name) / str(b), "rb") as f:
                while head := f.read(_SPILLED.size):
                    member, n, primary, is_dir, length, key_length = _SPILLED.unpack(head)
                    name = f.read(length).decode("utf-8", "surrogatepass")
                    key = f.read(key_length).decode("utf-8", "surrogatepass")
                    if first is not None and (member, n) >= first[:2]:
                        break  # the book would have stopped before this
                    why = _collision(seen, name, bool(is_dir), bool(primary), member, key)
                    if why is not None:
                        first = (member, n, why)
                        break
        self.close()
        if first is not None:
            raise refuse(self.path, first[2])


def _collision(
    seen: dict[str, tuple[str, bool, int, bool]],
    name: str,
    is_dir: bool,
    primary: bool,
    member: int,
    key: str | None = None,
) -> str | None:
    """Why `name` (a reading of member number `member`; `key`, its collision
    key when known) collides with a name in `seen`, or None (then `seen`
    holds it)."""
    if name in ("", "."):
        return None
    key = collision_key(name) if key is None else key
    if key not in seen:
        seen[key] = (name, is_dir, member, primary)
        return None
    first, first_dir, first_member, first_primary = seen[key]
    if first_member == member:
        return None
    if first == name and first_dir and is_dir:
        return None  # one folder listed twice: every extractor makes one folder
    if not (primary and first_primary):
        return (
            f"two members are named {shown(first)} in another extractor's reading of "
            "the names (zipfile and Windows Explorer read a name without the UTF-8 "
            "flag as cp437)"
        )
    if first == name:
        return f"the archive holds {shown(name)} twice"
    return (
        f"{shown(first)} and {shown(name)} are one path once extracted "
        "(on Windows: letter case, trailing dots or spaces; a backslash; an empty "
        "or '.' part)"
    )


def tar_header_at(head: bytes) -> bool:
    """Does a tar header with a valid checksum start these bytes?"""
    if len(head) < TAR_BLOCK or head[:TAR_BLOCK] == bytes(TAR_BLOCK):
        return False
    field = head[148:156].split(b"\x00", 1)[0].strip(b" ")
    if not re.fullmatch(rb"[0-7]+", field):
        return False
    stored = int(field, 8)
    block = head[:148] + b" " * 8 + head[156:TAR_BLOCK]
    unsigned = sum(block)
    signed = sum(b - 256 if b > 127 else b for b in block)
    return stored in (unsigned, signed)


def compression_of(head: bytes) -> str | None:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(BZIP2_MAGIC):
        return "bzip2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return None
