"""Metadata extraction: one normalised record per evidence file.

Every record has the same fields whatever the file's type (docs/metadata.md);
unknown values are null. Extraction never raises for a bad file: problems go
into the record's `errors` list.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from custody.metadata.c2pa import C2PA_TYPES, not_checked
from custody.metadata.guard import ExtractionLimit, GuardedFile
from custody.metadata.record import empty_record
from custody.metadata.sniff import extension_mismatch, sniff

_PARSER_LOCK = threading.RLock()


METADATA_FORMAT = "custody/metadata/v1"
HEAD_BYTES = 4096
TIME_LIMIT_S = 30.0
MEDIA_READ_LIMIT = 96 * 1024 * 1024
MESSAGE_READ_LIMIT = 256 * 1024 * 1024
_EXIF_IMAGES = {
    "image/jpeg",
    "image/tiff",
    "image/heic",
    "image/heif",
    "image/png",
    "image/webp",
    "image/avif",
}
NO_CAPTURE_METADATA = "no capture metadata; the file may have been re-encoded by a messaging app"
_ISOBMFF = {"video/mp4", "video/quicktime", "video/3gpp", "video/3gpp2", "audio/mp4"}


def extract_record(
    *,
    copy_path: Path,
    rel_path: str,
    sha256: str,
    size: int,
    siblings: frozenset[str] = frozenset(),
    enabled: bool = True,
    sniffed: tuple[str | None] | None = None,
    sidecars: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """The normalised metadata record of one file, read from its copy in the
    bundle. `sniffed`, the type already sniffed from the bytes the copy read
    (a 1-tuple, since None is a type: unknown), saves opening files no parser
    reads. Tag files to keep beside the record (C2PA reports, by bundle path)
    are added to `sidecars`. Never raises for a bad file: what goes wrong is in
    `errors`."""
    record = empty_record(rel_path, sha256, size)
    if sniffed is not None:
        mime = sniffed[0]
        record["mime"] = mime
        record["extension_mismatch"] = extension_mismatch(rel_path, mime)
        if not enabled and mime in C2PA_TYPES:
            record["c2pa"] = not_checked("metadata extraction was switched off (--no-metadata)")
        if not enabled or mime is None or not _has_parser(mime, rel_path):
            _annotate(record)
            return record
    try:
        with open(copy_path, "rb") as raw:
            read_stream(
                raw,
                rel_path=rel_path,
                size=size,
                siblings=siblings,
                record=record,
                enabled=enabled,
                sidecars=sidecars,
            )
    except OSError as e:
        record["errors"].append(f"cannot read the copy: {e.strerror}")
    return record


def read_stream(
    raw: Any,
    *,
    rel_path: str,
    size: int,
    siblings: frozenset[str],
    record: dict[str, Any],
    enabled: bool = True,
    sidecars: dict[str, bytes] | None = None,
) -> None:
    """Fill `record` from a seekable binary stream of the file's bytes (a copy
    in the bundle, or an archive member read in place)."""
    head = raw.read(HEAD_BYTES)
    mime = sniff(head)
    record["mime"] = mime
    record["extension_mismatch"] = extension_mismatch(rel_path, mime)
    if enabled and mime is not None:
        # exifread keeps shared state that concurrent calls corrupt (seen as
        # spurious KeyErrors on HEIF); the parsers hold the GIL anyway. The lock
        # is re-entrant: an archive's members are read inside its own dispatch.
        with _PARSER_LOCK:
            _dispatch(raw, mime, rel_path, size, siblings, record, sidecars)
    elif mime in C2PA_TYPES:
        record["c2pa"] = not_checked("metadata extraction was switched off (--no-metadata)")
    _annotate(record)


def _annotate(record: dict[str, Any]) -> None:
    """What a person reading the record should not have to infer."""
    from custody.metadata.filenames import date_from_name

    name = str(record["path"]).rsplit("/", 1)[-1]
    found = date_from_name(name)
    if found is not None:
        record["details"]["file_name_date"] = found
    family = record["details"].get("family")
    if (
        family in ("image", "video")
        and record["captured_at"] is None
        and record["gps"] is None
        and record["device"] is None
        and record["c2pa"] is None
    ):
        record["details"]["capture_metadata"] = NO_CAPTURE_METADATA


def _has_parser(mime: str, rel_path: str) -> bool:
    """Whether _dispatch does anything for this type (else the file is not opened)."""
    if mime.split("/")[0] in ("image", "video", "audio"):
        return True
    if mime in C2PA_TYPES or mime == "application/zip":
        return True
    if mime == "text/html" and _is_telegram_html(rel_path):
        return True
    if mime in ("message/rfc822", "application/mbox", "text/plain"):
        return True
    return mime == "application/json" and rel_path.lower().endswith(".json")


def _guard(raw: Any, max_bytes: int) -> GuardedFile:
    raw.seek(0)
    return GuardedFile(raw, seconds=TIME_LIMIT_S, max_bytes=max_bytes)


def _dispatch(
    raw: Any,
    mime: str,
    rel_path: str,
    size: int,
    siblings: frozenset[str],
    record: dict[str, Any],
    sidecars: dict[str, bytes] | None = None,
) -> None:
    # The parsers are imported on first use: they cost a third of a second of
    # start-up that verify, show and the ledger commands never need.
    from custody.metadata.dimensions import image_size
    from custody.metadata.images import extract_image
    from custody.metadata.isobmff import extract_isobmff
    from custody.metadata.media import extract_media
    from custody.metadata.messages import (
        extract_email,
        extract_mbox,
        extract_telegram,
        extract_whatsapp,
        looks_like_telegram,
        looks_like_whatsapp,
        parse_json,
    )
    from custody.metadata.ogg import extract_ogg

    family = mime.split("/")[0]
    try:
        if mime in _EXIF_IMAGES:
            record["details"]["family"] = "image"
            extract_image(_guard(raw, MEDIA_READ_LIMIT), record, mime)
            dims = image_size(_guard(raw, MEDIA_READ_LIMIT), mime)
            if dims:  # the image's own header outranks what EXIF claims
                record["width"], record["height"] = dims
        elif mime in _ISOBMFF:
            record["details"]["family"] = "audio" if mime.startswith("audio/") else "video"
            extract_isobmff(_guard(raw, MEDIA_READ_LIMIT), size, record)
        elif mime in ("audio/ogg", "audio/opus", "video/ogg"):
            record["details"]["family"] = "audio"
            extract_ogg(_guard(raw, MEDIA_READ_LIMIT), size, record)
        elif family in ("video", "audio", "image"):
            record["details"]["family"] = family
            extract_media(_guard(raw, MEDIA_READ_LIMIT), rel_path, record)
        elif mime == "message/rfc822":
            extract_email(_read_all(raw, size), record)
        elif mime == "application/mbox":
            extract_mbox(_read_all(raw, size), record)
        elif mime == "text/plain" and size <= MESSAGE_READ_LIMIT:
            data = _read_all(raw, size)
            text = data.decode("utf-8-sig", "replace")
            if looks_like_whatsapp(rel_path, text):
                from custody.metadata.chats.whatsapp import parse_whatsapp

                extract_whatsapp(text, rel_path, siblings, record)
                record["details"]["chat"] = parse_whatsapp(data, rel_path, siblings)
            else:
                from custody.metadata.chats.signal import looks_like_signal, parse_signal

                if looks_like_signal(rel_path, text[:8192]):
                    chat = parse_signal(data, rel_path, siblings)
                    record["details"].update(_chat_summary("signal", chat))
        elif mime == "application/json" and rel_path.lower().endswith(".json"):
            data = _read_all(raw, size)
            obj = parse_json(data)
            if looks_like_telegram(obj):
                extract_telegram(obj, record)
                if isinstance(obj.get("messages"), list):
                    from custody.metadata.chats.telegram import parse_telegram_json

                    record["details"]["chat"] = parse_telegram_json(data, rel_path, siblings)
        elif mime == "text/html" and _is_telegram_html(rel_path):
            from custody.metadata.chats.telegram import parse_telegram_html

            chat = parse_telegram_html(_read_all(raw, size), rel_path, siblings)
            if chat is not None:
                record["details"].update(_chat_summary("telegram", chat))
        elif mime == "application/zip":
            from custody.metadata.archive import read_archive_record

            read_archive_record(raw, rel_path, record, sidecars, read_stream)
    except ExtractionLimit as e:
        record["errors"].append(str(e))
    except RecursionError:
        record["errors"].append("structure nested too deeply to read")
    except MemoryError:
        record["errors"].append("structure too large to read")
    except Exception as e:  # hostile files make parsers fail in every way; record and go on
        record["errors"].append(_describe(e))
    if mime in C2PA_TYPES:
        from custody.metadata.c2pa import record_c2pa

        record_c2pa(raw, mime, rel_path, size, record, sidecars)


def _is_telegram_html(rel_path: str) -> bool:
    return re.fullmatch(r"messages\d*\.html", rel_path.rsplit("/", 1)[-1]) is not None


def _chat_summary(family: str, chat: dict[str, Any] | None) -> dict[str, Any]:
    """The details of a chat that only the chats package reads."""
    if chat is None:
        return {}
    messages = chat["messages"]
    times = sorted(str(m["time"]) for m in messages if m.get("time"))
    return {
        "family": family,
        "participants": sorted({str(m["sender"]) for m in messages if m.get("sender")}),
        "message_count": len(messages),
        "first_message": times[0] if times else None,
        "last_message": times[-1] if times else None,
        "chat": chat,
    }


def _read_all(raw: Any, size: int) -> bytes:
    if size > MESSAGE_READ_LIMIT:
        raise ExtractionLimit("file is too large to parse as a message")
    raw.seek(0)
    data: bytes = raw.read(size + 1)  # the size is known: never allocate the whole limit
    return data


def _describe(e: BaseException) -> str:
    text = " ".join(str(e).split())
    text = re.sub(r" at 0x[0-9a-f]+", "", text)[:300]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def metadata_document(records: Iterable[dict[str, Any]]) -> bytes:
    """The bytes of custody/metadata.json for records already sorted by path
    (see write_metadata, which streams the same bytes)."""
    return b"".join(metadata_chunks(records))


def metadata_chunks(records: Iterable[dict[str, Any]]) -> Iterable[bytes]:
    """custody/metadata.json, piece by piece: one record per line (keys sorted),
    so that a bundle of 100,000 files never holds all its records at once and
    the same files always give the same bytes. Records must come sorted by
    path, as the source listing is."""
    yield b'{"files": [\n'
    first = True
    for record in records:
        line = json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False)
        yield (b"" if first else b",\n") + line.encode("utf-8")
        first = False
    yield f'\n], "format": "{METADATA_FORMAT}"}}\n'.encode()


def iter_metadata_records(data: bytes) -> Iterable[dict[str, Any]]:
    """The records of a custody/metadata.json, parsed one line at a time.
    Raises ValueError when the file is not in that form."""
    lines = data.split(b"\n")
    if not lines or lines[0] != b'{"files": [':
        raise ValueError("not a custody metadata file")
    for line in lines[1:]:
        if line.startswith(b"]"):
            return
        record = json.loads(line.rstrip(b",").decode("utf-8"))
        if not isinstance(record, dict):
            raise ValueError("a metadata record is not an object")
        yield record
    raise ValueError("metadata file ends early")
