"""The salted leaves a bundle commits to at ingest (custody/commitments.jsonl).

Each leaf is one line of compact JSON (sorted keys, ASCII only, so the bytes
survive any re-encoding of the line as a JSON string) carrying a random
32-byte salt. Its RFC 9162 leaf hash, SHA-256(0x00 || bytes), is a salted
digest in the shape of SD-JWT's: without the salt nobody can check a guess of
the value against it. Verifiers hash the bytes as given and never re-serialise.

Order: the file leaves first (index 0..files-1, in manifest order), so that an
index alone shows that a withheld item is a file; then, file by file, its
metadata fields, its layout and its parts; the officer's note last.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

COMMITMENTS_FORMAT = "custody/commitments/v1"
COMMITMENTS_PATH = "custody/commitments.jsonl"
SALT_BYTES = 32

FILE = "file"
FIELD = "field"
LAYOUT = "layout"
PART = "part"
NOTE = "note"
MEMBERS = "members"
MEMBER = "member"
KINDS = (FILE, FIELD, LAYOUT, PART, NOTE, MEMBERS, MEMBER)

# Roles of a part of a file: what a stripped or redacted copy may leave out.
DATA = "data"
METADATA = "metadata"
HEADER = "header"
MESSAGE = "message"

# Metadata record keys that are the file leaf itself, not fields of their own.
NOT_FIELDS = frozenset({"path", "sha256", "size"})


class LeafError(ValueError):
    """A leaf's bytes are not a custody commitment leaf."""


def new_salt() -> str:
    """32 random bytes from the operating system, as 64 lowercase hex digits."""
    return secrets.token_bytes(SALT_BYTES).hex()


def leaf_bytes(fields: dict[str, Any]) -> bytes:
    """The one spelling of a leaf: compact JSON, sorted keys, ASCII."""
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def file_leaf(path: str, sha256: str, size: int) -> bytes:
    return leaf_bytes(
        {"kind": FILE, "path": path, "sha256": sha256, "size": size, "salt": new_salt()}
    )


def field_leaf(file: int, name: str, value: Any) -> bytes:
    return leaf_bytes(
        {"kind": FIELD, "file": file, "name": name, "value": value, "salt": new_salt()}
    )


def layout_leaf(file: int, fmt: str, parts: list[tuple[str, str]]) -> bytes:
    return leaf_bytes(
        {
            "kind": LAYOUT,
            "file": file,
            "format": fmt,
            "parts": [[t, role] for t, role in parts],
            "salt": new_salt(),
        }
    )


def part_leaf(file: int, n: int, size: int, sha256: str) -> bytes:
    return leaf_bytes(
        {"kind": PART, "file": file, "n": n, "size": size, "sha256": sha256, "salt": new_salt()}
    )


def members_leaf(file: int, first: int, count: int) -> bytes:
    """A ZIP archive's members: `count` member leaves from index `first` on."""
    return leaf_bytes(
        {"kind": MEMBERS, "file": file, "first": first, "count": count, "salt": new_salt()}
    )


def member_leaf(file: int, n: int, path: str, sha256: str, size: int) -> bytes:
    """Member `n` of the archive whose file leaf is `file`: its bundle path
    (`data/ARCHIVE.zip/MEMBER`), SHA-256 and size."""
    return leaf_bytes(
        {
            "kind": MEMBER,
            "file": file,
            "n": n,
            "path": path,
            "sha256": sha256,
            "size": size,
            "salt": new_salt(),
        }
    )


def note_leaf(note: str) -> bytes:
    return leaf_bytes({"kind": NOTE, "value": note, "salt": new_salt()})


@dataclass(frozen=True)
class Leaf:
    """A parsed leaf: its kind and fields (salt included)."""

    kind: str
    fields: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.fields.get(name)


_REQUIRED: dict[str, tuple[tuple[str, type | tuple[type, ...]], ...]] = {
    FILE: (("path", str), ("sha256", str), ("size", int)),
    FIELD: (("file", int), ("name", str)),
    LAYOUT: (("file", int), ("format", str), ("parts", list)),
    PART: (("file", int), ("n", int), ("size", int), ("sha256", str)),
    NOTE: (("value", str),),
    MEMBERS: (("file", int), ("first", int), ("count", int)),
    MEMBER: (("file", int), ("n", int), ("path", str), ("sha256", str), ("size", int)),
}


def parse_leaf(data: bytes) -> Leaf:
    """Read a leaf's bytes. Raises LeafError when they are not one: not ASCII
    JSON in custody's spelling, an unknown kind, a field missing or a salt
    that is not 32 bytes."""
    try:
        obj = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as e:
        raise LeafError("not an ASCII JSON leaf") from e
    if not isinstance(obj, dict):
        raise LeafError("not a JSON object")
    kind = obj.get("kind")
    if kind not in _REQUIRED:
        raise LeafError(f"unknown kind {kind!r}")
    salt = obj.get("salt")
    if not isinstance(salt, str) or len(salt) != 2 * SALT_BYTES or not _is_hex(salt):
        raise LeafError("salt is not 32 bytes of lowercase hex")
    for name, typ in _REQUIRED[kind]:
        value = obj.get(name)
        if not isinstance(value, typ) or isinstance(value, bool):
            raise LeafError(f"{kind} leaf: field '{name}' missing or of the wrong type")
    if kind == FIELD and "value" not in obj:
        raise LeafError("field leaf has no value")
    try:
        respelled = leaf_bytes(obj)
    except ValueError as e:
        raise LeafError("cannot be written back") from e
    if respelled != data:
        raise LeafError("not in custody's spelling (compact, sorted keys, ASCII)")
    return Leaf(kind, obj)


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _is_hex(text: str) -> bool:
    return _HEX64.fullmatch(text) is not None


_FILE_HEAD = b'{"kind":"file","path":'


def file_fields(line: bytes) -> tuple[str, str]:
    """(path, SHA-256) of a file leaf, read without parsing all of it (a quote
    inside the path is escaped, so `,"salt":"` can only be the next field).
    Raises LeafError when the line is not shaped like a file leaf."""
    try:
        if not line.startswith(_FILE_HEAD):
            raise ValueError
        end = line.index(b',"salt":"', len(_FILE_HEAD))
        path = json.loads(line[len(_FILE_HEAD) : end])
        at = line.index(b',"sha256":"', end) + 11
        sha256 = line[at : at + 64].decode("ascii")
    except (ValueError, UnicodeDecodeError) as e:
        raise LeafError("not a file leaf") from e
    if not isinstance(path, str) or not _is_hex(sha256):
        raise LeafError("not a file leaf")
    return path, sha256


def layout_parts(leaf: Leaf) -> list[tuple[str, str]]:
    """A layout leaf's parts as (type, role); raises LeafError when malformed."""
    parts = []
    for p in leaf.fields["parts"]:
        if not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)):
            raise LeafError("layout leaf: a part is not [type, role]")
        parts.append((p[0], p[1]))
    return parts
