"""Chat exports as witnesses hand them over, message by message.

Each parser keeps, for every message, who sent it, its time as written and the
assumption made to read it, the byte offsets of its raw lines in the file (the
text itself is never rewritten: `custody show --chat` reads it back from the
evidence), and each attachment it names, resolved to the file handed over
beside it — its bundle path and SHA-256 — or "referenced but not handed over".
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any

MAX_MESSAGES = 200_000

HANDED_OVER = "handed over"
NOT_HANDED_OVER = "referenced but not handed over"
NOT_INCLUDED = "not included in the export (the app's export settings left it out)"
OMITTED = 'omitted by the app when exporting ("<Media omitted>")'


def attachment(
    name: str, chat_path: str, siblings: frozenset[str] | Mapping[str, Any]
) -> dict[str, Any]:
    """An attachment named in a chat at `chat_path`, looked up beside it."""
    folder = posixpath.dirname(chat_path)
    clean = name.strip()
    while clean.startswith("./"):
        clean = clean[2:]
    path = posixpath.normpath(posixpath.join(folder, clean)) if clean else ""
    found = bool(path) and not path.startswith("../") and path in siblings
    return {
        "name": name,
        "path": path if found else None,
        "sha256": None,
        "status": HANDED_OVER if found else NOT_HANDED_OVER,
    }


def placeholder(name: str | None, status: str) -> dict[str, Any]:
    return {"name": name, "path": None, "sha256": None, "status": status}


def resolve_hashes(record: dict[str, Any], digest_of: Callable[[str], str | None]) -> None:
    """Fill the SHA-256 of every attachment a chat record resolved to a path."""
    chat = record.get("details", {}).get("chat")
    if not isinstance(chat, dict):
        return
    for message in chat.get("messages", []):
        for a in message.get("attachments", []):
            if a.get("path"):
                a["sha256"] = digest_of(a["path"])
                if a["sha256"] is None:
                    a["status"] = NOT_HANDED_OVER
                    a["path"] = None


def lines_with_offsets(data: bytes) -> list[tuple[int, int, str]]:
    """(byte offset, byte length without the line end, text) of every line."""
    out = []
    pos = 0
    if data.startswith(b"\xef\xbb\xbf"):
        pos = 3
    n = len(data)
    while pos < n:
        end = data.find(b"\n", pos)
        if end < 0:
            end = n
        raw = data[pos:end]
        length = len(raw) - 1 if raw.endswith(b"\r") else len(raw)
        out.append((pos, length, raw[:length].decode("utf-8", "replace")))
        pos = end + 1
    return out
