"""What every archive reader of custody shares: the exceptions a hostile or
damaged archive raises in the standard library's readers, the limits against
archives that attack the reader, and a member's real name.

Used by the bundle reader (bundle archives) and by metadata (chat exports and
other zips inside the evidence), which read archives by the same rules.
"""

from __future__ import annotations

import struct
import tarfile
import zipfile
import zlib

ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    struct.error,
    KeyError,
    IndexError,
    UnicodeDecodeError,
    OverflowError,
)

# Archives that attack the reader (the member cap, MAX_MEMBERS, is in archive_common:
# the zip rules count against it before anything is read).
MAX_NAME_BYTES = 4096
BOMB_RATIO = 1000
BOMB_MIN_BYTES = 256 * 1024 * 1024


def clean_member_name(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/") if name.endswith("/") else name


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's real name. Archivers such as Info-ZIP write UTF-8 names
    without the UTF-8 flag (Python then decodes them as cp437), adding an
    Info-ZIP Unicode Path extra field (0x7075) or nothing at all. As unzip
    does, a 0x7075 name counts only when its CRC-32 is that of the plain name
    (a bundle archive whose 0x7075 name differs at all is refused before
    this, in archive_checks)."""
    if info.flag_bits & 0x800:
        return info.filename
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + size]
        if (
            tag == 0x7075
            and len(body) > 5
            and body[0] == 1
            and struct.unpack_from("<I", body, 1)[0] == zlib.crc32(_plain_name_bytes(info))
        ):
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                break
        i += 4 + size
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return info.filename


def _plain_name_bytes(info: zipfile.ZipInfo) -> bytes:
    """The name's bytes as stored (zipfile decoded them as cp437 without the flag)."""
    try:
        return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    except UnicodeEncodeError:
        return b""
