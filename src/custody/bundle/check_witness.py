"""Witness cosignatures on a ledger checkpoint, judged against the verifier's
chosen witnesses and quorum. A pure function of bytes, the policy and "now"."""

from __future__ import annotations

from typing import Any

from ..ledger.cosignature import CosignatureCheck, cosignatures_of, valid_witnesses
from ..ledger.note import NoteError
from ..models import Problem
from ..policy import TrustPolicy


def check_witnesses(
    note: bytes | None,
    policy: TrustPolicy,
    now: int,
    *,
    path: str,
    problems: list[Problem],
    warnings: list[str],
) -> list[dict[str, Any]]:
    """Check every cosignature on `note` (None: no usable checkpoint).
    Appends a problem for each invalid cosignature by a chosen witness and
    when fewer than policy.quorum distinct chosen witnesses cosigned.
    Returns [{witness, key_id, time, status}]."""
    checks: tuple[CosignatureCheck, ...] = ()
    if note is not None:
        try:
            checks = cosignatures_of(note, policy.witness_keys, now=now)
        except NoteError:
            checks = ()  # the checkpoint's own check reports it
    for c in checks:
        if c.status == "invalid":
            problems.append(
                Problem(
                    "bad_cosignature",
                    path,
                    f"the cosignature by witness {c.witness} does not verify",
                )
            )
        elif c.status == "future":
            warnings.append(
                f"the cosignature by witness {c.witness} is dated in the future ({c.time})"
            )
    valid = len(valid_witnesses(checks))
    if valid < policy.quorum:
        problems.append(
            Problem(
                "witness_quorum",
                path,
                f"{valid} valid cosignature(s) from chosen witnesses; "
                f"the quorum is {policy.quorum}",
            )
        )
    return [c.to_json() for c in checks]
