"""Other audio and video containers (MKV, WebM, AVI, MP3, OGG/Opus, WAV, ...) and
image dimensions, with hachoir."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hachoir.core import config as hachoir_config
from hachoir.core.log import log as hachoir_log
from hachoir.metadata import extractMetadata
from hachoir.parser import guessParser
from hachoir.stream import InputIOStream

from custody.base.utc import utc_text
from custody.metadata.guard import GuardedFile

hachoir_config.quiet = True
hachoir_log.use_print = False

_DETAIL_KEYS = (
    "compression",
    "sample_rate",
    "nb_channel",
    "bit_rate",
    "frame_rate",
    "producer",
    "title",
    "author",
    "artist",
    "album",
    "comment",
    "format_version",
    "mime_type",
    "location",
    "latitude",
    "longitude",
    "altitude",
)


def _groups(metadata: Any) -> list[Any]:
    groups = [metadata]
    if hasattr(metadata, "iterGroups"):
        groups.extend(metadata.iterGroups())
    return groups


def _first(metadata: Any, key: str) -> Any:
    """The first value for `key` in the metadata or any of its stream groups."""
    for group in _groups(metadata):
        try:
            if group.has(key):
                return group.get(key)
        except (KeyError, ValueError, IndexError):
            continue
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 6)
    return str(value)


def hachoir_metadata(fh: GuardedFile, name: str) -> Any:
    """hachoir's metadata for a file, or None when it knows no parser for it."""
    stream = InputIOStream(fh, source=f"file:{name}", tags=[("filename", name)])
    parser = guessParser(stream)
    if parser is None:
        return None
    return extractMetadata(parser)


def extract_media(fh: GuardedFile, name: str, record: dict[str, Any]) -> None:
    """Fill `record` with what hachoir finds: duration, size, creation time, codecs."""
    metadata = hachoir_metadata(fh, name)
    if metadata is None:
        record["errors"].append("no parser for this format")
        return
    duration = _first(metadata, "duration")
    if isinstance(duration, timedelta):
        record["duration_s"] = round(duration.total_seconds(), 3)
    width, height = _first(metadata, "width"), _first(metadata, "height")
    if isinstance(width, int) and isinstance(height, int):
        record["width"], record["height"] = width, height
    created = _first(metadata, "creation_date")
    if isinstance(created, datetime) and created.year > 1900:
        if record["mime"] in ("video/x-matroska", "video/webm", "audio/webm"):
            # Matroska's DateUTC is UTC by definition.
            record["captured_at"] = utc_text(created)
            record["details"]["captured_at_source"] = "Matroska DateUTC"
        else:
            record["captured_at"] = created.strftime("%Y-%m-%dT%H:%M:%S")
            record["details"]["captured_at_source"] = "container creation date (zone unknown)"
    lat, lon = _first(metadata, "latitude"), _first(metadata, "longitude")
    if isinstance(lat, float) and isinstance(lon, float):
        alt = _first(metadata, "altitude")
        record["gps"] = {
            "lat": round(lat, 8),
            "lon": round(lon, 8),
            "alt": round(alt, 3) if isinstance(alt, float) else None,
        }
    codecs: list[str] = []
    for group in _groups(metadata):
        try:
            codecs.extend(str(v) for v in group.getValues("compression"))
        except (KeyError, ValueError):
            continue
    if codecs:
        record["details"]["codecs"] = sorted(set(codecs))
    record["details"]["container"] = {
        key: _plain(_first(metadata, key)) for key in _DETAIL_KEYS if _first(metadata, key)
    }
