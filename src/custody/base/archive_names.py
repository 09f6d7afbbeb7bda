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
from pathlib import Path

from custody.base import zipdir, zipmember
from custody.base.zipdir import CentralRecord

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


def zip_record_name(record: CentralRecord) -> str:
    """zip_member_name for a record of base.zipdir's streaming reader."""
    if record.flags & 0x800 or (record.name.isascii() and b"up" not in record.extra):
        name = record.text_name  # what zip_member_name gives, without a ZipInfo
        return name.split("\x00", 1)[0] if "\x00" in name else name
    info = zipfile.ZipInfo(record.text_name)
    info.orig_filename = record.text_name
    info.flag_bits = record.flags
    info.extra = record.extra
    return zip_member_name(info)


def read_zip_member(path: Path, name: str) -> bytes | None:
    """The bytes of the first member of the zip at `path` whose real name,
    cleaned, is `name` (None when there is none), found by walking the
    directory record by record: a zip of a million members is never listed
    in memory. Raises ZipDamaged (a ValueError) or OSError."""
    with open(path, "rb") as fh:
        directory = zipdir.find_directory(fh)
        for record in zipdir.iter_central(fh, directory):
            if not record.is_dir and clean_member_name(zip_record_name(record)) == name:
                with zipmember.open_member(fh, record, directory) as stream:
                    return stream.read()
    return None


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
