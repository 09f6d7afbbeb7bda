"""What the zip and the tar rules of archive_checks.py share: how a refusal is
worded, how a member name is shown in it, the names that become one path once
extracted (NameBook), and how a tar header or compressed data is recognised.
"""

from __future__ import annotations

import re
from pathlib import Path

from custody.base.errors import NotABundleError

TAR_BLOCK = 512
MAX_MEMBERS = 1_000_000  # members an archive may hold: more is refused, unread
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
    return "".join(up if len(up := ch.upper()) == 1 else ch for ch in "/".join(parts))


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


class NameBook:
    """Member names seen so far, refusing one path given by two members in
    any reading (a member may have several: UTF-8 and cp437 for a zip name
    without the UTF-8 flag)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, tuple[str, bool, int, bool]] = {}
        self.members = 0

    def add(self, name: str, is_dir: bool, *other_readings: str) -> None:
        self.members += 1
        self._add(_clean(name), is_dir, True)
        for reading in other_readings:
            self._add(_clean(reading), is_dir, False)

    def _add(self, name: str, is_dir: bool, primary: bool) -> None:
        if name in ("", "."):
            return
        key = collision_key(name)
        if key not in self.seen:
            self.seen[key] = (name, is_dir, self.members, primary)
            return
        first, first_dir, member, first_primary = self.seen[key]
        if member == self.members:
            return
        if first == name and first_dir and is_dir:
            return  # one folder listed twice: every extractor makes one folder
        if not (primary and first_primary):
            raise refuse(
                self.path,
                f"two members are named {shown(first)} in another extractor's reading of "
                "the names (zipfile and Windows Explorer read a name without the UTF-8 "
                "flag as cp437)",
            )
        if first == name:
            raise refuse(self.path, f"the archive holds {shown(name)} twice")
        raise refuse(
            self.path,
            f"{shown(first)} and {shown(name)} are one path once extracted "
            "(on Windows: letter case, trailing dots or spaces; a backslash; an empty "
            "or '.' part)",
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
