"""Image width and height from the first bytes of the file, seeking from header
to header (a 20 MB photo costs a few small reads). Pure reading, no decoding."""

from __future__ import annotations

import struct

from custody.metadata.guard import GuardedFile

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(fh: GuardedFile) -> tuple[int, int] | None:
    fh.seek(2)
    for _ in range(10_000):
        marker = fh.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            fh.seek(-1, 1)
            continue
        if kind in (0xD8, 0x01) or 0xD0 <= kind <= 0xD7:
            continue
        if kind in (0xD9, 0xDA):  # end of image, or image data before any frame header
            return None
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            return None
        if kind in _SOF:
            body = fh.read(5)
            if len(body) < 5:
                return None
            height, width = struct.unpack(">HH", body[1:5])
            return (width, height) if width and height else None
        fh.seek(length - 2, 1)
    return None


def image_size(fh: GuardedFile, mime: str) -> tuple[int, int] | None:
    """(width, height) for JPEG, PNG, GIF, WebP and BMP; None when not found."""
    fh.seek(0)
    head = fh.read(32)
    if mime == "image/jpeg":
        return _jpeg(fh)
    if mime == "image/png" and len(head) >= 24 and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return w, h
    if mime == "image/gif" and len(head) >= 10:
        w, h = struct.unpack("<HH", head[6:10])
        return w, h
    if mime == "image/bmp" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return abs(w), abs(h)
    if mime == "image/webp" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8X":
            w = int.from_bytes(head[24:27], "little") + 1
            h = int.from_bytes(head[27:30], "little") + 1
            return w, h
        if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
            w, h = struct.unpack("<HH", head[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L" and head[20] == 0x2F:
            bits = int.from_bytes(head[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
