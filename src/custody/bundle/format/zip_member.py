"""One zip member's bytes, read strictly: the deflated data must end exactly
where the member ends and give exactly the size and CRC-32 the directory
states.

zipfile stops inflating once it has the stated size and checks the CRC-32 of
those bytes only, so a member whose deflate stream is broken after that point
reads fine in Python and fails in unzip. Read with this, such a member is
reported unreadable. archive_zip_check.py has already checked that the local
header agrees with the directory, so the data starts right after it.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import BinaryIO

CHUNK = 1 << 20
STORED = 0
DEFLATED = 8


class ZipMemberStream(io.RawIOBase):
    """A readable stream of one stored or deflated member; raises
    zipfile.BadZipFile when its data does not hold what the directory says."""

    def __init__(self, fh: BinaryIO, info: zipfile.ZipInfo) -> None:
        super().__init__()
        fh.seek(info.header_offset)
        header = fh.read(30)
        if len(header) < 30:
            raise zipfile.BadZipFile("local header cut short")
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        self.fh = fh
        self.at = info.header_offset + 30 + name_length + extra_length
        self.left = info.compress_size
        self.size = info.file_size
        self.expected_crc = info.CRC
        self.name = info.filename
        if info.compress_type not in (STORED, DEFLATED):
            raise zipfile.BadZipFile(f"compression method {info.compress_type}")
        self.inflate = zlib.decompressobj(-15) if info.compress_type == DEFLATED else None
        self.count = 0
        self.crc = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def _raw(self, n: int) -> bytes:
        n = min(n, self.left)
        if n <= 0:
            return b""
        self.fh.seek(self.at)
        data = self.fh.read(n)
        if len(data) < n:
            raise zipfile.BadZipFile("the member's data is cut short")
        self.at += n
        self.left -= n
        return data

    def _next(self, n: int) -> bytes:
        if self.inflate is None:
            return self._raw(n)
        while True:
            if self.inflate.eof:
                return b""
            source = self.inflate.unconsumed_tail or self._raw(CHUNK)
            if not source:
                return b""
            try:
                data = self.inflate.decompress(source, n)
            except zlib.error as e:
                raise zipfile.BadZipFile(f"damaged deflated data ({e})") from e
            if data:
                return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.finished:
            return 0
        data = self._next(len(buffer))
        if not data:
            self._finish()
            return 0
        self.count += len(data)
        if self.count > self.size:
            raise zipfile.BadZipFile(f"{self.name!r} holds more bytes than its stated size")
        self.crc = zlib.crc32(data, self.crc)
        buffer[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        self.finished = True
        if self.inflate is not None and (
            not self.inflate.eof or self.inflate.unused_data or self.left
        ):
            raise zipfile.BadZipFile(
                f"the deflated data of {self.name!r} does not end where the member ends"
            )
        if self.count != self.size:
            raise zipfile.BadZipFile(f"{self.name!r} holds fewer bytes than its stated size")
        if self.crc != self.expected_crc:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {self.name!r}")
