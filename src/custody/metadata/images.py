"""Images (JPEG, TIFF, HEIC/HEIF, PNG, WebP): EXIF with exifread."""

from __future__ import annotations

import io
import logging
import re
from fractions import Fraction
from typing import Any

import exifread

from custody.metadata.guard import GuardedFile

logging.getLogger("exifread").setLevel(logging.CRITICAL)

_RAW_TAGS = (
    "Image Make",
    "Image Model",
    "Image Software",
    "Image DateTime",
    "Image Orientation",
    "Image Artist",
    "Image Copyright",
    "Image HostComputer",
    "Image ImageDescription",
    "EXIF DateTimeOriginal",
    "EXIF DateTimeDigitized",
    "EXIF OffsetTime",
    "EXIF OffsetTimeOriginal",
    "EXIF OffsetTimeDigitized",
    "EXIF SubSecTimeOriginal",
    "EXIF ExifImageWidth",
    "EXIF ExifImageLength",
    "EXIF LensMake",
    "EXIF LensModel",
    "EXIF BodySerialNumber",
    "EXIF CameraOwnerName",
    "EXIF ImageUniqueID",
    "GPS GPSLatitudeRef",
    "GPS GPSLatitude",
    "GPS GPSLongitudeRef",
    "GPS GPSLongitude",
    "GPS GPSAltitudeRef",
    "GPS GPSAltitude",
    "GPS GPSTimeStamp",
    "GPS GPSDate",
    "GPS GPSMapDatum",
    "GPS GPSProcessingMethod",
    "GPS GPSHPositioningError",
)

_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}|Z")


def _text(tags: dict[str, Any], name: str) -> str | None:
    tag = tags.get(name)
    if tag is None:
        return None
    value = str(tag.printable if hasattr(tag, "printable") else tag).replace("\x00", "").strip()
    return value or None


def exif_time(value: str | None, offset: str | None) -> str | None:
    """'YYYY:MM:DD HH:MM:SS' (+ offset) as ISO 8601; None for empty or impossible dates.

    Without an offset the result has none: a local time in an unknown zone,
    never converted."""
    if not value:
        return None
    m = _EXIF_TIME.match(value)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61) or y < 1800:
        return None
    iso = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    if offset and _OFFSET.fullmatch(offset.strip()):
        iso += offset.strip()
    return iso


def _ratio(value: Any) -> Fraction:
    num = getattr(value, "num", None)
    den = getattr(value, "den", None)
    if num is None:
        return Fraction(int(value))
    if not den:
        raise ValueError("zero denominator in GPS value")
    return Fraction(int(num), int(den))


def _degrees(tags: dict[str, Any], name: str, ref_name: str, negative: str) -> float | None:
    tag = tags.get(name)
    if tag is None:
        return None
    values = list(getattr(tag, "values", []))
    if not values:
        return None
    parts = [_ratio(v) for v in values[:3]] + [Fraction(0)] * (3 - min(3, len(values)))
    deg = parts[0] + parts[1] / 60 + parts[2] / 3600
    ref = (_text(tags, ref_name) or "").upper()[:1]
    if ref == negative:
        deg = -deg
    return round(float(deg), 8)


def gps_from_tags(tags: dict[str, Any]) -> dict[str, float | None] | None:
    lat = _degrees(tags, "GPS GPSLatitude", "GPS GPSLatitudeRef", "S")
    lon = _degrees(tags, "GPS GPSLongitude", "GPS GPSLongitudeRef", "W")
    if lat is None or lon is None:
        return None
    alt = None
    alt_tag = tags.get("GPS GPSAltitude")
    if alt_tag is not None and getattr(alt_tag, "values", None):
        alt_value = _ratio(alt_tag.values[0])
        ref_tag = tags.get("GPS GPSAltitudeRef")
        ref_values = list(getattr(ref_tag, "values", [])) if ref_tag is not None else []
        ref = ref_values[0] if ref_values else 0
        if ref in (1, b"\x01", "1"):
            alt_value = -alt_value
        alt = round(float(alt_value), 3)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"GPS position out of range ({lat}, {lon})")
    return {"lat": lat, "lon": lon, "alt": alt}


def _int_tag(tags: dict[str, Any], *names: str) -> int | None:
    for name in names:
        tag = tags.get(name)
        values = list(getattr(tag, "values", [])) if tag is not None else []
        if values and isinstance(values[0], int) and values[0] > 0:
            return int(values[0])
    return None


def webp_exif(fh: GuardedFile) -> bytes | None:
    """The TIFF bytes of a WebP's EXIF chunk (Android phones write one; exifread
    does not look inside RIFF), or None."""
    fh.seek(0)
    header = fh.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WEBP":
        return None
    end = 8 + int.from_bytes(header[4:8], "little")
    pos = 12
    while pos + 8 <= end:
        fh.seek(pos)
        chunk = fh.read(8)
        if len(chunk) < 8:
            return None
        size = int.from_bytes(chunk[4:8], "little")
        if chunk[:4] == b"EXIF":
            data = fh.read(size)
            return data[6:] if data.startswith(b"Exif\x00\x00") else data
        pos += 8 + size + (size & 1)
    return None


def extract_image(fh: GuardedFile, record: dict[str, Any], mime: str | None = None) -> None:
    """Fill `record` from a file's EXIF. Raises on unreadable EXIF (the caller records it)."""
    if mime == "image/webp":
        tiff = webp_exif(fh)
        if tiff is None:
            record["details"]["exif"] = {}
            return
        record["details"]["exif_container"] = "WebP EXIF chunk"
        source: Any = io.BytesIO(tiff)
    else:
        source = fh
    tags = exifread.process_file(source, details=False, strict=False)
    if not tags:
        record["details"]["exif"] = {}
        return
    time_source = None
    for tag, offset_tag in (
        ("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal"),
        ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized"),
        ("Image DateTime", "EXIF OffsetTime"),
    ):
        iso = exif_time(_text(tags, tag), _text(tags, offset_tag))
        if iso is not None:
            record["captured_at"] = iso
            time_source = tag
            break
    record["details"]["captured_at_source"] = time_source
    errors: list[str] = record["errors"]
    try:
        record["gps"] = gps_from_tags(tags)
    except (ValueError, ZeroDivisionError, TypeError) as e:
        errors.append(f"GPS: {e}")
    device = {
        "make": _text(tags, "Image Make"),
        "model": _text(tags, "Image Model"),
        "software": _text(tags, "Image Software"),
    }
    if any(device.values()):
        record["device"] = device
    orientation = _int_tag(tags, "Image Orientation")
    record["details"]["orientation"] = orientation
    record["width"] = _int_tag(tags, "EXIF ExifImageWidth", "Image ImageWidth")
    record["height"] = _int_tag(tags, "EXIF ExifImageLength", "Image ImageLength")
    record["details"]["exif"] = {
        name: value for name in _RAW_TAGS if (value := _text(tags, name)) is not None
    }
