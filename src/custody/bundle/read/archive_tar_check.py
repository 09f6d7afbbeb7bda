"""The tar rules of archive_checks.py: a plain sequence of ustar, GNU or pax
headers that GNU tar, bsdtar and Python's tarfile name alike, ended by zero
blocks and nothing else, compressed (if at all) as one gzip, bzip2 or xz
stream with nothing after it.

Walked header by header on the decompressed stream, with no member data kept.
A tar cut short is not refused here: the scan reads what is there and reports
the damage, as before.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from custody.base.errors import NotABundleError
from custody.bundle.read.archive_common import TAR_BLOCK, NameBook, refuse, shown, tar_header_at

CHUNK = 1 << 20  # decompressed bytes at a time
PIECE = 64 * 1024  # bytes read from the file at a time
REGULAR = (b"0", b"\x00", b"7")
DIRECTORY = b"5"
NO_DATA = (b"1", b"2", b"3", b"4", b"5", b"6")  # links, devices, folders, FIFOs
PAX_KEYS = {"path", "linkpath", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"}
PAX_PREFIXES = ("SCHILY.", "LIBARCHIVE.")
HDRCHARSETS = (b"BINARY", b"ISO-IR 10646 2000 UTF-8")
USTAR = b"ustar\x0000"
GNU = b"ustar  \x00"
MAX_META = 1 << 20  # a pax or GNU long-name record
COMPLETE = "tar"
CUT = "tar cut short"


class _Stream:
    """The tar's bytes, decompressed as they are read, in pieces of at most
    CHUNK bytes (a compression bomb never fills memory); a plain tar's member
    data is seeked past, not read."""

    def __init__(self, fh: BinaryIO, compression: str | None) -> None:
        self.fh = fh
        self.buffer = bytearray()
        self.pos = 0
        self.compression = compression
        # zlib's, bz2's or lzma's decompressor: each has eof and unused_data.
        self.decompressor: Any = None
        if compression == "gzip":
            self.decompressor = zlib.decompressobj(wbits=31)
        elif compression == "bzip2":
            self.decompressor = bz2.BZ2Decompressor()
        elif compression == "xz":
            self.decompressor = lzma.LZMADecompressor()
        self.done = False
        self.after_stream = False

    @property
    def ended_properly(self) -> bool:
        """The compressed stream reached its end marker (always, for a plain tar)."""
        return self.decompressor is None or bool(self.decompressor.eof)

    def _inflate(self) -> bytes | None:
        """Some decompressed bytes (maybe none yet: a bzip2 block is inflated
        whole), or None when no compressed bytes are left to give."""
        d = self.decompressor
        if self.compression == "gzip":
            source = d.unconsumed_tail or self.fh.read(PIECE)
            return bytes(d.decompress(source, CHUNK)) if source else None
        source = self.fh.read(PIECE) if d.needs_input else b""
        if not source and d.needs_input:
            return None
        return bytes(d.decompress(source, CHUNK))

    def _more(self, want: int) -> bool:
        if self.done:
            return False
        if self.pos > CHUNK:
            del self.buffer[: self.pos]
            self.pos = 0
        d = self.decompressor
        if d is None:
            piece = self.fh.read(max(want, PIECE))
            if not piece:
                self.done = True
                return False
            self.buffer += piece
            return True
        while True:
            if d.eof:
                self.done = True
                self.after_stream = bool(d.unused_data) or bool(self.fh.read(1))
                return False
            try:
                inflated = self._inflate()
            except (zlib.error, OSError, EOFError, lzma.LZMAError):
                self.done = True  # damaged: the scan reports it
                return False
            if inflated is None:
                self.done = True  # cut short: the scan reports it
                return False
            if inflated:
                self.buffer += inflated
                return True

    def _available(self) -> int:
        return len(self.buffer) - self.pos

    def read(self, n: int) -> bytes:
        while self._available() < n and self._more(n - self._available()):
            pass
        out = bytes(self.buffer[self.pos : self.pos + n])
        self.pos += len(out)
        return out

    def skip(self, n: int) -> bool:
        """Pass over n bytes; False when the tar ends first."""
        available = self._available()
        if n <= available:
            self.pos += n
            return True
        n -= available
        self.buffer.clear()
        self.pos = 0
        if self.decompressor is None:
            here = self.fh.tell()
            if here + n > self.fh.seek(0, 2):
                self.done = True
                return False
            self.fh.seek(here + n)
            return True
        while n > 0:
            if not self._more(n):
                return False
            taken = min(n, self._available())
            self.pos += taken
            n -= taken
        return True

    def rest_is_zero(self) -> bool:
        while True:
            if any(self.buffer[self.pos :]):
                return False
            self.buffer.clear()
            self.pos = 0
            if not self._more(PIECE):
                return True


def _number(field: bytes) -> int | None:
    if field[:1] in (b"\x80", b"\xff"):
        value = int.from_bytes(field[1:], "big")
        return value if field[0] == 0x80 else None
    text = field.split(b"\x00", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None


def _text(raw: bytes) -> str:
    """A name's bytes as tarfile gives them (UTF-8, other bytes kept as
    surrogates): GNU tar and bsdtar take the same bytes, so a name that is not
    UTF-8 is no second reading (the scan reports it)."""
    return raw.decode("utf-8", "surrogateescape")


def _pax_records(path: Path, data: bytes, at: int) -> dict[str, str]:
    records: dict[str, str] = {}
    i = 0
    while i < len(data):
        if data[i:].strip(b"\x00") == b"":
            break
        space = data.find(b" ", i)
        length = data[i:space]
        if space < 0 or not length.isdigit() or int(length) <= 0:
            raise refuse(path, f"a malformed pax header at offset {at}")
        record = data[i : i + int(length)]
        if len(record) != int(length) or not record.endswith(b"\n") or b"=" not in record:
            raise refuse(path, f"a malformed pax header at offset {at}")
        key, _, value = record[space - i + 1 : -1].partition(b"=")
        name = _text(key)
        if name in records:
            raise refuse(path, f"a pax header at offset {at} gives {shown(name)} twice")
        if name == "hdrcharset" and value in HDRCHARSETS:
            pass  # the names' bytes are taken as they are, by every tar tool
        elif name not in PAX_KEYS and not name.startswith(PAX_PREFIXES):
            raise refuse(
                path,
                f"a pax header at offset {at} holds {shown(name)}, "
                "which tar tools treat differently",
            )
        records[name] = _text(value)
        i += int(length)
    return records


def check_tar(path: Path, compression: str | None) -> str | None:
    """Raise ArchiveRefused unless the tar at `path` has exactly one reading.
    Returns COMPLETE, or CUT for a tar that ends (or whose compressed data
    breaks off) before its end blocks, which the scan reports as damage:
    tarfile takes a header cut short for the end of the archive. None when
    its (decompressed) start is not a tar header at all."""
    with NameBook(path) as names:
        try:
            result = _check_tar(path, compression, names)
        except NotABundleError as e:
            names.raise_first(before=e)
            raise
        names.raise_first()
        return result


def _check_tar(path: Path, compression: str | None, names: NameBook) -> str | None:
    with open(path, "rb") as fh:
        stream = _Stream(fh, compression)
        first = stream.read(TAR_BLOCK)
        if not tar_header_at(first):
            return None
        block, offset = first, 0
        pax: dict[str, str] | None = None
        long_name: str | None = None
        while True:
            if len(block) < TAR_BLOCK:
                return CUT
            if block == bytes(TAR_BLOCK):
                if pax is not None or long_name is not None:
                    raise refuse(path, "a pax or long-name header with no member after it")
                if not stream.rest_is_zero():
                    raise refuse(
                        path, "bytes other than zeros after the tar's end-of-archive blocks"
                    )
                if not stream.ended_properly:
                    # tarfile stops at the end blocks; gzip and tar -z read on, and fail.
                    raise refuse(path, f"the {compression} data is cut short or damaged")
                if stream.after_stream:
                    raise refuse(path, f"bytes after the {compression} data")
                return COMPLETE
            if not tar_header_at(block):
                raise refuse(
                    path,
                    f"a damaged tar header at offset {offset}: tar tools skip it or stop, "
                    "each differently",
                )
            kind = block[156:157]
            size = _number(block[124:136])
            magic = block[257:265]
            if size is None:
                raise refuse(path, f"a tar header at offset {offset} has an unreadable size")
            if magic not in (USTAR, GNU, bytes(8)):
                raise refuse(path, f"a tar header at offset {offset} is of no known format")
            data_blocks = (size + TAR_BLOCK - 1) // TAR_BLOCK * TAR_BLOCK
            if kind in (b"x", b"L", b"K"):
                if size > MAX_META:
                    raise refuse(path, f"an oversized pax or long-name header at offset {offset}")
                data = stream.read(data_blocks)[:size]
                if len(data) < size:
                    return CUT
                if kind == b"x":
                    if pax is not None:
                        raise refuse(path, f"two pax headers for one member at offset {offset}")
                    pax = _pax_records(path, data, offset)
                elif kind == b"L":
                    if long_name is not None:
                        raise refuse(path, f"two GNU long names for one member at offset {offset}")
                    long_name = _text(data.split(b"\x00", 1)[0])
                if pax is not None and long_name is not None and "path" in pax:
                    raise refuse(
                        path,
                        f"both a pax path and a GNU long name for the member at offset {offset}",
                    )
                offset += TAR_BLOCK + data_blocks
                block = stream.read(TAR_BLOCK)
                continue
            if kind == b"g":
                raise refuse(
                    path, f"a pax global header at offset {offset}: tar tools apply it differently"
                )
            if kind not in REGULAR and kind not in NO_DATA:
                raise refuse(
                    path,
                    f"a tar member of type {shown(kind.decode('latin-1'))} at offset {offset}, "
                    "which tar tools read differently",
                )
            name = _text(block[:100].split(b"\x00", 1)[0])
            prefix = _text(block[345:500].split(b"\x00", 1)[0])
            if magic == USTAR:
                name = f"{prefix}/{name}" if prefix else name
            elif prefix:
                # tarfile puts a prefix before the name in any header; GNU tar and
                # bsdtar only in a ustar one (a GNU header keeps times there).
                raise refuse(
                    path,
                    f"tar member {shown(name)} at offset {offset} has a name prefix in a "
                    "header that is not ustar: tar tools name it differently",
                )
            if long_name is not None:
                name = long_name
            if pax is not None:
                name = pax.get("path", name)
                if "size" in pax:
                    if not pax["size"].isdigit():
                        raise refuse(path, f"a malformed pax header at offset {offset}")
                    size = int(pax["size"])
                    data_blocks = (size + TAR_BLOCK - 1) // TAR_BLOCK * TAR_BLOCK
            if kind in NO_DATA and size:
                raise refuse(
                    path,
                    f"tar member {shown(name)} is a link, folder or device that claims "
                    f"{size} bytes of data",
                )
            if kind in REGULAR and name.endswith("/"):
                raise refuse(path, f"tar member {shown(name)} is a file whose name ends in '/'")
            names.add(name, kind == DIRECTORY)
            pax, long_name = None, None
            if not stream.skip(data_blocks):
                return CUT
            offset += TAR_BLOCK + data_blocks
            block = stream.read(TAR_BLOCK)
