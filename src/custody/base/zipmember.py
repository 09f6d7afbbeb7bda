"""One zip member's bytes, read from its local header (PKWARE APPNOTE 6.3,
4.3.7), which must agree with its central-directory record (name, flags,
method, and, without a data descriptor, CRC-32 and sizes); stored or deflated
data are inflated as they stream, and must end exactly where the member ends
with the stated size and CRC-32. Anything else is one line (ZipDamaged).
The directory itself is walked by custody.base.zipdir.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import BinaryIO

from custody.base.zipdir import (
    DEFLATED,
    DESCRIPTOR_FLAG,
    LOCAL,
    LOCAL_SIZE,
    STORED,
    U32,
    CentralRecord,
    Directory,
    ZipDamaged,
    extra_fields,
    read_at,
    shown,
    zip64_values,
)

_CHUNK = 1 << 20
_LOCAL = struct.Struct("<4sHHHHHIIIHH")


class _Where:
    """'zip member <name>', made only when a message needs it."""

    def __init__(self, name: bytes) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"zip member {shown(self.name)}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def data_start(fh: BinaryIO, record: CentralRecord, directory_offset: int) -> int:
    """Where the member's data starts, once its local header (4.3.7) is checked
    against the directory record. Raises ZipDamaged naming what disagrees."""
    where = _Where(record.name)
    if record.encrypted:
        raise ZipDamaged(f"{where} is encrypted: not read")
    if record.method not in (STORED, DEFLATED):
        raise ZipDamaged(
            f"{where} uses compression method {record.method}: only stored (0) and deflate (8) "
            "are read"
        )
    header = read_at(fh, record.offset, LOCAL_SIZE)
    if len(header) < LOCAL_SIZE or header[:4] != LOCAL:
        raise ZipDamaged(f"{where}: no local header where the central directory points")
    (_, _, flags, method, _, _, crc, comp, size, n, m) = _LOCAL.unpack(header)
    name = fh.read(n)
    extra = fh.read(m)
    if len(extra) < m:
        raise ZipDamaged(f"{where}: its local header is cut short")
    disagree = []
    if name != record.name:
        disagree.append("name")
    if (flags ^ record.flags) & ~DESCRIPTOR_FLAG & 0xFFFF:
        disagree.append("flags")
    if method != record.method:
        disagree.append("compression method")
    if not flags & DESCRIPTOR_FLAG:
        if size == U32 or comp == U32:
            fields = extra_fields(extra, str(where))
            size, comp = zip64_values(fields, [size, comp], str(where))
        if crc != record.crc:
            disagree.append("CRC-32")
        if (comp, size) != (record.compressed, record.size):
            disagree.append("sizes")
    if disagree:
        raise ZipDamaged(
            f"{where}: its local header and the central directory disagree on "
            + ", ".join(disagree)
        )
    start: int = record.offset + LOCAL_SIZE + n + m
    if start + record.compressed > directory_offset:
        raise ZipDamaged(f"{where}: its data runs into the central directory")
    return start


class MemberStream(io.RawIOBase):
    """The bytes of one member, inflated as read; ZipDamaged when the data do
    not end exactly where the member ends with the stated size and CRC-32."""

    def __init__(self, fh: BinaryIO, record: CentralRecord, directory_offset: int) -> None:
        super().__init__()
        self.fh = fh
        self.record = record
        self.at = data_start(fh, record, directory_offset)
        self.left = record.compressed
        self.inflate = zlib.decompressobj(-15) if record.method == DEFLATED else None
        self.count = 0
        self.crc = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def _raw(self, n: int) -> bytes:
        n = min(n, self.left)
        if n <= 0:
            return b""
        data = read_at(self.fh, self.at, n)
        if len(data) < n:
            raise ZipDamaged(f"zip member {shown(self.record.name)}: its data are cut short")
        self.at += n
        self.left -= n
        return data

    def _next(self, n: int) -> bytes:
        if self.inflate is None:
            return self._raw(n)
        while not self.inflate.eof:
            source = self.inflate.unconsumed_tail or self._raw(_CHUNK)
            if not source:
                return b""
            try:
                data = self.inflate.decompress(source, n)
            except zlib.error as e:
                raise ZipDamaged(
                    f"zip member {shown(self.record.name)}: damaged deflate data ({e})"
                ) from e
            if data:
                return data
        return b""

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.finished:
            return 0
        data = self._next(min(len(buffer), _CHUNK))
        if not data:
            self._finish()
            return 0
        self.count += len(data)
        if self.count > self.record.size:
            raise ZipDamaged(
                f"zip member {shown(self.record.name)} holds more bytes than its stated "
                f"{self.record.size:,}"
            )
        self.crc = zlib.crc32(data, self.crc)
        buffer[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        self.finished = True
        where = _Where(self.record.name)
        if self.inflate is not None and (
            not self.inflate.eof or self.inflate.unused_data or self.left
        ):
            raise ZipDamaged(f"{where}: its deflate data do not end where the member ends")
        if self.count != self.record.size:
            raise ZipDamaged(
                f"{where} holds {self.count:,} bytes, the directory says {self.record.size:,}"
            )
        if self.crc != self.record.crc:
            raise ZipDamaged(
                f"{where}: CRC-32 mismatch (data {self.crc:08x}, directory {self.record.crc:08x})"
            )


def open_member(fh: BinaryIO, record: CentralRecord, directory: Directory) -> io.BufferedReader:
    """A buffered stream of the member's bytes (see MemberStream)."""
    buffer = min(_CHUNK, max(io.DEFAULT_BUFFER_SIZE, record.size + 1))
    return io.BufferedReader(MemberStream(fh, record, directory.offset), buffer)
