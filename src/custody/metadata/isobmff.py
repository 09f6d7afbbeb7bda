"""MP4, QuickTime MOV, 3GP and M4A: creation time, duration, tracks, codecs and
ISO 6709 location, read from the 'moov' box only (never the media data)."""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from custody.base.utc import utc_text
from custody.metadata.guard import GuardedFile

MAX_MOOV_BYTES = 64 * 1024 * 1024
_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=UTC)
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf"}


class BoxError(ValueError):
    """The file's box structure is broken."""


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, content start, content end) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise BoxError("truncated box header")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise BoxError(f"box '{kind.decode('latin-1')}' runs past its parent")
        out.append((kind, pos + header, pos + size))
        pos += size
    return out


def read_top_level(fh: GuardedFile, file_size: int) -> tuple[bytes | None, bytes | None, list[str]]:
    """The ftyp major brand, the moov box's content and any structural problems,
    seeking from box header to box header past the media data."""
    brand = None
    moov = None
    problems: list[str] = []
    pos = 0
    while pos + 8 <= file_size:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            break
        size, kind = struct.unpack_from(">I4s", header)
        name = kind.decode("latin-1")
        header_len = 8
        if size == 1:
            if len(header) < 16:
                raise BoxError("truncated box header")
            size = struct.unpack_from(">Q", header, 8)[0]
            header_len = 16
        elif size == 0:
            size = file_size - pos
        if size < header_len:
            raise BoxError(f"top-level box '{name}' has a bad size")
        if pos + size > file_size:
            problems.append(
                f"box '{name}' ends {pos + size - file_size} bytes past the end of the file: "
                "the file is truncated"
            )
        if kind == b"ftyp" and len(header) >= 12:
            brand = header[8:12]
        if kind == b"moov" and moov is None:
            if size > MAX_MOOV_BYTES:
                raise BoxError("moov box is implausibly large")
            fh.seek(pos + header_len)
            content = fh.read(size - header_len)
            if len(content) < size - header_len:
                problems.append("the moov box is cut short")
            else:
                moov = content
        pos += size
    return brand, moov, problems


def _time(seconds: int) -> str | None:
    if seconds <= 0:
        return None
    try:
        return utc_text(_EPOCH_1904 + timedelta(seconds=seconds))
    except OverflowError:
        return None


def _meta_children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    # ISO 'meta' is a full box (4 bytes of version and flags); QuickTime's is not.
    if data[start + 4 : start + 8] in (b"hdlr", b"keys", b"ilst"):
        return _boxes(data, start, end)
    return _boxes(data, start + 4, end)


def _mdta_values(data: bytes, start: int, end: int) -> dict[str, str]:
    """The QuickTime metadata items of a 'meta' box (keys + ilst), by key name:
    what an iPhone writes as com.apple.quicktime.make, .model, .software,
    .location.ISO6709, .creationdate."""
    children = _meta_children(data, start, end)
    keys: list[bytes] = []
    for kind, s, e in children:
        if kind == b"keys":
            count = struct.unpack_from(">I", data, s + 4)[0]
            pos = s + 8
            for _ in range(min(count, 1024)):
                if pos + 8 > e:
                    break
                size = struct.unpack_from(">I", data, pos)[0]
                if size < 8:
                    break
                keys.append(data[pos + 8 : pos + size])
                pos += size
    values: dict[str, str] = {}
    for kind, s, e in children:
        if kind != b"ilst":
            continue
        for item_kind, is_, ie in _boxes(data, s, e):
            index = struct.unpack(">I", item_kind)[0]
            if not 1 <= index <= len(keys):
                continue
            name = keys[index - 1].decode("utf-8", "replace")
            for dkind, ds, de in _boxes(data, is_, ie):
                if dkind == b"data" and name not in values:
                    values[name] = data[ds + 8 : de].decode("utf-8", "replace")
    return values


def _location_from_meta(values: dict[str, str]) -> str | None:
    for name, value in values.items():
        if name.endswith("ISO6709") or name == "location":
            return value
    return None


_QT_DEVICE = {
    "make": "com.apple.quicktime.make",
    "model": "com.apple.quicktime.model",
    "software": "com.apple.quicktime.software",
}


def _loci(data: bytes, start: int, end: int) -> str | None:
    """A 3GPP 'loci' box as an ISO 6709 string (fixed-point 16.16 degrees and metres)."""
    pos = start + 6  # version and flags, language
    nul = data.find(b"\x00", pos, end)
    if nul < 0 or nul + 13 > end:
        return None
    lon, lat, alt = struct.unpack_from(">iii", data, nul + 2)
    return f"{lat / 65536:+.5f}{lon / 65536:+.5f}{alt / 65536:+.1f}/"


def parse_iso6709(text: str) -> dict[str, float | None] | None:
    """'+50.4470+030.5220+179.0/' style positions as signed decimal degrees."""
    m = re.match(r"\s*([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)?", text)
    if m is None:
        return None

    def angle(value: str, degree_digits: int) -> float:
        sign = -1.0 if value[0] == "-" else 1.0
        whole, _, frac = value[1:].partition(".")
        fraction = float("0." + frac) if frac else 0.0
        extra = len(whole) - degree_digits
        if extra <= 0:
            return sign * (int(whole) + fraction)
        if extra == 2:  # DDMM.MMM
            return sign * (int(whole[:-2]) + (int(whole[-2:]) + fraction) / 60)
        # DDMMSS.SS
        return sign * (
            int(whole[:-4]) + int(whole[-4:-2]) / 60 + (int(whole[-2:]) + fraction) / 3600
        )

    lat = angle(m.group(1), 2)
    lon = angle(m.group(2), 3)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    alt = float(m.group(3)) if m.group(3) else None
    return {"lat": round(lat, 8), "lon": round(lon, 8), "alt": alt}


def extract_isobmff(fh: GuardedFile, size: int, record: dict[str, Any]) -> None:
    """Fill `record` from an MP4/MOV/3GP/M4A file's moov box."""
    brand, moov, problems = read_top_level(fh, size)
    record["errors"].extend(problems)
    details = record["details"]
    details["brand"] = brand.decode("latin-1").strip() if brand else None
    if moov is None:
        record["errors"].append("no 'moov' box: the file is truncated or not finished")
        return
    tracks: list[dict[str, Any]] = []
    location = None
    quicktime: dict[str, str] = {}
    for kind, s, e in _boxes(moov):
        if kind == b"mvhd":
            version = moov[s]
            if version == 1:
                created, _, timescale, duration = struct.unpack_from(">QQIQ", moov, s + 4)
            else:
                created, _, timescale, duration = struct.unpack_from(">IIII", moov, s + 4)
            record["captured_at"] = _time(created)
            details["captured_at_source"] = "mvhd creation time (UTC)"
            if timescale:
                record["duration_s"] = round(duration / timescale, 3)
        elif kind == b"trak":
            tracks.append(_track(moov, s, e))
        elif kind == b"udta":
            for ukind, us, ue in _boxes(moov, s, e):
                if ukind == b"\xa9xyz" and ue - us > 4:
                    location = moov[us + 4 : ue].decode("utf-8", "replace")
                elif ukind == b"loci" and location is None:
                    location = _loci(moov, us, ue)
                elif ukind == b"meta":
                    quicktime.update(_mdta_values(moov, us, ue))
        elif kind == b"meta":
            quicktime.update(_mdta_values(moov, s, e))
    if location is None:
        location = _location_from_meta(quicktime)
    if quicktime:
        details["quicktime"] = {k: v.replace("\x00", "").strip() for k, v in quicktime.items()}
        device = {field: details["quicktime"].get(key) or None for field, key in _QT_DEVICE.items()}
        if any(device.values()):
            record["device"] = device
    details["tracks"] = tracks
    details["codecs"] = sorted({t["codec"] for t in tracks if t.get("codec")})
    video = [t for t in tracks if t.get("type") == "vide" and t.get("width")]
    if video:
        record["width"], record["height"] = video[0]["width"], video[0]["height"]
    if location:
        details["location_iso6709"] = location
        record["gps"] = parse_iso6709(location)


def _track(moov: bytes, start: int, end: int) -> dict[str, Any]:
    track: dict[str, Any] = {"type": None, "codec": None, "width": None, "height": None}

    def walk(s: int, e: int) -> None:
        for kind, cs, ce in _boxes(moov, s, e):
            if kind == b"tkhd" and ce - cs >= 84:
                w, h = struct.unpack_from(">II", moov, ce - 8)
                if w >> 16 and h >> 16:
                    track["width"], track["height"] = w >> 16, h >> 16
            elif kind == b"hdlr" and ce - cs >= 12 and track["type"] is None:
                # The first handler (under mdia) names the track type; QuickTime
                # adds a data handler under minf that must not overwrite it.
                track["type"] = moov[cs + 8 : cs + 12].decode("latin-1")
            elif kind == b"stsd" and ce - cs >= 16:
                track["codec"] = moov[cs + 12 : cs + 16].decode("latin-1").strip()
            elif kind in _CONTAINERS:
                walk(cs, ce)

    walk(start, end)
    return track
