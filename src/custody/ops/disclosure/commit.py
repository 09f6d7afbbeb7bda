"""Commitments at ingest: the leaves of a new bundle, written to
custody/commitments.jsonl as they are made, and the value the signed statement
carries (root, counts, where the note is).

Reads the bundle being written (never the source): the metadata records as
written, and again the copies that are split into parts (JPEG, PNG, chats),
hot in the page cache. Memory: one 32-byte hash per leaf."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.archive_names import clean_member_name, zip_member_name
from custody.bundle.format import commitments as leaves
from custody.bundle.format.commitment_tree import StreamingRoot
from custody.bundle.write.spill import SortedIndex
from custody.disclosure.parts import ISOBMFF_MIMES, MAX_SPLIT_BYTES, split_file, split_isobmff
from custody.tlog import merkle


def _metadata_records(path: Path) -> Iterator[dict[str, Any]]:
    """iter_metadata_records of a metadata file, read a line at a time."""
    with open(path, "rb") as f:
        first = f.readline()
        if first.rstrip(b"\n") != b'{"files": [':
            raise ValueError("not a custody metadata file")
        for line in f:
            if line.startswith(b"]"):
                return
            record = json.loads(line.rstrip(b"\n").rstrip(b",").decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("a metadata record is not an object")
            yield record
    raise ValueError("metadata file ends early")


@dataclass(frozen=True)
class Committed:
    """What ingest needs: the statement's field and the tag file's SHA-256."""

    statement_field: dict[str, Any]
    sha256: str


def commit_payload(
    *, root: Path, files: Iterable[tuple[str, str, int]], note: str | None
) -> Committed:
    """Write `root`/custody/commitments.jsonl for the payload `files` (manifest
    path, SHA-256, size; in manifest order) and the note; returns the value for
    the statement's `commitments` field. Raises OSError from the file system."""
    # Flat memory at any count (issue 26): the root is built as the leaves are
    # written, the file leaves' numbers are looked up on disk, and metadata.json
    # is read a line at a time.
    hashes = StreamingRoot()
    out = hashlib.sha256()
    fd = os.open(
        root / leaves.COMMITMENTS_PATH, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644
    )

    def put(leaf: bytes) -> None:
        hashes.append(merkle.leaf_hash(leaf))
        line = leaf + b"\n"
        out.update(line)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]

    index = SortedIndex(root)
    try:
        for path, sha256, size in files:
            index.add(path, (hashes.size,))
            put(leaves.file_leaf(path, sha256, size))
        index.seal()
        file_count = hashes.size
        for record in _metadata_records(root / "custody" / "metadata.json"):
            path = f"data/{record.get('path')}"
            if path not in index:
                continue
            number = int(index[path][0])
            members = committable_members(record)
            for name, value in _fields(record, bool(members)):
                put(leaves.field_leaf(number, name, value))
            for leaf in _part_leaves(root / path, number, record):
                put(leaf)
            if members:
                for leaf in _member_leaves(root / path, path, number, hashes.size, members):
                    put(leaf)
        note_index = None
        if note is not None:
            note_index = hashes.size
            put(leaves.note_leaf(note))
    finally:
        os.close(fd)
        index.close()
    return Committed(
        statement_field={
            "format": leaves.COMMITMENTS_FORMAT,
            "root": hashes.root.hex(),
            "leaves": hashes.size,
            "files": file_count,
            "note_leaf": note_index,
        },
        sha256=out.hexdigest(),
    )


def _fields(record: dict[str, Any], without_members: bool) -> list[tuple[str, Any]]:
    """A record's committed fields, sorted by name. An archive whose members get
    leaves of their own commits its `details` without the members' records:
    each member's metadata is its own field leaves, withheld with the member."""
    out = []
    for name in sorted(record):
        value = record[name]
        if name in leaves.NOT_FIELDS or value is None or value in ([], {}):
            continue
        if name == "details" and without_members and isinstance(value, dict):
            archive = {k: v for k, v in value["archive"].items() if k != "members"}
            value = {**value, "archive": archive}
        out.append((name, value))
    return out


def committable_members(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The members of a ZIP archive's record that were read whole (a name, a
    SHA-256, a size, no error): each gets a member leaf. Empty for any other file."""
    details = record.get("details")
    archive = details.get("archive") if isinstance(details, dict) else None
    if not isinstance(archive, dict) or archive.get("format") != "zip":
        return []
    members = archive.get("members")
    if not isinstance(members, list):
        return []
    return [
        m
        for m in members
        if isinstance(m, dict)
        and isinstance(m.get("path"), str)
        and isinstance(m.get("sha256"), str)
        and isinstance(m.get("size"), int)
        and not m.get("errors")
    ]


def _member_leaves(
    archive: Path, path: str, number: int, at: int, members: list[dict[str, Any]]
) -> list[bytes]:
    """The members leaf (at index `at`), one member leaf per member, then per
    member its fields, layout and parts (a chat, e-mail, JPEG or PNG member is
    split as a loose file is, from its bytes read out of the archive)."""
    first = at + 1
    out = [leaves.members_leaf(number, first, len(members))]
    for n, m in enumerate(members):
        out.append(leaves.member_leaf(number, n, f"{path}/{m['path']}", m["sha256"], m["size"]))
    with zipfile.ZipFile(archive) as zf:
        infos = {clean_member_name(zip_member_name(i)): i for i in zf.infolist()}
        for n, m in enumerate(members):
            owner = first + n
            for name, value in _fields(m, False):
                out.append(leaves.field_leaf(owner, name, value))
            info = infos.get(m["path"])
            if info is None or not _splittable(m):
                continue
            with zf.open(info) as f:
                data = f.read(MAX_SPLIT_BYTES + 1)
            if len(data) > MAX_SPLIT_BYTES or hashlib.sha256(data).hexdigest() != m["sha256"]:
                continue
            out.extend(_split_leaves(data, owner, m))
    return out


def _splittable(record: dict[str, Any]) -> bool:
    size, mime, details = record.get("size"), record.get("mime"), record.get("details") or {}
    if not isinstance(size, int) or size == 0 or size > MAX_SPLIT_BYTES:
        return False
    return mime in ("image/jpeg", "image/png") or (
        isinstance(details, dict)
        and (isinstance(details.get("chat"), dict) or details.get("family") in ("email", "mbox"))
    )


def _split_leaves(data: bytes, number: int, record: dict[str, Any]) -> list[bytes]:
    mime = record.get("mime")
    split = split_file(data, mime if isinstance(mime, str) else None, record)
    if split is None:
        return []
    fmt, parts = split
    out = [leaves.layout_leaf(number, fmt, [(p.type, p.role) for p in parts])]
    for n, p in enumerate(parts):
        chunk = data[p.start : p.end]
        out.append(leaves.part_leaf(number, n, len(chunk), hashlib.sha256(chunk).hexdigest()))
    return out


def _part_leaves(path: Path, number: int, record: dict[str, Any]) -> list[bytes]:
    size = record.get("size")
    if not isinstance(size, int) or size == 0:
        return []
    mime = record.get("mime")
    details = record.get("details") or {}
    if mime in ISOBMFF_MIMES:
        return _box_leaves(path, number, size)
    if size > MAX_SPLIT_BYTES:
        return []
    if mime not in ("image/jpeg", "image/png") and not (
        isinstance(details, dict)
        and (isinstance(details.get("chat"), dict) or details.get("family") in ("email", "mbox"))
    ):
        return []
    data = path.read_bytes()
    split = split_file(data, mime if isinstance(mime, str) else None, record)
    if split is None:
        return []
    fmt, parts = split
    out = [leaves.layout_leaf(number, fmt, [(p.type, p.role) for p in parts])]
    for n, p in enumerate(parts):
        chunk = data[p.start : p.end]
        out.append(leaves.part_leaf(number, n, len(chunk), hashlib.sha256(chunk).hexdigest()))
    return out


def _box_leaves(path: Path, number: int, size: int) -> list[bytes]:
    """An MP4 or MOV: box headers read, each part hashed in pieces (flat memory)."""
    with open(path, "rb") as f:

        def read(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        parts = split_isobmff(read, size)
        if parts is None:
            return []
        out = [leaves.layout_leaf(number, "isobmff", [(p.type, p.role) for p in parts])]
        for n, p in enumerate(parts):
            h = hashlib.sha256()
            f.seek(p.start)
            left = p.end - p.start
            while left:
                piece = f.read(min(left, 1 << 20))
                if not piece:
                    return []
                h.update(piece)
                left -= len(piece)
            out.append(leaves.part_leaf(number, n, p.end - p.start, h.hexdigest()))
    return out
