"""Witness cosignatures on the checkpoints a bundle carries (its ledger proof's
and its team proof's), judged against the verifier's chosen witnesses and
quorum. Pure functions of bytes, the policy and "now"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from custody.base.models import Problem
from custody.ledger.proof import PROOF_PATH
from custody.policy import TrustPolicy
from custody.tlog.cosignature import CosignatureCheck, WitnessKey, cosignatures_of, valid_witnesses
from custody.tlog.note import NoteError


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
    Appends a problem for each invalid cosignature by a chosen witness.
    Returns [{witness, key_id, time, status}]; the quorum is judged over all
    the bundle's checkpoints by check_quorum."""
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
    return [c.to_json() for c in checks]


def witnessed_by(cosignatures: list[dict[str, Any]] | None, witnesses: Sequence[WitnessKey]) -> int:
    """How many distinct chosen witness keys validly cosigned: a witness that
    signed twice counts once, and so does one key trusted under two names
    (tlog/cosignature.py valid_witnesses says why)."""
    keys = {(w.name, w.key_id.hex()): w.public_key.public_bytes_raw() for w in witnesses}
    return len(
        {
            keys[(c["witness"], c["key_id"])]
            for c in cosignatures or ()
            if c["status"] == "valid" and (c["witness"], c["key_id"]) in keys
        }
    )


def check_quorum(
    policy: TrustPolicy,
    ledger_info: dict[str, Any] | None,
    team_info: dict[str, Any] | None,
    problems: list[Problem],
) -> None:
    """With --quorum N, the bundle's ingest must be in a history N chosen
    witnesses saw: the checkpoint of its ledger proof, or of a valid team proof
    signed by a team key the verifier trusts, carries N valid cosignatures by
    distinct chosen witness keys. Otherwise `witness_quorum`."""
    if policy.quorum <= 0:
        return
    chosen = policy.witness_keys
    on_ledger = witnessed_by(ledger_info.get("cosignatures"), chosen) if ledger_info else 0
    on_team = 0
    if team_info and team_info.get("proof_valid") and team_info.get("trusted_team"):
        on_team = witnessed_by(team_info.get("cosignatures"), chosen)
    if max(on_ledger, on_team) >= policy.quorum:
        return
    found = f"{on_ledger} valid cosignature(s) from chosen witnesses"
    if team_info is not None:
        found += f" on the ledger proof's checkpoint, {on_team} on the team proof's"
    problems.append(
        Problem("witness_quorum", PROOF_PATH, f"{found}; the quorum is {policy.quorum}")
    )


__all__ = ["check_quorum", "check_witnesses", "valid_witnesses", "witnessed_by"]
