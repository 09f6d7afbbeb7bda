"""Keys judged by the verifier's trusted registers: the bundle's signer, every
hand-over record and receipt in the chain of custody, and (through the
signer) the ledger checkpoint the bundle carries, which its signer signs.

Pure: the registers come from the policy, "now" and any proven signing time
are passed in. The rule itself is register/rule.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from custody.base.keys import PublicKeyInfo
from custody.base.models import Problem, SignerInfo
from custody.base.signing import signature_is_valid
from custody.bundle.format import layout
from custody.bundle.format.chain import record_paths
from custody.bundle.verify.check_time import TimeCheck
from custody.policy import TrustPolicy
from custody.register.rule import NOT_LISTED, Judgement, ProvenTime, judge


def proven_time(time_check: TimeCheck) -> ProvenTime | None:
    """T for the bundle's signature: the earliest trusted genTime + accuracy,
    when a timestamp from a TSA the verifier chose proves one (bundle/verify/check_time.py)."""
    if time_check.signed_no_later_than is None:
        return None
    return ProvenTime(time_check.signed_no_later_than, time_check.tsa or "a trusted TSA")


def judge_signer(
    policy: TrustPolicy,
    statement: dict[str, Any] | None,
    *,
    proven: ProvenTime | None,
    now: datetime,
) -> Judgement | None:
    """The registers' verdict on the statement's signer (None: no register lists it)."""
    if statement is None or not policy.registers:
        return None
    return judge(policy.registers, statement.get("key_fingerprint"), proven=proven, now=now)


def registered_key(judgement: Judgement) -> PublicKeyInfo:
    """The key as the register certifies it (never the bundle's own copy)."""
    k = judgement.key
    return PublicKeyInfo(f"{k.name} ({judgement.register.label()})", k.fingerprint, k.public_key)


def refused_signer(
    judgement: Judgement,
    *,
    name: str | None,
    claimed: str | None,
    signature: bytes,
    stmt_bytes: bytes,
    problems: list[Problem],
) -> SignerInfo:
    """The signer when a register refuses the key: say whether the signature is
    at least valid (with the register's key), and why the key is refused."""
    valid = signature_is_valid(judgement.key.public_key, signature, stmt_bytes)
    if not valid:
        problems.append(
            Problem(
                "bad_signature",
                layout.SIGNATURE,
                "signature does not verify with the key the register lists",
            )
        )
    problems.append(Problem("key_not_valid", layout.STATEMENT, judgement.decision.decided_by))
    return with_register(SignerInfo(name, claimed, False, valid), judgement, policy=None)


def with_register(
    signer: SignerInfo, judgement: Judgement | None, *, policy: TrustPolicy | None
) -> SignerInfo:
    """`signer` with what the registers say about its key. Without a register in
    the policy the fields stay empty; a key no register lists is 'not_listed'."""
    if judgement is not None:
        return replace(
            signer,
            register=judgement.register.ref(),
            key_status=judgement.decision.key_status,
            decided_by=judgement.decision.decided_by,
        )
    if policy is None or not policy.registers or signer.fingerprint is None:
        return signer
    how = (
        f"trusted directly as {signer.trusted_as}"
        if signer.trusted
        else "nor trusted directly: NOT verified"
    )
    return replace(
        signer,
        key_status=NOT_LISTED,
        decided_by=f"key not listed in any trusted register; {how}",
    )


def check_chain_keys(
    timeline: tuple[dict[str, Any], ...],
    policy: TrustPolicy,
    *,
    now: datetime,
    problems: list[Problem],
    proven: Mapping[str, ProvenTime] | None = None,
) -> tuple[dict[str, Any], ...]:
    """Apply the rule to the key of every hand-over record and receipt. Returns
    the timeline with `key_status` and `decided_by` on each judged step; a
    refused key is a `key_not_valid` problem naming the record."""
    if not policy.registers:
        return timeline
    out: list[dict[str, Any]] = []
    sequence = 0
    for step in timeline:
        event = step.get("event")
        if event == "ingest":
            out.append(step)
            continue
        if event == "transfer":
            sequence += 1
            path, what = record_paths(sequence, "transfer")[0], "the hand-over record"
        else:
            path, what = record_paths(sequence, "receipt")[0], "the receipt"
        by = step.get("by") or {}
        found = judge(
            policy.registers,
            by.get("fingerprint"),
            proven=(proven or {}).get(path),
            now=now,
            what=what,
        )
        if found is None:
            out.append(step)
            continue
        decision = found.decision
        out.append({**step, "key_status": decision.key_status, "decided_by": decision.decided_by})
        if not decision.accepted:
            who = by.get("name") or str(by.get("fingerprint"))[:16]
            problems.append(
                Problem("key_not_valid", path, f"signed by {who}: {decision.decided_by}")
            )
    return tuple(out)
