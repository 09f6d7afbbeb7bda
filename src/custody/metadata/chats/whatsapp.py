"""WhatsApp "Export chat" text, both dialects.

- iOS: `_chat.txt`, lines `[25/02/2022, 14:15:00] Olena K: text`, U+200E marks
  before system lines and attachments, `<attached: 00000012-PHOTO-....jpg>`.
- Android: `WhatsApp Chat with X.txt`, lines `25/02/2022, 14:15 - Olena K: text`,
  `IMG-20220225-WA0001.jpg (file attached)`, `<Media omitted>` when exported
  without media.

Times are the exporting phone's local time in a zone the export never states,
12- or 24-hour (U+202F or a space before AM/PM), day/month or month/day by the
phone's locale, which the export does not state either: the order is worked
out from the dates themselves and the assumption recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from custody.metadata.chats import (
    MAX_MESSAGES,
    OMITTED,
    attachment,
    lines_with_offsets,
    placeholder,
)

_MARKS = "\u200e\u200f\u202a\u202c\ufeff"
_DATE = (
    r"(\d{1,4})[./-](\d{1,2})[./-](\d{2,4}),?\s(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"(?:\s?([AaPp])\.?\s?[Mm]\.?)?"
)
_IOS = re.compile(rf"^[{_MARKS}]*\[{_DATE}\]\s(.*)$")
_ANDROID = re.compile(rf"^[{_MARKS}]*{_DATE}\s-\s(.*)$")
_SENDER = re.compile(r"^([^:]{1,100}?): (.*)$", re.S)
_ATTACHED = re.compile(r"<attached: ([^>]+)>")
_FILE_ATTACHED = re.compile(rf"^[{_MARKS}]*(.+?\.\w{{1,5}}) \(file attached\)")
_OMITTED = re.compile(r"^[" + _MARKS + r"]*<Media omitted>")
# A shared place: "location: https://maps.google.com/?q=50.4501,30.5234" (both dialects).
_LOCATION = re.compile(r"https://maps\.google\.com/\?q=(-?\d{1,3}\.\d+),(-?\d{1,3}\.\d+)")


def _order(rows: list[tuple[str, ...]]) -> tuple[bool, bool, str]:
    """(year first, day first, the assumption in words) from every date seen."""
    firsts = [int(r[0]) for r in rows]
    seconds = [int(r[1]) for r in rows]
    if any(len(r[0]) == 4 for r in rows):
        return True, False, "year/month/day: the dates start with a four-digit year"
    if any(v > 12 for v in seconds) and not any(v > 12 for v in firsts):
        return False, False, "month/day: a second number above 12 appears, so it is the day"
    if any(v > 12 for v in firsts):
        return False, True, "day/month: a first number above 12 appears, so it is the day"
    return (
        False,
        True,
        "ambiguous: every date fits day/month and month/day; read as day/month "
        "(the phone's locale decides and the export does not state it)",
    )


def parse_whatsapp(
    data: bytes, rel_path: str, siblings: frozenset[str] | Mapping[str, Any]
) -> dict[str, Any] | None:
    """The chat of a WhatsApp export, or None when no line is a WhatsApp line."""
    heads: list[tuple[int, int, str, tuple[str, ...], str]] = []
    dialect = None
    messages: list[dict[str, Any]] = []
    for offset, length, text in lines_with_offsets(data):
        m = _IOS.match(text)
        kind = "ios"
        if m is None:
            m = _ANDROID.match(text)
            kind = "android"
        if m is None:
            if heads:  # a continuation line of the message before
                o, _, t, g, k = heads[-1]
                heads[-1] = (o, offset + length - o, t + "\n" + text, g, k)
            continue
        if len(heads) >= MAX_MESSAGES:
            break
        dialect = dialect or kind
        heads.append((offset, length, text, m.groups()[:7], m.group(8)))
    if not heads:
        return None
    year_first, day_first, assumption = _order([h[3] for h in heads])
    for offset, length, _text, groups, rest in heads:
        a, b, c, hour, minute, sec, ampm = groups
        written = _written(_text)
        sm = _SENDER.match(rest)
        sender, body = (sm.group(1).strip(_MARKS + " "), sm.group(2)) if sm else (None, rest)
        if year_first:
            y, mo, d = int(a), int(b), int(c)
        else:
            d, mo = (int(a), int(b)) if day_first else (int(b), int(a))
            y = int(c) + (2000 if len(c) == 2 else 0)
        h = int(hour)
        if ampm:
            h = h % 12 + (12 if ampm.lower() == "p" else 0)
        try:
            when: str | None = datetime(y, mo, d, h, int(minute), int(sec or 0)).isoformat()
        except ValueError:
            when = None
        attachments = []
        found = _ATTACHED.search(body) or _FILE_ATTACHED.match(body)
        if found:
            attachments.append(attachment(found.group(1).strip(), rel_path, siblings))
        elif _OMITTED.match(body):
            attachments.append(placeholder(None, OMITTED))
        message: dict[str, Any] = {
            "sender": sender,
            "time_as_written": written,
            "time": when,
            "offset": offset,
            "length": length,
            "attachments": attachments,
        }
        place = _LOCATION.search(body)
        if place is not None:
            message["location"] = {"lat": float(place.group(1)), "lon": float(place.group(2))}
        messages.append(message)
    return {
        "dialect": f"whatsapp-{dialect}",
        "time_zone": "local time of the exporting phone, zone not stated in the export",
        "time_assumption": assumption,
        "clock": "12-hour" if any(h[3][6] for h in heads) else "24-hour",
        "messages": messages,
    }


def _written(line: str) -> str:
    """The time stamp exactly as the line writes it."""
    text = line.lstrip(_MARKS)
    if text.startswith("["):
        return text[1 : text.find("]")]
    return text.split(" - ", 1)[0]
