"""Trusted time: every RFC 3161 token under custody/timestamps/, checked
offline against the TSA roots in the trust policy.

Pure: bytes and the policy in, a TimeCheck out (no network, no clock).
`proven_signing_time` is the one answer other features build on: the earliest
instant a trusted token proves the data existed by, and which TSA proved it.
RFC 3161 places the real time of a token within genTime ± accuracy, so the
instant a token proves is its latest: genTime + accuracy. A token that states
no accuracy proves genTime itself (RFC 3161 2.4.2 leaves the accuracy to the
TSA's policy when it is absent; custody does not guess it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from custody.base.models import Problem, TimestampStatus
from custody.bundle.format import layout
from custody.policy import TrustPolicy
from custody.tsa.status import parse_utc, proven_signing_time, token_status
from custody.tsa.token import TokenCheck, check_token, iso_utc

CLOCK_SLACK = timedelta(minutes=1)
"""How far the statement's `created` may pass the proven time (which already
includes the token's accuracy) before it is a problem."""


@dataclass(frozen=True)
class TimeCheck:
    """What the bundle's timestamps prove."""

    tokens: tuple[TimestampStatus, ...]
    signed_no_later_than: datetime | None
    tsa: str | None
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]

    def report_fields(self) -> dict[str, Any]:
        """The VerifyReport fields this check fills."""
        return {
            "timestamps": self.tokens,
            "signed_no_later_than": iso_utc(self.signed_no_later_than),
            "signed_no_later_than_tsa": self.tsa,
        }


def check_time(
    tag_bytes: Mapping[str, bytes],
    statement: Mapping[str, Any] | None,
    policy: TrustPolicy,
) -> TimeCheck:
    """Check every token in `tag_bytes` (the bundle's tag files) against the
    bundle's signature bytes. A token the tag manifest does not list is the
    leftover of an interrupted `custody timestamp`: it authenticates itself
    (the TSA's signature over this bundle's signature), so it is checked like
    any other and mentioned, never called an intruder."""
    tag_listed, _ = layout.parse_manifest(tag_bytes.get(layout.TAG_MANIFEST, b""))
    problems: list[Problem] = []
    warnings: list[str] = []
    signature = tag_bytes.get(layout.SIGNATURE)
    files: list[tuple[int, str]] = []
    for path in tag_bytes:
        if not layout.is_timestamp_path(path):
            continue
        number = layout.timestamp_number(path)
        if number is None:
            problems.append(Problem("bad_timestamp", path, "not a timestamp file name (N.tsr)"))
        else:
            files.append((number, path))
    statuses: list[TimestampStatus] = []
    for _, path in sorted(files):
        if signature is None:
            check = TokenCheck("invalid", "no custody/statement.sig for it to stamp")
        else:
            check = check_token(tag_bytes[path], signature, policy.tsa_roots)
        status = token_status(path, check)
        statuses.append(status)
        if check.status == "invalid":
            problems.append(Problem("bad_timestamp", path, check.detail))
        if path not in tag_listed:
            warnings.append(
                f"{path} is not in the tag manifest: left by an interrupted `custody timestamp` "
                "(checked all the same; run custody timestamp again to list it)"
            )
    proven, tsa = proven_signing_time(statuses)
    created = parse_utc(statement.get("created")) if statement is not None else None
    if proven is not None and created is not None and created > proven + CLOCK_SLACK:
        problems.append(
            Problem(
                "clock_after_timestamp",
                layout.STATEMENT,
                f"created {iso_utc(created)}, after the latest time the TSA's token allows, "
                f"{iso_utc(proven)} ({tsa}): the officer's clock claimed a time after the "
                "bundle was stamped",
            )
        )
    if proven is None and policy.require_timestamp:
        problems.append(
            Problem(
                "timestamp_required",
                layout.TIMESTAMPS_DIR,
                "signing time not proven: no timestamp chains to a TSA root you chose",
            )
        )
    return TimeCheck(tuple(statuses), proven, tsa, tuple(problems), tuple(warnings))
