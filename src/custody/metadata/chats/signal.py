"""Signal Desktop exports made with signal-export (github.com/carderne/signal-export):
one folder per conversation with `chat.md`, lines
`[2022-02-25 14:15:00] Olena K: text` and attachments as Markdown links
`![photo.jpg](./media/photo.jpg)`. Times are the exporting computer's local
time (signal-export formats the message time in the local zone), zone not
stated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from custody.metadata.chats import MAX_MESSAGES, attachment, lines_with_offsets

_LINE = re.compile(
    r"^\[(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?\] ([^:]{1,100}?): (.*)$"
)
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]+)\)")


def looks_like_signal(name: str, head: str) -> bool:
    return name.rsplit("/", 1)[-1] == "chat.md" and any(
        _LINE.match(line) for line in head.splitlines()[:20]
    )


def parse_signal(
    data: bytes, rel_path: str, siblings: frozenset[str] | Mapping[str, Any]
) -> dict[str, Any] | None:
    messages: list[dict[str, Any]] = []
    for offset, length, text in lines_with_offsets(data):
        m = _LINE.match(text)
        if m is None:
            if messages:
                last = messages[-1]
                last["length"] = offset + length - last["offset"]
                last["attachments"] += _links(text, rel_path, siblings)
            continue
        if len(messages) >= MAX_MESSAGES:
            break
        y, mo, d, h, mi, s, sender, body = m.groups()
        try:
            when: str | None = datetime(
                int(y), int(mo), int(d), int(h), int(mi), int(s or 0)
            ).isoformat()
        except ValueError:
            when = None
        messages.append(
            {
                "sender": sender,
                "time_as_written": text[1 : text.find("]")],
                "time": when,
                "offset": offset,
                "length": length,
                "attachments": _links(body, rel_path, siblings),
            }
        )
    if not messages:
        return None
    return {
        "dialect": "signal-export",
        "time_zone": "local time of the computer that ran signal-export, zone not stated",
        "time_assumption": "year-month-day as signal-export writes it; zone unknown",
        "messages": messages,
    }


def _links(
    text: str, rel_path: str, siblings: frozenset[str] | Mapping[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for _name, target in _LINK.findall(text):
        if not target.startswith(("http://", "https://")):
            out.append(attachment(target, rel_path, siblings))
    return out
