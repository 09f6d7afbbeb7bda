"""The record of one member of an extraction, the same for every format.

A member's device path is what the extraction says the file was called on the
phone: text, recorded as given (backslashes, '..', absolute paths and all),
never used to open or write anything. Problems with it are flags on the record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

EXTRACTION_FORMAT = "custody/extraction-members/v1"
EXTRACTIONS_DIR = "custody/extractions/"
"""Where the members files are: custody/extractions/<payload path>.jsonl."""
EXTRACTIONS_FIELD = "Custody-Extractions"
"""The bag-info field (signed) giving the number of members files."""
# A device path longer than this is cut (and flagged): nothing from evidence
# may make one record arbitrarily large.
MAX_DEVICE_PATH = 4096


def member_record(
    *,
    device_path: str | None,
    stored: str | None,
    size: int | None,
    kind: str = "file",
    category: str | None = None,
    deleted: bool = False,
    carved: bool = False,
) -> dict[str, Any]:
    """A member with every field present. `stored` is where its bytes are
    inside the extraction (a zip or tar member name, or the bundle path of an
    iOS backup's hashed file); None when the extraction holds no bytes for it."""
    flags: list[str] = []
    if device_path is not None:
        device_path, flags = device_path_flags(device_path)
    return {
        "device_path": device_path,
        "stored": stored,
        "kind": kind,
        "size": size,
        "sha256": None,
        "mime": None,
        "captured_at": None,
        "times": {},
        "category": category,
        "deleted": deleted,
        "carved": carved,
        "path_flags": flags,
        "metadata": None,
        "errors": [],
    }


def device_path_flags(path: str) -> tuple[str, list[str]]:
    """The device path as recorded, and what is odd about it as a path."""
    flags = []
    if len(path) > MAX_DEVICE_PATH:
        path = path[:MAX_DEVICE_PATH]
        flags.append("too long: cut")
    if "\x00" in path:
        flags.append("NUL character")
    if "\\" in path:
        flags.append("backslash")
    if path.startswith("/") or path[1:3] in (":\\", ":/"):
        flags.append("absolute")
    parts = path.replace("\\", "/").split("/")
    if ".." in parts:
        flags.append("'..' component")
    return path, flags


def unix_time(value: Any) -> str | None:
    """Seconds since 1970 as ISO 8601 UTC, None for a missing or absurd value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 < value < 32503680000:  # before the year 3000
        return None
    return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def member_line(member: dict[str, Any]) -> bytes:
    """One line of a members file: the record as JSON, keys sorted, LF."""
    return (
        json.dumps(member, sort_keys=True, ensure_ascii=False, allow_nan=False).encode("utf-8")
        + b"\n"
    )


def header_line(summary: dict[str, Any]) -> bytes:
    """The first line of a members file: the format and the extraction's source."""
    return member_line({"format": EXTRACTION_FORMAT, **summary})
