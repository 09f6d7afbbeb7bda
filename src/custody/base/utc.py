"""Times as custody writes them: UTC, whole seconds, ISO 8601 with a Z
(2026-03-01T09:30:00Z), in statements, ledger entries, metadata and reports."""

from __future__ import annotations

from datetime import UTC, datetime

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(moment: datetime) -> str:
    """`moment` written as custody writes times (it must already be in UTC, or
    naive and meant as UTC: it is not converted)."""
    return moment.strftime(UTC_FORMAT)


def utc_now_text() -> str:
    """The current time, written as custody writes times."""
    return utc_text(datetime.now(UTC))
