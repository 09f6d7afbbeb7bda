"""`custody show BUNDLE --chat PATH`: a chat export's conversation, read back
from the evidence by the byte offsets recorded at ingest, with the SHA-256 of
every attachment it names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.ops.recheck import _read
from custody.ops.show import BundleMetadata


@dataclass(frozen=True)
class ChatView:
    """One chat: its dialect, how its times were read, and every message."""

    path: str
    dialect: str
    assumption: str | None
    time_zone: str | None
    messages: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "dialect": self.dialect,
            "time_assumption": self.assumption,
            "time_zone": self.time_zone,
            "messages": list(self.messages),
        }


def _find(metadata: BundleMetadata, path: str) -> tuple[dict[str, Any], str, str | None]:
    for record in metadata.files:
        if record.get("path") == path:
            return record, path, None
        archive = (record.get("details") or {}).get("archive") or {}
        prefix = f"{record.get('path')}/"
        if path.startswith(prefix):
            for member in archive.get("members") or []:
                if isinstance(member, dict) and member.get("path") == path[len(prefix) :]:
                    return member, str(member["path"]), str(record.get("path"))
    raise InputError(f"the bundle records no file {path!r}", path=metadata.bundle)


def read_chat(*, bundle: Path, metadata: BundleMetadata, path: str) -> ChatView:
    """The chat recorded for `path` (a file of the bundle, or ARCHIVE/MEMBER).
    Raises InputError when there is no such file, it is not a chat export, or
    it differs from the file recorded at ingest."""
    record, inner, archive = _find(metadata, path)
    chat = (record.get("details") or {}).get("chat")
    if not isinstance(chat, dict):
        raise InputError(f"{path!r} was not recorded as a chat export", path=metadata.bundle)
    try:
        data = _read(bundle, inner, archive)
    except OSError as e:
        raise InputError(f"{path!r} cannot be read: {e}", path=metadata.bundle) from e
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        raise InputError(
            f"{path!r} differs from the file recorded at ingest: run custody verify",
            path=metadata.bundle,
        )
    messages = []
    for m in chat.get("messages") or []:
        start, length = int(m.get("offset", 0)), int(m.get("length", 0))
        messages.append({**m, "text": data[start : start + length].decode("utf-8", "replace")})
    return ChatView(
        path=path,
        dialect=str(chat.get("dialect")),
        assumption=chat.get("time_assumption"),
        time_zone=chat.get("time_zone"),
        messages=tuple(messages),
    )
