"""Messages: email (.eml), mbox, WhatsApp chat exports, Telegram JSON exports."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from posixpath import dirname
from typing import Any

from custody.base.utc import utc_text

MAX_LISTED = 1000  # messages or attachments listed one by one; the rest are counted


def _addresses(value: Any) -> list[str]:
    if not value:
        return []
    return [f"{name} <{addr}>" if name else addr for name, addr in getaddresses([str(value)])]


def _date(value: Any) -> str | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # '-0000': the sender's zone is unknown
        return parsed.strftime("%Y-%m-%dT%H:%M:%S")
    return parsed.isoformat()


def summarise_email(message: EmailMessage) -> dict[str, Any]:
    """The headers and attachments of one message."""
    attachments: list[dict[str, Any]] = []
    for part in message.iter_attachments():
        try:
            decoded = part.get_payload(decode=True)
        except (ValueError, TypeError, LookupError):
            decoded = None
        payload = decoded if isinstance(decoded, bytes) else b""
        if len(attachments) < MAX_LISTED:
            attachments.append(
                {
                    "name": part.get_filename(),
                    "type": part.get_content_type(),
                    "size": len(payload),
                    "sha256": hashlib.sha256(payload).hexdigest(),
                }
            )
    header = message.get
    return {
        "from": _addresses(header("From")),
        "to": _addresses(header("To")),
        "cc": _addresses(header("Cc")),
        "date": _date(header("Date")),
        "subject": str(header("Subject")) if header("Subject") is not None else None,
        "message_id": str(header("Message-ID")).strip() if header("Message-ID") else None,
        "attachments": attachments,
    }


def extract_email(data: bytes, record: dict[str, Any]) -> None:
    message = BytesParser(policy=policy.default).parsebytes(data)
    if not any(message.get(h) for h in ("From", "Date", "Subject", "Message-ID")):
        record["errors"].append("no email headers found")
        return
    summary = summarise_email(message)
    record["captured_at"] = summary["date"]
    record["details"].update({"family": "email", **summary})


_MBOX_SPLIT = re.compile(rb"^From [^\n]*\n", re.MULTILINE)


def extract_mbox(data: bytes, record: dict[str, Any]) -> None:
    starts = [m.start() for m in _MBOX_SPLIT.finditer(data)]
    messages: list[dict[str, Any]] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        if len(messages) >= MAX_LISTED:
            continue
        body = data[start:end].split(b"\n", 1)[1] if b"\n" in data[start:end] else b""
        body = re.sub(rb"^>(>*From )", rb"\1", body, flags=re.MULTILINE)
        message = BytesParser(policy=policy.default).parsebytes(body)
        messages.append(summarise_email(message))
    dates = sorted(m["date"] for m in messages if m["date"])
    record["details"].update(
        {
            "family": "mbox",
            "message_count": len(starts),
            "messages": messages,
            "first_date": dates[0] if dates else None,
            "last_date": dates[-1] if dates else None,
        }
    )


_WA_IOS = re.compile(
    r"^\u200e?\[(\d{1,2})[./-](\d{1,2})[./-](\d{2,4}),? (\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"(?:\s?([AaPp])\.?\s?[Mm]\.?)?\] ([^:]{1,100}?): (.*)$"
)
_WA_ANDROID = re.compile(
    r"^\u200e?(\d{1,2})[./-](\d{1,2})[./-](\d{2,4}),? (\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"(?:\s?([AaPp])\.?\s?[Mm]\.?)? - ([^:]{1,100}?): (.*)$"
)
_WA_ATTACHED = re.compile(r"<attached: ([^>]+)>")
_WA_ANDROID_FILE = re.compile(r"^\u200e?(.+?\.\w{1,5}) \(file attached\)")


def looks_like_whatsapp(name: str, text: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    if not (base == "_chat.txt" or base.lower().startswith("whatsapp chat")):
        return False
    lines = text.splitlines()[:20]
    return any(_WA_IOS.match(li) or _WA_ANDROID.match(li) for li in lines)


def extract_whatsapp(
    text: str, rel_path: str, siblings: frozenset[str], record: dict[str, Any]
) -> None:
    rows = []
    for line in text.splitlines():
        m = _WA_IOS.match(line) or _WA_ANDROID.match(line)
        if m:
            rows.append(m.groups())
    firsts = [int(r[0]) for r in rows]
    seconds = [int(r[1]) for r in rows]
    if any(v > 12 for v in seconds) and not any(v > 12 for v in firsts):
        order, day_first = "month/day", False
    elif any(v > 12 for v in firsts):
        order, day_first = "day/month", True
    else:
        order, day_first = "ambiguous (read as day/month)", True
    times = []
    participants: set[str] = set()
    attachments: list[str] = []
    for a, b, year, hour, minute, sec, ampm, sender, body in rows:
        participants.add(sender.strip("\u200e "))
        day, month = (int(a), int(b)) if day_first else (int(b), int(a))
        y = int(year) + (2000 if len(year) == 2 else 0)
        h = int(hour)
        if ampm:
            h = h % 12 + (12 if ampm.lower() == "p" else 0)
        with contextlib.suppress(ValueError):
            times.append(datetime(y, month, day, h, int(minute), int(sec or 0)))
        found = _WA_ATTACHED.search(body) or _WA_ANDROID_FILE.match(body)
        if found:
            attachments.append(found.group(1).strip())
    folder = dirname(rel_path)
    times.sort()
    record["details"].update(
        {
            "family": "whatsapp",
            "participants": sorted(participants),
            "message_count": len(rows),
            "first_message": times[0].strftime("%Y-%m-%dT%H:%M:%S") if times else None,
            "last_message": times[-1].strftime("%Y-%m-%dT%H:%M:%S") if times else None,
            "times": "local time of the exporting phone, zone unknown",
            "date_order": order,
            "attachments": [
                {"name": name, "present": (f"{folder}/{name}" if folder else name) in siblings}
                for name in attachments[:MAX_LISTED]
            ],
        }
    )


def _telegram_time(message: dict[str, Any]) -> str | None:
    unix = message.get("date_unixtime")
    if unix is not None:
        try:
            return utc_text(datetime.fromtimestamp(int(unix), UTC))
        except (ValueError, OverflowError, OSError):
            return None
    date = message.get("date")
    return str(date) if isinstance(date, str) else None


def looks_like_telegram(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("messages"), list):
        return True
    chats = obj.get("chats")
    return isinstance(chats, dict) and isinstance(chats.get("list"), list)


def extract_telegram(obj: dict[str, Any], record: dict[str, Any]) -> None:
    chats = obj["chats"]["list"] if "chats" in obj else [obj]
    summaries = []
    for chat in chats[:MAX_LISTED]:
        if not isinstance(chat, dict):
            continue
        messages = [m for m in chat.get("messages", []) if isinstance(m, dict)]
        real = [m for m in messages if m.get("type", "message") == "message"]
        people = sorted({str(m["from"]) for m in real if m.get("from")})
        times = sorted(t for m in real if (t := _telegram_time(m)))
        summaries.append(
            {
                "name": chat.get("name"),
                "type": chat.get("type"),
                "participants": people,
                "message_count": len(real),
                "first_message": times[0] if times else None,
                "last_message": times[-1] if times else None,
            }
        )
    details: dict[str, Any] = {"family": "telegram", "chats": summaries}
    if len(summaries) == 1:
        details.update({k: v for k, v in summaries[0].items()})
    record["details"].update(details)


def parse_json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8-sig"))
