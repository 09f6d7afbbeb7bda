"""What a court report shows inside the files: each archive's members and each
chat export's conversation, as the signed metadata recorded them at ingest.

`custody verify --json` lists the bundle's files only, so that its document
stays the same size whatever the files hold; a WhatsApp export handed over as
one ZIP is one row there. The report a court files needs every member with its
hash and the conversation itself, so `verify --report` reads them here, from
custody/metadata.json, and only when that file is the one the statement signs.
A chat's text is read from the evidence bytes by the offsets recorded at
ingest (ops/chat.py), never from a copy; a chat whose bytes differ from the
recorded ones is named, not shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import CustodyError
from custody.ops.chat import read_chat
from custody.ops.show import BundleMetadata, read_metadata

MESSAGE_LIMIT = 2000
"""Messages shown per chat: about forty printed pages. The rest are counted and
`custody show BUNDLE --chat PATH` prints them all."""
TEXT_LIMIT = 4000
"""Characters shown of one message; a longer one is cut and says so."""
MEMBER_LIMIT = 20000
"""Members listed per archive (ingest lists at most 100,000)."""
_NESTING = 4


@dataclass(frozen=True)
class ArchiveContents:
    """One archive's members as recorded: (path in the bundle, record) rows."""

    path: str
    members: tuple[dict[str, Any], ...]
    member_count: int
    rejected: tuple[dict[str, Any], ...]
    not_listed: int


@dataclass(frozen=True)
class ChatContents:
    """One chat export: its messages read from the evidence (the first
    `MESSAGE_LIMIT`), or why it cannot be shown."""

    path: str
    dialect: str | None
    time_assumption: str | None
    message_count: int
    messages: tuple[dict[str, Any], ...]
    unreadable: str | None = None


@dataclass(frozen=True)
class BundleContents:
    """Every archive and chat export the signed metadata records."""

    archives: tuple[ArchiveContents, ...]
    chats: tuple[ChatContents, ...]
    message_limit: int = MESSAGE_LIMIT


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _details(record: dict[str, Any]) -> dict[str, Any]:
    details = record.get("details")
    return details if isinstance(details, dict) else {}


def _archives(records: list[dict[str, Any]], prefix: str, depth: int) -> Iterator[ArchiveContents]:
    for record in records:
        archive = _details(record).get("archive")
        if not isinstance(archive, dict) or depth >= _NESTING:
            continue
        path = f"{prefix}{record.get('path')}"
        members = _dicts(archive.get("members"))
        yield ArchiveContents(
            path=path,
            members=tuple(members[:MEMBER_LIMIT]),
            member_count=len(members),
            rejected=tuple(_dicts(archive.get("rejected"))),
            not_listed=_count(archive.get("not_listed")),
        )
        yield from _archives(members, f"{path}/", depth + 1)


def _chat_paths(metadata: BundleMetadata) -> Iterator[str]:
    """Chat exports, loose or one level inside a ZIP (what ops/chat.py reads)."""
    for record in metadata.files:
        if isinstance(_details(record).get("chat"), dict):
            yield str(record.get("path"))
        archive = _details(record).get("archive")
        for member in _dicts(archive.get("members")) if isinstance(archive, dict) else []:
            if isinstance(_details(member).get("chat"), dict):
                yield f"{record.get('path')}/{member.get('path')}"


def _chat(bundle: Path, metadata: BundleMetadata, path: str) -> ChatContents:
    try:
        view = read_chat(bundle=bundle, metadata=metadata, path=path)
    except CustodyError as e:
        return ChatContents(path, None, None, 0, (), unreadable=str(e))
    except (ValueError, TypeError, AttributeError):  # a record signed in another shape
        return ChatContents(path, None, None, 0, (), unreadable="its record is damaged")
    shown = []
    for m in view.messages[:MESSAGE_LIMIT]:
        text = str(m.get("text") or "")
        shown.append({**m, "text": text[:TEXT_LIMIT], "text_cut": len(text) > TEXT_LIMIT})
    return ChatContents(
        path=path,
        dialect=view.dialect,
        time_assumption=view.assumption,
        message_count=len(view.messages),
        messages=tuple(shown),
    )


def read_contents(*, bundle: Path, statement: dict[str, Any] | None) -> BundleContents | None:
    """The archives and chats of a bundle folder or archive, or None when its
    metadata is not the one signed by `statement` (the statement verify read:
    then the report lists files only). Never raises for what a bundle holds: a
    chat that cannot be read says why."""
    try:
        metadata = read_metadata(bundle=bundle)
    except (CustodyError, OSError):
        return None
    if statement is None or not metadata.matches_statement or metadata.statement != statement:
        return None
    return BundleContents(
        archives=tuple(_archives(list(metadata.files), "", 0)),
        chats=tuple(_chat(bundle, metadata, p) for p in _chat_paths(metadata)),
    )
