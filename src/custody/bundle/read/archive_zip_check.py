"""The zip rules of archive_checks.py: the file is exactly its members, back to
back from offset 0, then the central directory, then the end records, and
every member says the same thing in its local header as in the directory.

zipfile, unzip and 7-Zip each tolerate a different set of deviations (bytes
before or between members, a directory that disagrees with the local headers,
a Unicode Path field with the wrong CRC); a bundle zip is allowed none.
"""

from __future__ import annotations

import heapq
import struct
import tempfile
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from custody.base import zipdir
from custody.base.errors import NotABundleError
from custody.bundle.read import archive_common
from custody.bundle.read.archive_common import NameBook, refuse, shown

EOCD = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_EOCD = b"PK\x06\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"
DESCRIPTOR = b"PK\x07\x08"
MAX_TAIL = 22 + 0xFFFF
U32 = 0xFFFFFFFF
U16 = 0xFFFF
UNICODE_PATH = 0x7075
ZIP64_EXTRA = 0x0001
UTF8_FLAG = 0x800
DESCRIPTOR_FLAG = 0x8
KNOWN_FLAGS = 0x1 | 0x2 | 0x4 | DESCRIPTOR_FLAG | UTF8_FLAG
METHODS = (0, 8)  # stored, deflated
MAX_VERSION_NEEDED = 45  # zip64
_CHUNK = 1 << 20  # the directory is read in pieces of this size
_RUN = 1 << 16  # (offset, record) pairs sorted in memory at once


@dataclass(frozen=True)
class _Entry:
    name: str
    raw: bytes
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int
    at: int
    """Where its central-directory record is."""


class _Where:
    """'zip member <name>' for a message, made only when one is raised (a
    million members are checked; shown() of each would double the time)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"zip member {shown(self.name)}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _extra_fields(path: Path, extra: bytes, where: str) -> dict[int, bytes]:
    """zipdir.extra_fields, refused in this check's words."""
    try:
        return zipdir.extra_fields(extra, where)
    except zipdir.ZipDamaged:
        raise refuse(path, f"a malformed extra field in {where}") from None


def _zip64_values(path: Path, fields: dict[int, bytes], wanted: list[int], where: str) -> list[int]:
    """zipdir.zip64_values (values stored as 0xFFFFFFFF, taken in order from the
    zip64 extra field), refused in this check's words."""
    try:
        return zipdir.zip64_values(fields, wanted, where)
    except zipdir.ZipDamaged:
        raise refuse(path, f"a zip64 field is missing in {where}") from None


def _member_name(path: Path, raw: bytes, flags: int, fields: dict[int, bytes]) -> list[str]:
    """A member's name, then any other reading of it: without the UTF-8 flag,
    unzip, 7-Zip and bsdtar read UTF-8 bytes as UTF-8, zipfile and Windows
    Explorer as cp437."""
    readings = []
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse(
            path,
            f"zip member name {shown(raw.decode('cp437'))} is not UTF-8, "
            "so extractors decode it differently",
        ) from None
    if not flags & UTF8_FLAG and not raw.isascii():
        readings.append(raw.decode("cp437"))
    unicode_path = fields.get(UNICODE_PATH)
    if unicode_path is not None:
        if (
            len(unicode_path) < 5
            or unicode_path[0] != 1
            or struct.unpack_from("<I", unicode_path, 1)[0] != zlib.crc32(raw)
        ):
            raise refuse(
                path,
                f"zip member {shown(name)}: its Unicode Path field (0x7075) does not match "
                "the CRC-32 of its plain name, so unzip and other extractors name it differently",
            )
        if unicode_path[5:] != raw:
            raise refuse(
                path,
                f"zip member {shown(name)}: its Unicode Path field (0x7075) names it "
                "differently from its plain name",
            )
    return [name, *readings]


def _check_features(path: Path, where: str, needed: int, flags: int, method: int) -> None:
    """What every extractor reads: stored or deflated members, zip 4.5 at most
    (unzip 6.0 skips a member needing more), no flags but encryption (reported
    by the scan), deflate options, data descriptor and UTF-8."""
    if needed > MAX_VERSION_NEEDED:
        raise refuse(
            path,
            f"{where} needs zip version {needed // 10}.{needed % 10} to extract, "
            "more than every extractor reads",
        )
    if method not in METHODS:
        raise refuse(
            path, f"{where} uses compression method {method}, which not every extractor reads"
        )
    if flags & ~KNOWN_FLAGS:
        raise refuse(path, f"{where} has flags {flags:#06x} that extractors treat differently")


def _seek(fh: BinaryIO, at: int) -> None:
    """Seek to an offset the archive states. One past the end of the file (a zip64
    value can reach 2**64, which a seek cannot take) is the end: the read then comes
    back short, and the caller names the record that is not there, as it does for
    any offset just past the end."""
    end = fh.seek(0, 2)
    fh.seek(min(at, end))


def _end_records(path: Path, fh: BinaryIO, size: int) -> tuple[int, int, int]:
    """(entries, central directory offset, where the directory must end)."""
    tail_start = max(0, size - MAX_TAIL)
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(EOCD)
    if at < 0 or at + 22 > len(tail):
        raise refuse(path, "the zip's end record cannot be found")
    (_, disk, cd_disk, here, entries, cd_size, cd_offset, comment) = struct.unpack_from(
        "<4sHHHHIIH", tail, at
    )
    if at + 22 + comment != len(tail):
        raise refuse(path, "bytes after the zip's end record")
    end_at = tail_start + at
    if at >= 20 and tail[at - 20 : at - 16] == ZIP64_LOCATOR:
        locator_at = end_at - 20
        _, z64_disk, record_at, disks = struct.unpack_from("<4sIQI", tail, at - 20)
        if z64_disk != 0 or disks != 1:
            raise refuse(path, "a multi-disk zip")
        _seek(fh, record_at)
        record = fh.read(56)
        if len(record) < 56 or record[:4] != ZIP64_EOCD:
            raise refuse(path, "the zip64 end record is not where its locator points")
        (_, rec_size, _, _, disk64, cd_disk64, here64, entries64, cd_size64, cd_offset64) = (
            struct.unpack_from("<4sQHHIIQQQQ", record)
        )
        if record_at + 12 + rec_size != locator_at:
            raise refuse(path, "bytes between the zip64 end record and its locator")
        if disk64 or cd_disk64 or here64 != entries64:
            raise refuse(path, "a multi-disk zip")
        for small, big, limit in (
            (entries, entries64, U16),
            (here, entries64, U16),
            (cd_size, cd_size64, U32),
            (cd_offset, cd_offset64, U32),
        ):
            if small not in (big, limit):
                raise refuse(path, "the zip's end record and zip64 end record disagree")
        if cd_offset64 + cd_size64 != record_at:
            raise refuse(
                path,
                "the central directory does not end where the zip64 end record starts "
                "(bytes prepended to or inside the zip)",
            )
        return entries64, cd_offset64, record_at
    if disk or cd_disk or here != entries:
        raise refuse(path, "a multi-disk zip")
    if U16 in (entries,) or U32 in (cd_size, cd_offset):
        raise refuse(path, "zip64 values in the end record without a zip64 end record")
    if cd_offset + cd_size != end_at:
        raise refuse(
            path,
            "the central directory does not end where the end record starts "
            "(bytes prepended to or inside the zip)",
        )
    return entries, cd_offset, end_at


def _central_directory(
    path: Path, fh: BinaryIO, entries: int, cd_offset: int, cd_end: int, names: NameBook
) -> Iterator[_Entry]:
    """The directory's records one at a time, read in buffered pieces from
    the file (never the whole directory at once), each checked and its names
    given to `names`."""
    if cd_offset > cd_end:
        raise refuse(path, "the central directory does not end where the end record starts")
    limit = archive_common.MAX_MEMBERS  # read here, so that a test may lower it
    if entries > limit:
        raise NotABundleError(f"archive holds more than {limit:,} members", path=str(path))
    buf = b""
    base = cd_offset  # file offset of buf[0]
    i = 0
    count = 0
    while base + i < cd_end:
        if len(buf) - i < 46 or len(buf) - i < 46 + _lengths(buf, i):
            _seek(fh, base + len(buf))
            more = fh.read(min(_CHUNK, cd_end - base - len(buf)))
            buf, base, i = buf[i:] + more, base + i, 0
        if buf[i : i + 4] != CENTRAL or i + 46 > len(buf):
            raise refuse(path, "the central directory does not end where the end record starts")
        (flags, method, _, _, crc, comp, size, n, m, k, disk, _, _, offset) = struct.unpack_from(
            "<HHHHIIIHHHHHII", buf, i + 8
        )
        raw = buf[i + 46 : i + 46 + n]
        extra = buf[i + 46 + n : i + 46 + n + m]
        if i + 46 + n + m + k > len(buf):
            raise refuse(path, "the central directory is cut short")
        where: Any = _Where(raw.decode("latin-1"))
        fields = _extra_fields(path, extra, where)
        size, comp, offset = _zip64_values(path, fields, [size, comp, offset], where)
        if disk not in (0, U16):
            raise refuse(path, "a multi-disk zip")
        _check_features(path, where, struct.unpack_from("<H", buf, i + 6)[0], flags, method)
        name, *readings = _member_name(path, raw, flags, fields)
        names.add(name, name.endswith("/"), *readings)
        yield _Entry(name, raw, flags, method, crc, comp, size, offset, base + i)
        i += 46 + n + m + k
        count += 1
        if count > limit:
            raise NotABundleError(f"archive holds more than {limit:,} members", path=str(path))
    if count != entries:
        raise refuse(
            path, f"the end record counts {entries} members, the central directory {count}"
        )


def _lengths(buf: bytes, i: int) -> int:
    if len(buf) - i < 46:
        return 0
    n, m, k = struct.unpack_from("<HHH", buf, i + 28)
    return int(n + m + k)


def _entry_at(path: Path, fh: BinaryIO, at: int) -> _Entry:
    """The record at `at`, already checked by the walk, read again."""
    _seek(fh, at)
    head = fh.read(46)
    record = head + fh.read(_lengths(head, 0))
    (flags, method, _, _, crc, comp, size, n, m, _, _, _, _, offset) = struct.unpack_from(
        "<HHHHIIIHHHHHII", record, 8
    )
    raw = record[46 : 46 + n]
    fields = _extra_fields(path, record[46 + n : 46 + n + m], "")
    size, comp, offset = _zip64_values(path, fields, [size, comp, offset], "")
    name = raw.decode("utf-8")
    return _Entry(name, raw, flags, method, crc, comp, size, offset, at)


def _check_local(path: Path, fh: BinaryIO, entry: _Entry) -> int:
    """Where the member's data (and data descriptor) end, once its local
    header is checked against the directory."""
    _seek(fh, entry.offset)
    header = fh.read(30)
    where: Any = _Where(entry.name)
    if len(header) < 30 or header[:4] != LOCAL:
        raise refuse(path, f"{where}: no local header where the central directory points")
    (_, needed, flags, method, _, _, crc, comp, size, n, m) = struct.unpack("<4sHHHHHIIIHH", header)
    raw = fh.read(n)
    extra = fh.read(m)
    if len(extra) < m:
        raise refuse(path, f"{where}: its local header is cut short")
    if needed > MAX_VERSION_NEEDED:
        _check_features(path, where, needed, entry.flags, entry.method)
    disagree = []
    if raw != entry.raw:
        disagree.append("name")
    if flags != entry.flags:
        disagree.append("flags")
    if method != entry.method:
        disagree.append("compression method")
    fields = _extra_fields(path, extra, where)
    if raw == entry.raw:
        _member_name(path, raw, flags, fields)
    data_end: int = entry.offset + 30 + n + m + entry.compressed
    if flags & DESCRIPTOR_FLAG:
        zip64 = ZIP64_EXTRA in fields
        _seek(fh, data_end)
        descriptor = fh.read(24 if zip64 else 16)
        if descriptor[:4] == DESCRIPTOR:
            descriptor = descriptor[4:]
            data_end += 4
        else:
            descriptor = descriptor[: 20 if zip64 else 12]
        fmt = "<IQQ" if zip64 else "<III"
        if len(descriptor) < struct.calcsize(fmt):
            raise refuse(path, f"{where}: its data descriptor is cut short")
        d_crc, d_comp, d_size = struct.unpack_from(fmt, descriptor)
        data_end += struct.calcsize(fmt)
        if (crc, comp, size) != (0, 0, 0) and (crc, comp, size) != (d_crc, d_comp, d_size):
            size_l, comp_l = _zip64_values(path, fields, [size, comp], where)
            if (crc, comp_l, size_l) != (d_crc, d_comp, d_size):
                disagree.append("CRC-32 or sizes")
        crc, comp, size = d_crc, d_comp, d_size
    else:
        size, comp = _zip64_values(path, fields, [size, comp], where)
    if crc != entry.crc:
        disagree.append("CRC-32")
    if (comp, size) != (entry.compressed, entry.size):
        disagree.append("sizes")
    if disagree:
        raise refuse(
            path,
            f"{where}: its local header and the central directory disagree on "
            + ", ".join(dict.fromkeys(disagree)),
        )
    return data_end


def check_zip(path: Path) -> None:
    """Raise ArchiveRefused unless the zip at `path` has exactly one reading.
    Memory stays flat whatever the number of members: the directory is walked
    record by record, names are checked through spilled buckets past
    archive_common.NAMES_IN_MEMORY members, and a directory out of file
    order is sorted through a temporary file."""
    with open(path, "rb") as fh, NameBook.for_members(path) as names:
        size = fh.seek(0, 2)
        entries, cd_offset, cd_end = _end_records(path, fh, size)
        ordered = True
        last = -1
        try:
            for entry in _central_directory(path, fh, entries, cd_offset, cd_end, names):
                ordered = ordered and entry.offset > last
                last = entry.offset
        except NotABundleError as e:
            names.raise_first(before=e)
            raise
        names.raise_first()
        if ordered:
            members: Iterator[_Entry] = _central_directory(
                path, fh, entries, cd_offset, cd_end, NameBook(path, check=False)
            )
        else:
            members = _by_offset(path, fh, entries, cd_offset, cd_end)
        expected = 0
        for entry in members:
            if entry.offset != expected:
                if expected == 0:
                    why = f"{entry.offset} bytes before the first zip member"
                    why += " (prepended data, or a self-extracting stub)"
                elif entry.offset < expected:
                    why = f"zip member {shown(entry.name)} overlaps the member before it"
                else:
                    why = f"{entry.offset - expected} bytes between zip members"
                    why += f" before {shown(entry.name)}"
                raise refuse(path, why)
            expected = _check_local(path, fh, entry)
        if expected != cd_offset:
            if expected < cd_offset:
                why = f"{cd_offset - expected} bytes between the last zip member"
                why += " and the central directory"
            else:
                why = "the last zip member runs into the central directory"
            raise refuse(path, why)


def _by_offset(
    path: Path, fh: BinaryIO, entries: int, cd_offset: int, cd_end: int
) -> Iterator[_Entry]:
    """The entries in file order, for a directory that lists them in another:
    (offset, record position) pairs sorted in runs spilled to a temporary
    file, merged, each record read again."""
    with tempfile.TemporaryFile(prefix="custody-zipcheck-") as spill:
        runs: list[tuple[int, int]] = []
        pairs = array("Q")

        def flush() -> None:
            ordered = sorted(zip(pairs[0::2], pairs[1::2], strict=True))
            start = spill.seek(0, 2)
            spill.write(array("Q", [v for pair in ordered for v in pair]).tobytes())
            runs.append((start, len(ordered)))
            del pairs[:]

        unchecked = NameBook(path, check=False)
        for entry in _central_directory(path, fh, entries, cd_offset, cd_end, unchecked):
            pairs.extend((entry.offset, entry.at))
            if len(pairs) >= 2 * _RUN:
                flush()
        flush()
        for _, at in heapq.merge(*(_run(spill, start, n) for start, n in runs)):
            yield _entry_at(path, fh, at)


def _run(spill: BinaryIO, start: int, n: int) -> Iterator[tuple[int, int]]:
    done = 0
    while done < n:
        take = min(4096, n - done)
        spill.seek(start + 16 * done)
        piece = array("Q")
        piece.frombytes(spill.read(16 * take))
        yield from zip(piece[0::2], piece[1::2], strict=True)
        done += take
