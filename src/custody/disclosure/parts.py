"""Files as a sequence of parts, for proofs about copies that leave some out.

- JPEG: SOI, then one part per marker segment, then the scan (SOS to the end).
  Metadata: APP1 (EXIF, XMP, GPS), APP3-APP13 and APP15 (maker notes, IPTC,
  Photoshop), COM.
- PNG: the signature, then one part per chunk. Metadata: tEXt, zTXt, iTXt,
  eXIf, tIME.
- ISO-BMFF (MP4, MOV, M4A): one part per top-level box, and the `moov` box as its
  8-byte header and one part per child. Metadata: `udta` and `meta` (at the top or
  in `moov`) and the XMP `uuid` box. A stripped copy replaces each by a `free` box
  of the same size filled with zeros, so that no chunk offset moves.
- e-mail (.eml): its headers, then each top-level MIME part (role message: the text, each
  attachment) with the boundary lines between them kept as header parts; an mbox: one part
  per message (`From ` line to the next).
- chat exports: the text before the first message, then one part per message
  (the message's lines up to the next message), from the offsets the metadata
  parser recorded.

A stripped copy is the parts whose role is not metadata, back to back; a
redacted chat is the parts with some messages replaced by a marker. Pure
functions of bytes; a file that does not parse is committed whole only.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from custody.bundle.format.commitments import DATA, HEADER, MESSAGE, METADATA

MAX_SPLIT_BYTES = 256 * 1024 * 1024

_JPEG_METADATA = frozenset({0xE1, *range(0xE3, 0xEE), 0xEF, 0xFE})
_PNG_METADATA = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})


@dataclass(frozen=True)
class Part:
    type: str
    role: str
    start: int
    end: int


def split_jpeg(data: bytes) -> list[Part] | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    parts = [Part("SOI", DATA, 0, 2)]
    pos, n = 2, len(data)
    while pos < n:
        if pos + 2 > n or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xDA, 0xD9):  # the scan (or the end) runs to the end of the file
            parts.append(Part("SOS" if marker == 0xDA else "EOI", DATA, pos, n))
            return parts
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            parts.append(Part(f"M{marker:02X}", DATA, pos, pos + 2))
            pos += 2
            continue
        if pos + 4 > n:
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > n:
            return None
        name = f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else f"M{marker:02X}"
        if marker == 0xFE:
            name = "COM"
        parts.append(Part(name, METADATA if marker in _JPEG_METADATA else DATA, pos, end))
        pos = end
    return None  # no scan: not an image custody can prove a stripped copy of


def split_png(data: bytes) -> list[Part] | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    parts = [Part("signature", DATA, 0, 8)]
    pos, n = 8, len(data)
    while pos < n:
        if pos + 12 > n:
            parts.append(Part("trailing", DATA, pos, n))
            return parts
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n or not ctype.isalpha():
            return None
        role = METADATA if ctype in _PNG_METADATA else DATA
        parts.append(Part(ctype.decode("ascii"), role, pos, end))
        pos = end
        if ctype == b"IEND" and pos < n:
            parts.append(Part("trailing", DATA, pos, n))
            return parts
    return parts


_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
ISOBMFF_MIMES = frozenset({"video/mp4", "video/quicktime", "audio/mp4", "video/3gpp"})


def split_isobmff(read: Callable[[int, int], bytes], size: int) -> list[Part] | None:
    """The parts of an ISO-BMFF file, reading only box headers (`read(offset, n)`)."""

    def boxes(start: int, end: int) -> list[tuple[bytes, int, int, int]] | None:
        out, pos = [], start
        while pos < end:
            head = read(pos, 16)
            if len(head) < 8:
                return None
            box = int.from_bytes(head[:4], "big")
            kind = head[4:8]
            header = 8
            if box == 1:
                if len(head) < 16:
                    return None
                box, header = int.from_bytes(head[8:16], "big"), 16
            elif box == 0:
                box = end - pos
            if box < header or pos + box > end or not all(32 <= c < 127 for c in kind):
                return None
            out.append((kind, pos, pos + box, header))
            pos += box
        return out

    top = boxes(0, size)
    if not top or top[0][0] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return None
    parts: list[Part] = []
    for kind, start, end, header in top:
        name = kind.decode("ascii")
        if kind == b"moov" and header == 8:
            children = boxes(start + 8, end)
            if children is None:
                return None
            parts.append(Part("moov", DATA, start, start + 8))
            for ckind, cstart, cend, _ in children:
                role = METADATA if ckind in (b"udta", b"meta") else DATA
                parts.append(Part(f"moov/{ckind.decode('ascii')}", role, cstart, cend))
            continue
        role = DATA
        if kind in (b"udta", b"meta") or (
            kind == b"uuid" and read(start + header, 16) == _XMP_UUID
        ):
            role = METADATA
        parts.append(Part(name, role, start, end))
    return parts


def free_box(size: int) -> bytes:
    """What replaces a metadata box of `size` bytes in a stripped ISO-BMFF copy."""
    return size.to_bytes(4, "big") + b"free" + bytes(size - 8)


_MBOX_SPLIT = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_BOUNDARY = re.compile(
    rb'^content-type:[^\n]*multipart/[^\n]*(?:\n[ \t][^\n]*)*?boundary="?([^";\r\n]+)"?',
    re.I | re.M,
)


def split_mbox(data: bytes) -> list[Part] | None:
    starts = [m.start() for m in _MBOX_SPLIT.finditer(data)]
    if not starts:
        return None
    parts = [Part("header", HEADER, 0, starts[0])] if starts[0] > 0 else []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        parts.append(Part("message", MESSAGE, start, end))
    return parts


def split_email(data: bytes) -> list[Part] | None:
    """Headers, then each top-level MIME part between its boundary lines."""
    head_end = data.find(b"\n\n")
    if head_end < 0:
        head_end = data.find(b"\r\n\r\n")
    found = _BOUNDARY.search(data, 0, head_end if head_end >= 0 else len(data))
    if head_end < 0 or found is None:
        return None
    delimiter = b"--" + found.group(1)
    lines = [m.start() for m in re.finditer(rb"^" + re.escape(delimiter), data, re.M)]
    if len(lines) < 2:
        return None
    parts: list[Part] = []
    pos = 0
    for i, at in enumerate(lines):
        end_of_line = data.find(b"\n", at)
        end_of_line = len(data) if end_of_line < 0 else end_of_line + 1
        if i == 0:
            parts.append(Part("header", HEADER, 0, end_of_line))
        else:
            # the part runs to the line end before the delimiter (which belongs to it)
            parts.append(Part("part", MESSAGE, pos, at))
            closing = data[at + len(delimiter) : at + len(delimiter) + 2] == b"--"
            parts.append(Part("boundary", HEADER, at, len(data) if closing else end_of_line))
            if closing:
                return [p for p in parts if p.end > p.start] if parts[-1].end == len(data) else None
        pos = end_of_line
    return None


def split_chat(size: int, record: dict[str, Any]) -> list[Part] | None:
    """The parts of a chat export from its metadata record's message offsets."""
    details = record.get("details") or {}
    chat = details.get("chat") if isinstance(details, dict) else None
    messages = chat.get("messages") if isinstance(chat, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    offsets = [m.get("offset") if isinstance(m, dict) else None for m in messages]
    if not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets):
        return None
    starts: list[int] = [int(o) for o in offsets if o is not None]
    if starts != sorted(set(starts)) or starts[-1] >= size:
        return None
    parts = []
    if starts[0] > 0:
        parts.append(Part("header", HEADER, 0, starts[0]))
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else size
        parts.append(Part("message", MESSAGE, start, end))
    return parts


def split_file(
    data: bytes, mime: str | None, record: dict[str, Any]
) -> tuple[str, list[Part]] | None:
    """(format, parts) for a file custody can prove partial copies of, or None."""
    if mime == "image/jpeg":
        parts = split_jpeg(data)
        return ("jpeg", parts) if parts else None
    if mime == "image/png":
        parts = split_png(data)
        return ("png", parts) if parts else None
    details = record.get("details") if isinstance(record.get("details"), dict) else {}
    family = details.get("family") if isinstance(details, dict) else None
    if family == "email":
        parts = split_email(data)
        return ("email", parts) if parts else None
    if family == "mbox":
        parts = split_mbox(data)
        return ("mbox", parts) if parts else None
    parts = split_chat(len(data), record)
    return ("chat", parts) if parts else None


def redaction_marker(number: int) -> bytes:
    """What replaces message `number` (1-based) in a redacted chat."""
    return f"[message {number} redacted]\n".encode("ascii")


def message_numbers(roles: Sequence[str]) -> dict[int, int]:
    """{message number (1-based): part index} for a layout's parts."""
    out: dict[int, int] = {}
    for i, role in enumerate(roles):
        if role == MESSAGE:
            out[len(out) + 1] = i
    return out
