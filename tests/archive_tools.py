"""Archives built byte by byte, and what the extractors a court would use make of them,
for tests/cli/test_archive_readings.py, tests/unit/bundle/test_archive_fuzz.py and the page's tests.

`write_zip` writes a stored zip field by field, so a test can make its local headers and
central directory disagree, leave bytes between members or cross Unicode Path names.
`extracted` runs one real extractor into a fresh folder and returns {path: bytes}.
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

ZIP_TOOLS = ("unzip", "7zz", "bsdtar", "zipfile")
TAR_TOOLS = ("tar", "bsdtar", "7zz", "tarfile")


@dataclass
class Member:
    """One stored zip member; every field the tests may make lie."""

    name: bytes
    data: bytes
    flags: int = 0
    local_name: bytes | None = None
    central_extra: bytes = b""
    local_extra: bytes | None = None
    local_crc: int | None = None
    local_size: int | None = None
    local_flags: int | None = None
    local_method: int | None = None
    mode: int = 0o100644
    method: int = 0
    needed: int = 20


def unicode_path(name: bytes, crc_of: bytes) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075) naming `name`, carrying
    the CRC-32 of `crc_of` (the plain name it claims to stand for)."""
    body = b"\x01" + struct.pack("<I", zlib.crc32(crc_of)) + name
    return struct.pack("<HH", 0x7075, len(body)) + body


def write_zip(
    members: list[Member],
    *,
    before: bytes = b"",
    between: bytes = b"",
    before_directory: bytes = b"",
    after: bytes = b"",
) -> bytes:
    """A stored zip of `members`, with bytes put where a reader may or may not look."""
    out = bytearray(before)
    offsets = []
    for i, m in enumerate(members):
        if i:
            out += between
        offsets.append(len(out))
        crc = zlib.crc32(m.data)
        local_name = m.name if m.local_name is None else m.local_name
        local_extra = m.central_extra if m.local_extra is None else m.local_extra
        out += struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            m.needed,
            m.flags if m.local_flags is None else m.local_flags,
            m.method if m.local_method is None else m.local_method,
            0,
            0x21,
            crc if m.local_crc is None else m.local_crc,
            len(m.data) if m.local_size is None else m.local_size,
            len(m.data) if m.local_size is None else m.local_size,
            len(local_name),
            len(local_extra),
        )
        out += local_name + local_extra + m.data
    out += before_directory
    cd_start = len(out)
    for m, offset in zip(members, offsets, strict=True):
        out += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            0x031E,
            m.needed,
            m.flags,
            m.method,
            0,
            0x21,
            zlib.crc32(m.data),
            len(m.data),
            len(m.data),
            len(m.name),
            len(m.central_extra),
            0,
            0,
            0,
            m.mode << 16,
            offset,
        )
        out += m.name + m.central_extra
    cd_size = len(out) - cd_start
    out += struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), cd_size, cd_start, 0
    )
    return bytes(out + after)


def bundle_members(folder: Path, prefix: str = "") -> list[tuple[str, bytes]]:
    """The files of a bundle folder, sorted, as (archive name, bytes)."""
    return [
        (prefix + p.relative_to(folder).as_posix(), p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def zip_members(folder: Path) -> list[Member]:
    return [
        Member(name.encode(), data, flags=0 if name.isascii() else 0x800)
        for name, data in bundle_members(folder)
    ]


def extracted(tool: str, archive: Path) -> dict[str, bytes] | None:
    """What one extractor writes from `archive`: {path: bytes} of its regular
    files, or None when it refuses the archive outright."""
    with tempfile.TemporaryDirectory(prefix=f"custody-{tool}-") as tmp:
        dest = Path(tmp)
        try:
            if tool == "zipfile":
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(dest)
            elif tool == "tarfile":
                with tarfile.open(archive) as tf:
                    tf.extractall(dest, filter="data")
            else:
                command = {
                    "unzip": ["unzip", "-qq", "-o", str(archive), "-d", str(dest)],
                    "tar": ["tar", "-xf", str(archive), "-C", str(dest)],
                    "bsdtar": ["bsdtar", "-xf", str(archive), "-C", str(dest)],
                    "7zz": ["7zz", "x", "-y", "-bd", "-bso0", "-bse0", f"-o{dest}", str(archive)],
                }[tool]
                done = subprocess.run(command, capture_output=True, timeout=120, check=False)
                # unzip exits 1 for warnings (it still extracted); 2 and above is an error.
                if done.returncode > (1 if tool == "unzip" else 0):
                    return None
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError):
            return None
        return {
            p.relative_to(dest).as_posix(): p.read_bytes()
            for p in sorted(dest.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }


def digests(files: dict[str, bytes], strip: str = "") -> dict[str, str]:
    return {
        name[len(strip) :]: hashlib.sha256(data).hexdigest()
        for name, data in files.items()
        if name.startswith(strip)
    }


def overlong_deflate(folder: Path, victim: str, tail: bytes = b" and more") -> bytes:
    """A deflated zip of `folder` whose member `victim` deflates to its bytes and
    then `tail`, while its local header and the directory state the size and
    CRC-32 of its bytes alone: zipfile stops at the stated size and reads the
    genuine file; unzip inflates the whole stream and fails on it."""
    out = io.BytesIO()
    content = (folder / victim).read_bytes()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                rel = p.relative_to(folder).as_posix()
                zf.writestr(rel, content + tail if rel == victim else p.read_bytes())
    data = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(victim)
    central = data.find(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(victim)] != victim.encode():
        central = data.find(b"PK\x01\x02", central + 1)
    for at in (info.header_offset + 14, central + 16):
        struct.pack_into("<I", data, at, zlib.crc32(content))
        struct.pack_into("<I", data, at + 8, len(content))
    return bytes(data)
