"""The unit key register's rule applied to a ledger checkpoint's signer.

A checkpoint is signed by the key that made the append it closes (ADR 0003).
When a trusted register lists that key, `custody ledger consistency` accepts
the old checkpoint only if the register says the key was valid at T: the
checkpoint's earliest trusted timestamp (genTime + accuracy, the latest instant
it allows), else the time of verification
(register/rule.py, docs/keys.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from custody.io.ledger_store import Ledger
from custody.ops.ledger.consistency import ConsistencyResult
from custody.policy import TrustPolicy
from custody.register.rule import ProvenTime, judge
from custody.tlog.entries import EntryError, parse_entry


def judge_checkpoint_key(
    ledger: Ledger, result: ConsistencyResult, policy: TrustPolicy, *, now: datetime
) -> ConsistencyResult:
    """`result` with a problem when a trusted register refuses the old
    checkpoint's signing key at T."""
    if not policy.registers or result.old_size <= 0:
        return result
    data = ledger.entry_bytes(result.old_size - 1)
    try:
        actor = parse_entry(data) if data is not None else None
    except EntryError:
        actor = None
    if actor is None:
        return result  # check_consistency has already said what is wrong
    stamped = result.checkpoint_time
    proven = None
    if stamped is not None and stamped.no_later_than is not None:
        at = datetime.fromisoformat(stamped.no_later_than.replace("Z", "+00:00")).astimezone(UTC)
        proven = ProvenTime(at, stamped.tsa or "a trusted TSA")
    found = judge(
        policy.registers, actor.actor_fingerprint, proven=proven, now=now, what="the checkpoint"
    )
    if found is None or found.decision.accepted:
        return result
    line = f"checkpoint signed by {actor.actor_name}: {found.decision.decided_by}"
    return replace(result, problems=(*result.problems, line), consistent=False)
