"""Telegram Desktop exports: result.json (machine-readable) and messages.html.

- result.json: `date_unixtime` is the UTC instant (used); `date` is the
  exporting computer's local time with no zone (kept as written). Media that
  the export settings left out read "(File not included. Change data exporting
  settings to download.)"; a shared place is `location_information`.
- messages.html: each message is a `<div class="message ...">`; its time is in
  the title of the date, e.g. "25.02.2022 14:15:00 UTC+02:00"; a message that
  follows one by the same sender ("joined") has no name of its own.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from custody.base.utc import utc_text
from custody.metadata.chats import MAX_MESSAGES, NOT_INCLUDED, attachment, placeholder

_MEDIA_KEYS = ("photo", "file", "thumbnail")
# "(File not included. Change data exporting settings to download.)", and
# "(File exceeds maximum size. ...)": the export settings left the media out.
_NOT_INCLUDED = "(File "


def _utc(unix: Any) -> str | None:
    try:
        return utc_text(datetime.fromtimestamp(int(unix), UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _messages_span(text: str) -> int | None:
    """Where the array of the first "messages" key starts (a str index)."""
    m = re.search(r'"messages"\s*:\s*\[', text)
    return m.end() if m else None


def parse_telegram_json(
    data: bytes, rel_path: str, siblings: frozenset[str] | Mapping[str, Any]
) -> dict[str, Any] | None:
    """The messages of a single-chat result.json with the byte span of each
    message object in the file; None when the file is not one."""
    text = data.decode("utf-8-sig")
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    start = _messages_span(text)
    if start is None:
        return None
    decoder = json.JSONDecoder()
    messages: list[dict[str, Any]] = []
    pos = start
    byte_pos = bom + len(text[:start].encode("utf-8"))
    n = len(text)
    while pos < n and len(messages) < MAX_MESSAGES:
        skip = pos
        while skip < n and text[skip] in " \t\r\n,":
            skip += 1
        if skip >= n or text[skip] == "]":
            break
        byte_pos += len(text[pos:skip].encode("utf-8"))
        obj, end = decoder.raw_decode(text, skip)
        length = len(text[skip:end].encode("utf-8"))
        if isinstance(obj, dict):
            messages.append(_json_message(obj, byte_pos, length, rel_path, siblings))
        byte_pos += length
        pos = end
    return {
        "dialect": "telegram-json",
        "time_zone": "UTC, from date_unixtime; date is the exporting computer's local time",
        "time_assumption": "date_unixtime is an instant (UTC); date, as written, has no zone",
        "messages": messages,
    }


def _json_message(
    obj: dict[str, Any],
    offset: int,
    length: int,
    rel_path: str,
    siblings: frozenset[str] | Mapping[str, Any],
) -> dict[str, Any]:
    attachments: list[dict[str, Any]] = []
    for key in _MEDIA_KEYS:
        value = obj.get(key)
        if not isinstance(value, str) or (key == "thumbnail" and attachments):
            continue
        if value.startswith(_NOT_INCLUDED):
            attachments.append(placeholder(obj.get("file_name"), NOT_INCLUDED))
        else:
            attachments.append(attachment(value, rel_path, siblings))
    message: dict[str, Any] = {
        "id": obj.get("id"),
        "type": obj.get("type"),
        "sender": obj.get("from") or obj.get("actor"),
        "time_as_written": obj.get("date"),
        "time": _utc(obj.get("date_unixtime")),
        "offset": offset,
        "length": length,
        "attachments": attachments,
    }
    place = obj.get("location_information")
    if isinstance(place, dict):
        message["location"] = {"lat": place.get("latitude"), "lon": place.get("longitude")}
    return message


_MSG = re.compile(rb'<div class="message (?:default|service)[^"]*"\s+id="message-?(\d+)"')
_DATE = re.compile(rb'<div class="pull_right date details" title="([^"]+)"')
_FROM = re.compile(rb'<div class="from_name">\s*(.*?)\s*</div>', re.S)
_HREF = re.compile(
    rb'<a class="(?:photo_wrap|video_file_wrap|media_wrap|media)[^"]*" href="([^"]+)"'
)
_NOT_INCLUDED_HTML = re.compile(rb"Not included, change data exporting settings to download")
_LOCATION = re.compile(rb'href="https?://maps\.google\.com/maps\?q=(-?[\d.]+),(-?[\d.]+)')
_TITLE_TIME = re.compile(
    r"(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})(?: UTC([+-])(\d{2}):(\d{2}))?"
)


def _html_time(title: str) -> str | None:
    m = _TITLE_TIME.match(title)
    if m is None:
        return None
    d, mo, y, h, mi, s, sign, oh, om = m.groups()
    try:
        datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        return None
    iso = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
    return iso + (f"{sign}{oh}:{om}" if sign else "")


def parse_telegram_html(
    data: bytes, rel_path: str, siblings: frozenset[str] | Mapping[str, Any]
) -> dict[str, Any] | None:
    starts = [m for m in _MSG.finditer(data)]
    if not starts:
        return None
    messages = []
    sender = None
    for i, m in enumerate(starts[:MAX_MESSAGES]):
        begin = m.start()
        end = starts[i + 1].start() if i + 1 < len(starts) else data.find(b"</body>", begin)
        end = end if end > begin else len(data)
        block = data[begin:end]
        service = b'class="message service' in block[:40]
        name = _FROM.search(block)
        if name is not None:
            sender = _text(name.group(1))
        elif b"joined" not in block[:60]:
            sender = None if service else sender
        date = _DATE.search(block)
        written = html.unescape(date.group(1).decode("utf-8", "replace")) if date else None
        attachments = []
        for href in _HREF.findall(block):
            target = html.unescape(href.decode("utf-8", "replace"))
            if not target.startswith(("http://", "https://", "#")):
                attachments.append(attachment(target, rel_path, siblings))
        if _NOT_INCLUDED_HTML.search(block):
            attachments.append(placeholder(None, NOT_INCLUDED))
        message: dict[str, Any] = {
            "id": int(m.group(1)),
            "type": "service" if service else "message",
            "sender": None if service else sender,
            "time_as_written": written,
            "time": _html_time(written) if written else None,
            "offset": begin,
            "length": end - begin,
            "attachments": attachments,
        }
        loc = _LOCATION.search(block)
        if loc is not None:
            message["location"] = {"lat": float(loc.group(1)), "lon": float(loc.group(2))}
        messages.append(message)
    return {
        "dialect": "telegram-html",
        "time_zone": 'as written in each message ("UTC+hh:mm")',
        "time_assumption": "the offset written after each time is the exporting computer's zone",
        "messages": messages,
    }


def _text(raw: bytes) -> str:
    return html.unescape(re.sub(rb"<[^>]+>", b"", raw).decode("utf-8", "replace")).strip()
