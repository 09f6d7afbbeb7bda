"""The items of a bundle that a scope can select: every payload file, every
member of a ZIP handed over (a chat export), and every member of a phone
extraction that has bytes. Pure: metadata bytes and a tag reader in.

An item is named by two strings, (bundle path, member path): a loose file is
("data/photo.jpg", ""), a member ("data/phone.ufdr", "files/Image/x.jpg").
An iOS backup's files are payload files of their own (named by hash): each is
one item, with the device path Manifest.db gives it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import rfc8785

PAYLOAD = "data/"
_DOCUMENTS = ("application/pdf", "application/json", "application/rtf", "text/")


@dataclass(frozen=True, slots=True)
class Item:
    bundle_path: str
    member: str
    captured: str | None
    type: str
    participants: tuple[str, ...]
    device: str | None
    size: int | None
    sha256: str | None
    captured_last: str | None = None  # a chat: the time of its last message

    @property
    def path(self) -> str:
        return f"{self.bundle_path}/{self.member}" if self.member else self.bundle_path

    def leaf(self) -> bytes:
        """The canonical bytes naming the item: a JSON array of two strings."""
        return bytes(rfc8785.dumps([self.bundle_path, self.member]))

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle_path": self.bundle_path,
            "member": self.member,
            "type": self.type,
            "captured": self.captured,
            "device_path": self.device,
            "size": self.size,
            "sha256": self.sha256,
        }


def item_type(mime: Any, details: dict[str, Any]) -> str:
    """The type a filter compares: image, video, audio, chat, message,
    document, extraction or other."""
    family = details.get("family")
    if isinstance(details.get("extraction"), dict):
        return "extraction"
    if details.get("participants") or details.get("chat") or family in ("signal", "telegram"):
        return "chat"
    if family in ("image", "video", "audio"):
        return str(family)
    mime = mime if isinstance(mime, str) else ""
    if mime.split("/")[0] in ("image", "video", "audio"):
        return str(mime.split("/")[0])
    if mime in ("message/rfc822", "application/mbox"):
        return "message"
    if mime.startswith(_DOCUMENTS):
        return "document"
    return "other"


def _participants(details: dict[str, Any]) -> tuple[str, ...]:
    people = details.get("participants")
    return tuple(str(p) for p in people) if isinstance(people, list) else ()


def _span(record: dict[str, Any], details: dict[str, Any]) -> tuple[str | None, str | None]:
    """When an item was captured: a file's capture time, or a chat's first and
    last message (a chat spans time: a filter compares with either end)."""
    first, last = _str(details.get("first_message")), _str(details.get("last_message"))
    if first and last:
        return first, last
    return _str(record.get("captured_at")), None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def members_lines(data: bytes) -> Iterator[dict[str, Any]]:
    """The member records of a members file (its header line skipped), one
    line at a time (a list of every line would double the memory)."""
    stream = io.BytesIO(data)
    stream.readline()
    for line in stream:
        if line.strip():
            record = json.loads(line)
            if isinstance(record, dict):
                yield record


def bundle_items(
    records: Callable[[], Iterator[dict[str, Any]]], read_tag: Callable[[str], bytes | None]
) -> Iterator[Item]:
    """Every item, in the order of the metadata records (members right after
    their file). `records()` gives the metadata records (called twice: iOS
    backups' device paths are gathered first); `read_tag` reads a members
    file. Raises ValueError on a members file that cannot be read."""
    device_of = _ios_device_paths(records(), read_tag)
    for record in records():
        rel = str(record.get("path"))
        details = _dict(record.get("details"))
        bundle_path = PAYLOAD + rel
        ios = device_of.get(rel)
        first, last = _span(record, details)
        yield Item(
            bundle_path,
            "",
            first,
            item_type(record.get("mime"), details),
            _participants(details),
            ios,
            _int(record.get("size")),
            _str(record.get("sha256")),
            last,
        )
        archive = details.get("archive")
        for member in archive.get("members", []) if isinstance(archive, dict) else []:
            if isinstance(member, dict) and member.get("sha256"):
                mdetails = _dict(member.get("details"))
                first, last = _span(member, mdetails)
                yield Item(
                    bundle_path,
                    str(member.get("path")),
                    first,
                    item_type(member.get("mime"), mdetails),
                    _participants(mdetails),
                    None,
                    _int(member.get("size")),
                    _str(member.get("sha256")),
                    last,
                )
        extraction = details.get("extraction")
        if isinstance(extraction, dict) and extraction.get("format") != "ios-backup":
            yield from _extraction_items(bundle_path, extraction, read_tag)


def _extraction_items(
    bundle_path: str, extraction: dict[str, Any], read_tag: Callable[[str], bytes | None]
) -> Iterator[Item]:
    data = _members_file(extraction, read_tag)
    seen: set[str] = set()
    for m in members_lines(data):
        stored = m.get("stored")
        if not isinstance(stored, str) or not m.get("sha256") or stored in seen:
            continue  # no bytes to select (or the same bytes named twice)
        seen.add(stored)
        meta = _dict(m.get("metadata"))
        yield Item(
            bundle_path,
            stored,
            _str(m.get("captured_at")),
            item_type(m.get("mime"), meta),
            _participants(meta),
            _str(m.get("device_path")),
            _int(m.get("size")),
            _str(m.get("sha256")),
        )


def _ios_device_paths(
    records: Iterator[dict[str, Any]], read_tag: Callable[[str], bytes | None]
) -> dict[str, str]:
    """{payload path of a backup's hashed file: its device path}."""
    out: dict[str, str] = {}
    for record in records:
        details = record.get("details")
        extraction = details.get("extraction") if isinstance(details, dict) else None
        if not isinstance(extraction, dict) or extraction.get("format") != "ios-backup":
            continue
        folder = str(record.get("path"))[: -len("Manifest.db")]
        data = _members_file(extraction, read_tag)
        for m in members_lines(data):
            if isinstance(m.get("stored"), str) and isinstance(m.get("device_path"), str):
                domain = m.get("domain") or ""
                out[folder + m["stored"]] = f"{domain}/{m['device_path']}"
    return out


def _members_file(extraction: dict[str, Any], read_tag: Callable[[str], bytes | None]) -> bytes:
    """A members file's bytes, when they are the ones the metadata signed."""
    name = str(extraction.get("members_file"))
    data = read_tag(name)
    if data is None:
        raise ValueError(f"{name} is missing")
    if hashlib.sha256(data).hexdigest() != extraction.get("members_sha256"):
        raise ValueError(f"{name} is not the members file the metadata signed")
    return data
