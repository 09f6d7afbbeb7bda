"""Media types from content, not names. Pure."""

from __future__ import annotations

import re

# Extensions and the media types their content may have.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "jpg": ("image/jpeg",),
    "jpeg": ("image/jpeg",),
    "jpe": ("image/jpeg",),
    "png": ("image/png",),
    "gif": ("image/gif",),
    "webp": ("image/webp",),
    "tif": ("image/tiff",),
    "tiff": ("image/tiff",),
    "dng": ("image/tiff",),
    "heic": ("image/heic", "image/heif"),
    "heif": ("image/heic", "image/heif"),
    "bmp": ("image/bmp",),
    "mp4": ("video/mp4", "video/quicktime", "audio/mp4"),
    "m4v": ("video/mp4",),
    "mov": ("video/quicktime", "video/mp4"),
    "qt": ("video/quicktime",),
    "3gp": ("video/3gpp", "video/mp4"),
    "3g2": ("video/3gpp2", "video/3gpp"),
    "m4a": ("audio/mp4", "video/mp4"),
    "aac": ("audio/aac",),
    "mkv": ("video/x-matroska",),
    "webm": ("video/webm", "audio/webm"),
    "avi": ("video/x-msvideo",),
    "wav": ("audio/wav",),
    "mp3": ("audio/mpeg",),
    "ogg": ("audio/ogg", "audio/opus", "video/ogg"),
    "oga": ("audio/ogg", "audio/opus"),
    "opus": ("audio/opus", "audio/ogg"),
    "flac": ("audio/flac",),
    "amr": ("audio/amr",),
    "pdf": ("application/pdf",),
    "zip": ("application/zip",),
    "eml": ("message/rfc822",),
    "mbox": ("application/mbox",),
    "txt": ("text/plain",),
    "json": ("application/json",),
    "csv": ("text/plain",),
    "html": ("text/html",),
    "htm": ("text/html",),
}

_FTYP = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic",
    b"hevx": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4V ": "video/mp4",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3gp7": "video/3gpp",
    b"3ge6": "video/3gpp",
    b"3g2a": "video/3gpp2",
}

_MAIL_HEADER = re.compile(
    rb"^(Received|Return-Path|From|To|Subject|Date|Message-ID|MIME-Version|Delivered-To|"
    rb"X-[A-Za-z-]+|DKIM-Signature|Reply-To|Content-Type):[ \t]",
    re.IGNORECASE,
)


def sniff(head: bytes) -> str | None:
    """The media type that the first bytes of a file show, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) > 14:
        return "image/bmp"
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12]
        return {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav"}.get(kind)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP:
            return _FTYP[brand]
        return "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "audio/opus" if b"OpusHead" in head[:128] else "audio/ogg"
    if head.startswith(b"ID3") or (
        len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0
    ):
        return "audio/mpeg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"From ") and b"\n" in head:
        second = head.split(b"\n", 1)[1]
        if _MAIL_HEADER.match(second):
            return "application/mbox"
    if _MAIL_HEADER.match(head.lstrip(b"\xef\xbb\xbf")):
        return "message/rfc822"
    return _sniff_text(head)


_JSON_START = re.compile(
    r'(\{\s*("|\})|\[\s*(\]|"|\{|\[|true\b|false\b|null\b|-?\d+(\.\d+)?([eE][+-]?\d+)?\s*[,\]]))'
)


def _sniff_text(head: bytes) -> str | None:
    if not head:
        return None
    sample = head.lstrip(b"\xef\xbb\xbf")
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(sample) - 4:  # not just a character cut at the end of the sample
            return None
        text = sample[: e.start].decode("utf-8")
    if any(ord(c) < 9 or 13 < ord(c) < 32 for c in text):
        return None
    stripped = text.lstrip()
    if _JSON_START.match(stripped):
        return "application/json"
    if stripped[:15].lower().startswith(("<!doctype html", "<html")):
        return "text/html"
    return "text/plain"


def extension_mismatch(name: str, mime: str | None) -> bool | None:
    """True when the name's extension says one kind of file and the content
    another; None when either is unknown."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    expected = EXTENSIONS.get(ext)
    if expected is None or mime is None:
        return None
    if ext in ("txt", "csv", "json", "html", "htm") and mime.startswith(
        ("text/", "application/json")
    ):
        return False
    return mime not in expected
