"""A timestamp token as reports show it, and what a set of tokens proves: the
earliest latest-instant (genTime + accuracy) among the trusted ones. Pure:
used for bundles (bundle/verify/check_time.py) and ledger checkpoints alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from custody.base.models import TimestampStatus
from custody.tsa.token import TRUSTED, TokenCheck, iso_utc


def token_status(file: str, check: TokenCheck) -> TimestampStatus:
    """A TokenCheck as it appears in reports."""
    return TimestampStatus(
        file=file,
        tsa=check.tsa,
        gen_time=iso_utc(check.gen_time),
        serial=check.serial,
        policy=check.policy,
        status=check.status,
        detail=check.detail,
        accuracy_s=check.accuracy.total_seconds() if check.accuracy is not None else None,
    )


def latest_time(token: TimestampStatus) -> datetime | None:
    """The latest instant `token` allows: genTime + accuracy (genTime itself
    when the token states no accuracy), or None without a readable genTime or
    when that instant lies past the year 9999 (such a token bounds nothing)."""
    moment = parse_utc(token.gen_time)
    if moment is None:
        return None
    try:
        return moment + timedelta(seconds=token.accuracy_s or 0)
    except OverflowError:
        return None


def proven_signing_time(
    tokens: Iterable[TimestampStatus],
) -> tuple[datetime | None, str | None]:
    """The earliest latest-instant (genTime + accuracy) among trusted tokens
    and the TSA that gave it, or (None, None) when no token is trusted: the
    signing time is not proven."""
    best: tuple[datetime, TimestampStatus] | None = None
    for token in tokens:
        moment = latest_time(token) if token.status == TRUSTED else None
        if moment is not None and (best is None or moment < best[0]):
            best = (moment, token)
    if best is None:
        return None, None
    return best[0], best[1].tsa


def parse_utc(text: object) -> datetime | None:
    """An ISO 8601 UTC time ('...Z'), or None when it is not one."""
    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None
