"""Times in registers: UTC, whole seconds, written as 2026-03-01T00:00:00Z."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from custody.base.utc import UTC_FORMAT

_Z_FORMAT = UTC_FORMAT
_STORED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def format_time(value: datetime) -> str:
    """The stored form of a time: UTC, whole seconds, 'Z'."""
    return value.astimezone(UTC).strftime(_Z_FORMAT)


def parse_stored_time(text: object) -> datetime | None:
    """A time exactly in the stored form, or None."""
    if not isinstance(text, str) or not _STORED.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_user_time(text: str) -> datetime | None:
    """A time a person typed: 2026-03-01, 2026-03-01T09:30, 2026-03-01T09:30:00Z,
    2026-03-01 09:30+02:00. Without a zone it is UTC. Returns None when unreadable."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def add_years(value: datetime, years: int) -> datetime:
    """The same moment `years` later (29 February becomes 28 February)."""
    try:
        return value.replace(year=value.year + years)
    except ValueError:
        return value.replace(year=value.year + years, day=28)


def human_time(value: datetime) -> str:
    """A time for a sentence: the date alone at midnight, else the full stored form."""
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.strftime("%Y-%m-%d")
    return format_time(value)
