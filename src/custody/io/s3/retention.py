"""Object Lock retention for a push: from the options and the bucket. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from custody.base.errors import InputError
from custody.base.utc import utc_text

COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class Retention:
    """Object Lock retention for every object of a push (mode None: no lock)."""

    mode: str | None
    retain_until: datetime | None
    source: str  # "--retain-until", "--retain-years", "bucket default", "none (--no-lock)"

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "retain_until": utc_text(self.retain_until) if self.retain_until else None,
            "source": self.source,
        }


def add_years(moment: datetime, years: int) -> datetime:
    """The midnight (UTC) that ends the day `years` calendar years after
    `moment` (29 February becomes 28 February). Whole days: a push run again
    the same day asks for the same retention, and nothing is extended."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        later = day.replace(year=day.year + years)
    except ValueError:
        later = day.replace(year=day.year + years, day=28)
    return later + timedelta(days=1)


def choose_retention(
    *,
    lock_config: dict[str, Any],
    retain_until: datetime | None,
    retain_years: int | None,
    no_lock: bool,
    now: datetime,
    where: str,
) -> Retention:
    """The retention a push applies, from the options and the bucket. Pure.
    Raises InputError for a bucket without Object Lock (unless no_lock), for
    conflicting options and for a date that is not in the future."""
    if retain_until is not None and retain_years is not None:
        raise InputError("give --retain-until or --retain-years, not both")
    if no_lock:
        if retain_until is not None or retain_years is not None:
            raise InputError("--no-lock cannot be combined with a retention")
        return Retention(None, None, "none (--no-lock)")
    if not lock_config:
        raise InputError(
            "the bucket has no Object Lock: objects could be deleted or written over; "
            "use a bucket created with Object Lock, or give --no-lock",
            path=where,
        )
    if retain_years is not None:
        if retain_years < 1:
            raise InputError("--retain-years must be at least 1")
        return Retention(COMPLIANCE, add_years(now, retain_years), "--retain-years")
    if retain_until is not None:
        if retain_until <= now:
            raise InputError(f"--retain-until {retain_until:%Y-%m-%d} is not in the future")
        return Retention(COMPLIANCE, retain_until, "--retain-until")
    default = (lock_config.get("Rule") or {}).get("DefaultRetention") or {}
    if default.get("Years") or default.get("Days"):
        if default.get("Years"):
            until = add_years(now, int(default["Years"]))
        else:
            until = now + timedelta(days=int(default["Days"]))
        return Retention(str(default.get("Mode") or COMPLIANCE), until, "bucket default")
    raise InputError(
        "give --retain-until DATE or --retain-years N (the bucket sets no default retention, "
        "and a compliance lock cannot be shortened once set)",
        path=where,
    )
