"""The EXIF of a JPEG found by walking its markers: one read of the APP1
segment instead of exifread's many small reads through the guard, and no
thumbnail decoding. The fast path of images.extract_image; when the walk
finds no EXIF segment the general path reads the file as before."""

from __future__ import annotations

import struct

from custody.metadata.guard import GuardedFile

EXIF_HEADER = b"Exif\x00\x00"
MAX_MARKERS = 1000


def jpeg_exif_tiff(fh: GuardedFile) -> bytes | None:
    """The TIFF bytes of the first APP1 Exif segment before the image data,
    or None (no such segment, or a marker structure the walk does not follow)."""
    fh.seek(0)
    if fh.read(2) != b"\xff\xd8":
        return None
    for _ in range(MAX_MARKERS):
        marker = fh.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xFF:  # fill bytes: rare; the general path reads such a file as before
            return None
        if kind in (0xD8, 0x01) or 0xD0 <= kind <= 0xD7:
            continue
        if kind in (0xD9, 0xDA):  # end of image or start of scan: no EXIF before it
            return None
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if length < 2:
            return None
        if kind == 0xE1:
            body = fh.read(length - 2)
            if len(body) < length - 2:
                return None
            if body.startswith(EXIF_HEADER):
                return body[len(EXIF_HEADER) :]
            continue
        fh.seek(length - 2, 1)
    return None
