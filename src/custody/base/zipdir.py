"""A zip read one central-directory record at a time (PKWARE APPNOTE.TXT 6.3,
sections 4.3.6-4.3.16 and 4.5.3), so that a zip of a million members is read
in flat memory.

Python's zipfile builds one ZipInfo per member (about half a kilobyte each)
before anything can be read. Here the end of central directory (and the ZIP64
end record and locator, 4.3.14-4.3.15) is found from the tail, then the
directory is walked from the file in buffered pieces, each record yielded and
forgotten. A member's data is read by seeking to its local header, checking
that header against the directory, and inflating (stored or deflate, zlib)
as it streams, with its size and CRC-32 checked at the end.

Hostile input gets one precise line (ZipDamaged, a ValueError): a file cut
short, no end record, a directory that points outside the file, members that
overlap (a zip bomb by overlap), a local header that disagrees with the
directory, inconsistent ZIP64 fields, encrypted members, a CRC-32 mismatch,
counts the directory cannot hold. Pure: an open binary file in, records out.
A member's bytes are read by custody.base.zipmember.
"""

from __future__ import annotations

import heapq
import io
import struct
import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

EOCD = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_EOCD = b"PK\x06\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"
DESCRIPTOR = b"PK\x07\x08"
EOCD_SIZE = 22
LOCATOR_SIZE = 20
ZIP64_EOCD_SIZE = 56
CENTRAL_SIZE = 46
LOCAL_SIZE = 30
MAX_TAIL = EOCD_SIZE + 0xFFFF
U16 = 0xFFFF
U32 = 0xFFFFFFFF
ZIP64_EXTRA = 0x0001
ENCRYPTED = 0x1
DESCRIPTOR_FLAG = 0x8
STRONG_ENCRYPTION = 0x40
UTF8_FLAG = 0x800
STORED = 0
DEFLATED = 8
_CHUNK = 1 << 20
_RUN = 1 << 16  # spans sorted in memory at once when the directory is out of order

_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")


class ZipDamaged(ValueError):
    """The zip cannot be read as it stands; the message is one line."""


@dataclass(frozen=True, slots=True)
class Directory:
    """Where the central directory is and what the end records say of it."""

    file_size: int
    entries: int
    offset: int
    size: int
    end: int
    """Where the directory must end: the ZIP64 end record, or the end record."""
    zip64: bool


@dataclass(frozen=True, slots=True)
class CentralRecord:
    """One central-directory record, its ZIP64 values resolved."""

    index: int
    at: int
    """Offset of this record in the file (central_at reads it again)."""
    name: bytes
    extra: bytes
    version_needed: int
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int
    """Offset of the member's local header."""
    external: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith(b"/")

    @property
    def text_name(self) -> str:
        """The name as text: UTF-8 with the flag (or when it decodes), else cp437,
        as zipfile reads it without the flag."""
        if self.flags & UTF8_FLAG:
            return self.name.decode("utf-8", "surrogateescape")
        return self.name.decode("cp437")

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & (ENCRYPTED | STRONG_ENCRYPTION))


def shown(name: bytes) -> str:
    """A member name in a message: quoted, short, nothing unprintable raw."""
    text = name.decode("utf-8", "backslashreplace")
    out = "".join(ch if 0x20 <= ord(ch) < 0x7F else f"\\u{{{ord(ch):x}}}" for ch in text[:120])
    return repr(out + ("..." if len(text) > 120 else ""))


def read_at(fh: BinaryIO, at: int, n: int) -> bytes:
    """`n` bytes (fewer at the end of the file) from offset `at`."""
    fh.seek(at)
    return fh.read(n)


def extra_fields(extra: bytes, where: str) -> dict[int, bytes]:
    """The extra field's blocks by tag (4.5.1). Raises ZipDamaged when they
    do not tile it exactly or a tag appears twice."""
    fields: dict[int, bytes] = {}
    i = 0
    while i < len(extra):
        if i + 4 > len(extra):
            raise ZipDamaged(f"{where}: a malformed extra field")
        tag, size = struct.unpack_from("<HH", extra, i)
        if i + 4 + size > len(extra) or tag in fields:
            raise ZipDamaged(f"{where}: a malformed extra field")
        fields[tag] = extra[i + 4 : i + 4 + size]
        i += 4 + size
    return fields


def zip64_values(fields: dict[int, bytes], wanted: list[int], where: str) -> list[int]:
    """Values stored as 0xFFFFFFFF taken, in order, from the ZIP64 extra field
    (4.5.3: original size, compressed size, header offset)."""
    body = fields.get(ZIP64_EXTRA, b"")
    out, at = [], 0
    for value in wanted:
        if value != U32:
            out.append(value)
            continue
        if at + 8 > len(body):
            raise ZipDamaged(f"{where}: a ZIP64 value is marked but missing from its extra field")
        out.append(struct.unpack_from("<Q", body, at)[0])
        at += 8
    return out


def find_directory(fh: BinaryIO) -> Directory:
    """The end records, checked against each other and the file's size."""
    file_size = fh.seek(0, io.SEEK_END)
    if file_size < EOCD_SIZE:
        raise ZipDamaged(f"not a zip: {file_size} bytes, less than an end record")
    tail_start = max(0, file_size - MAX_TAIL)
    tail = read_at(fh, tail_start, file_size - tail_start)
    at = tail.rfind(EOCD)
    while at >= 0 and (at + EOCD_SIZE > len(tail) or _eocd_comment(tail, at) != len(tail)):
        at = tail.rfind(EOCD, 0, at)
    if at < 0:
        if tail.rfind(EOCD) >= 0:
            raise ZipDamaged("the end of central directory record does not end the file")
        raise ZipDamaged("end of central directory record not found (truncated or not a zip)")
    (_, disk, cd_disk, here, entries, cd_size, cd_offset, _) = struct.unpack_from(
        "<4sHHHHIIH", tail, at
    )
    end_at = tail_start + at
    locator_at = end_at - LOCATOR_SIZE
    locator = read_at(fh, locator_at, LOCATOR_SIZE) if locator_at >= 0 else b""
    if locator[:4] == ZIP64_LOCATOR:
        return _zip64_directory(
            fh, file_size, locator_at, locator, (here, entries, cd_size, cd_offset)
        )
    if disk or cd_disk or here != entries:
        raise ZipDamaged("a multi-disk (spanned) zip")
    if cd_offset + cd_size != end_at:
        if cd_offset + cd_size > end_at:
            raise ZipDamaged("the central directory points outside the file (cut short?)")
        raise ZipDamaged(
            "the central directory does not end where the end record starts "
            "(bytes prepended to or inside the zip)"
        )
    _check_count(entries, cd_size)
    return Directory(file_size, entries, cd_offset, cd_size, end_at, False)


def _eocd_comment(tail: bytes, at: int) -> int:
    return at + EOCD_SIZE + int(struct.unpack_from("<H", tail, at + 20)[0])


def _zip64_directory(
    fh: BinaryIO, file_size: int, locator_at: int, locator: bytes, small: tuple[int, ...]
) -> Directory:
    _, z64_disk, record_at, disks = struct.unpack("<4sIQI", locator)
    if z64_disk != 0 or disks != 1:
        raise ZipDamaged("a multi-disk (spanned) zip")
    if record_at + ZIP64_EOCD_SIZE > locator_at:
        raise ZipDamaged("the ZIP64 locator points outside the file")
    record = read_at(fh, record_at, ZIP64_EOCD_SIZE)
    if record[:4] != ZIP64_EOCD:
        raise ZipDamaged("the ZIP64 end record is not where its locator points")
    (_, rec_size, _, _, disk, cd_disk, here, entries, cd_size, cd_offset) = struct.unpack(
        "<4sQHHIIQQQQ", record
    )
    if record_at + 12 + rec_size != locator_at:
        raise ZipDamaged("the ZIP64 end record's size does not reach its locator")
    if disk or cd_disk or here != entries:
        raise ZipDamaged("a multi-disk (spanned) zip")
    for value, big, limit in zip(
        small, (entries, entries, cd_size, cd_offset), (U16, U16, U32, U32), strict=True
    ):
        if value not in (big, limit):
            raise ZipDamaged("the end record and the ZIP64 end record disagree")
    if cd_offset + cd_size != record_at:
        if cd_offset + cd_size > record_at:
            raise ZipDamaged("the central directory points outside the file (cut short?)")
        raise ZipDamaged(
            "the central directory does not end where the ZIP64 end record starts "
            "(bytes prepended to or inside the zip)"
        )
    _check_count(entries, cd_size)
    return Directory(file_size, entries, cd_offset, cd_size, record_at, True)


def _check_count(entries: int, cd_size: int) -> None:
    if entries * CENTRAL_SIZE > cd_size:
        raise ZipDamaged(
            f"the end record counts {entries:,} members, more than a central directory "
            f"of {cd_size:,} bytes can hold"
        )


def _parse_central(
    buf: bytes | memoryview, i: int, index: int, at: int
) -> tuple[CentralRecord, int]:
    """The record at buf[i:], and its length. The buffer holds it whole."""
    (sig, _, needed, flags, method, _, _, crc, comp, size, n, m, k, disk, _, external, offset) = (
        _CENTRAL.unpack_from(buf, i)
    )
    if sig != CENTRAL:
        raise ZipDamaged(f"central directory record {index:,} is not where the previous one ends")
    start = i + CENTRAL_SIZE
    name = bytes(buf[start : start + n])
    extra = bytes(buf[start + n : start + n + m])
    if size == U32 or comp == U32 or offset == U32:
        where = f"zip member {shown(name)}"
        size, comp, offset = zip64_values(extra_fields(extra, where), [size, comp, offset], where)
    if disk not in (0, U16):
        raise ZipDamaged("a multi-disk (spanned) zip")
    record = CentralRecord(
        index, at, name, extra, needed, flags, method, crc, comp, size, offset, external
    )
    return record, CENTRAL_SIZE + n + m + k


def iter_central(fh: BinaryIO, directory: Directory) -> Iterator[CentralRecord]:
    """Every central-directory record, in directory order, read in buffered
    pieces and never kept. Checks each against the file (its member inside
    the bytes before the directory) and, once all are read, that the count is
    the end record's and that no two members overlap (in the same pass when
    the directory is in file order, as every common writer makes it; else by
    a second walk, sorted through a temporary file). A consumer must read to
    the end before trusting what it was given: the last checks raise after
    the last record."""
    ordered = True
    last_start = last_end = 0
    last_at = -1
    overlap: tuple[int, int] | None = None
    for record in _walk(fh, directory):
        start = record.offset
        end = start + LOCAL_SIZE + len(record.name) + record.compressed
        if ordered:
            if start < last_start:
                ordered = False
            elif start < last_end and overlap is None:
                overlap = (last_at, record.at)
            last_start, last_end, last_at = start, end, record.at
        yield record
    if not ordered:
        _check_sorted(fh, directory)
    elif overlap is not None:
        raise ZipDamaged(_overlap_message(fh, *overlap))


def _walk(fh: BinaryIO, directory: Directory) -> Iterator[CentralRecord]:
    end = directory.end
    buf = b""
    base = directory.offset  # file offset of buf[0]
    i = 0
    index = 0
    while base + i < end:
        at = base + i
        if len(buf) - i < CENTRAL_SIZE or len(buf) - i < CENTRAL_SIZE + _lengths(buf, i):
            more = read_at(fh, base + len(buf), min(_CHUNK, end - base - len(buf)))
            buf = buf[i:] + more
            base, i = at, 0
            if len(buf) < CENTRAL_SIZE or len(buf) < CENTRAL_SIZE + _lengths(buf, 0):
                raise ZipDamaged(f"central directory record {index:,} is cut short")
        if index >= directory.entries:
            raise ZipDamaged(
                f"the central directory holds more records than the {directory.entries:,} "
                "the end record counts"
            )
        record, length = _parse_central(buf, i, index, at)
        if record.offset + LOCAL_SIZE + len(record.name) + record.compressed > directory.offset:
            raise ZipDamaged(
                f"zip member {shown(record.name)} points outside the file's member area"
            )
        i += length
        index += 1
        yield record
    if index != directory.entries:
        raise ZipDamaged(
            f"the end record counts {directory.entries:,} members, "
            f"the central directory holds {index:,}"
        )


def _lengths(buf: bytes, i: int) -> int:
    if len(buf) - i < CENTRAL_SIZE:
        return 0
    n, m, k = struct.unpack_from("<HHH", buf, i + 28)
    return int(n + m + k)


def _check_sorted(fh: BinaryIO, directory: Directory) -> None:
    """Overlap check for a directory out of file order: every range spilled
    in sorted runs of _RUN, merged."""
    spill = tempfile.TemporaryFile(prefix="custody-zipdir-")  # noqa: SIM115
    try:
        buffer: list[tuple[int, int, int]] = []
        runs = 0
        for record in _walk(fh, directory):
            lowest = LOCAL_SIZE + len(record.name) + record.compressed
            buffer.append((record.offset, record.offset + lowest, record.at))
            if len(buffer) >= _RUN:
                _write_run(spill, buffer)
                runs += 1
        _write_run(spill, buffer)
        runs += 1
        size = spill.seek(0, io.SEEK_END)
        per_run = 3 * 8 * _RUN
        merged = heapq.merge(
            *(_read_run(spill, s, min(per_run, size - s)) for s in range(0, size, per_run))
        )
        last_end, last_at = 0, -1
        for start, end, at in merged:
            if start < last_end:
                raise ZipDamaged(_overlap_message(fh, last_at, at))
            if end > last_end:
                last_end, last_at = end, at
    finally:
        spill.close()


def _write_run(spill: BinaryIO, buffer: list[tuple[int, int, int]]) -> None:
    run = array("Q")
    for triple in sorted(buffer):
        run.extend(triple)
    spill.seek(0, io.SEEK_END)
    spill.write(run.tobytes())
    buffer.clear()


def _read_run(fh: BinaryIO, start: int, length: int) -> Iterator[tuple[int, int, int]]:
    at = start
    stop = start + length
    while at < stop:
        piece = array("Q")
        piece.frombytes(read_at(fh, at, min(3 * 8 * 4096, stop - at)))
        at += len(piece) * 8
        yield from zip(piece[0::3], piece[1::3], piece[2::3], strict=True)


def _overlap_message(fh: BinaryIO, first_at: int, second_at: int) -> str:
    first = central_at(fh, first_at).name
    second = central_at(fh, second_at).name
    return (
        f"zip members {shown(first)} and {shown(second)} overlap in the file "
        "(a zip bomb by overlap, or a forged central directory)"
    )


def central_at(fh: BinaryIO, at: int, index: int = 0) -> CentralRecord:
    """The central-directory record at file offset `at` (given by an
    earlier walk of the same file)."""
    head = read_at(fh, at, CENTRAL_SIZE)
    if len(head) < CENTRAL_SIZE:
        raise ZipDamaged("central directory record cut short")
    whole = head + fh.read(_lengths(head, 0))
    if len(whole) < CENTRAL_SIZE + _lengths(head, 0):
        raise ZipDamaged("central directory record cut short")
    return _parse_central(whole, 0, index, at)[0]
