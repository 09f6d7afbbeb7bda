"""`custody ledger consistency`: prove today's ledger extends an old checkpoint."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custody.base.errors import InputError
from custody.io.ledger_store import Ledger
from custody.policy import TrustPolicy
from custody.tlog import merkle
from custody.tlog.cosignature import CosignatureCheck, check_cosignatures, valid_witnesses
from custody.tlog.entries import EntryError, parse_entry
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint

if TYPE_CHECKING:
    from custody.ledger.checkpoint_time import CheckpointTime


@dataclass(frozen=True)
class ConsistencyResult:
    source: str
    origin: str
    old_size: int
    new_size: int
    consistent: bool
    proof: tuple[bytes, ...]
    old_root: bytes
    new_root: bytes
    problems: tuple[str, ...]
    checkpoint_time: CheckpointTime | None = None
    """The old checkpoint's timestamps, when it has any (ledger/checkpoint_time.py)."""
    cosignatures: tuple[dict[str, Any], ...] = ()
    witnessed_size: int | None = None
    quorum: int = 0

    def to_json(self) -> dict[str, Any]:
        stamped = (
            self.checkpoint_time.to_json()
            if self.checkpoint_time is not None
            else {
                "checkpoint_timestamps": [],
                "checkpoint_no_later_than": None,
                "checkpoint_no_later_than_tsa": None,
            }
        )
        return {
            "checkpoint": self.source,
            "origin": self.origin,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "consistent": self.consistent,
            "old_root": base64.b64encode(self.old_root).decode(),
            "new_root": base64.b64encode(self.new_root).decode(),
            "proof": [base64.b64encode(h).decode() for h in self.proof],
            "problems": list(self.problems),
            **stamped,
            "cosignatures": list(self.cosignatures),
            "witnessed_size": self.witnessed_size,
            "quorum": self.quorum,
        }


def check_consistency(
    ledger: Ledger,
    data: bytes,
    *,
    source: str,
    policy: TrustPolicy | None = None,
    now: int = 0,
) -> ConsistencyResult:
    """Check that `ledger` extends the checkpoint in `data`, with an RFC 9162
    consistency proof recomputed from the entries themselves. With a quorum in
    `policy`, the checkpoint given, or a cosigned checkpoint of the ledger at
    or after it that the ledger extends, must carry that many valid
    cosignatures from chosen witnesses. Raises InputError when `data` is not
    a checkpoint of this ledger."""
    policy = policy if policy is not None else TrustPolicy()
    try:
        old = parse_checkpoint(data)
    except NoteError as e:
        raise InputError(f"not a signed checkpoint ({e})", path=source) from e
    if old.origin != ledger.origin:
        raise InputError(
            f"checkpoint of another ledger ({old.origin}; this one is {ledger.origin})",
            path=source,
        )
    problems: list[str] = []
    compact = merkle.CompactRange()
    entries = []
    for row in ledger.entries():
        compact.append(merkle.leaf_hash(row.entry))
        entries.append(row.entry)
    size = compact.size
    root = compact.root()
    proof: list[bytes] = []
    if size and ledger.root(size) != root:
        problems.append(
            "the ledger's stored tree does not match its entries (run 'custody ledger verify')"
        )
    if old.size > size:
        problems.append(
            f"the checkpoint signed {old.size} entries but the ledger now holds {size}: "
            "it was rolled back or entries were deleted"
        )
    elif old.size > 0:
        proof = ledger.consistency_proof(old.size, size)
        if not merkle.verify_consistency(old.size, size, old.root, root, proof):
            problems.append(
                f"the first {old.size} entries are not the ones the checkpoint signed: "
                "the ledger was rewritten or forked"
            )
        else:
            try:
                actor = parse_entry(entries[old.size - 1]).actor_key
            except EntryError:
                actor = None
            if actor is None or not checkpoint_signed_by(old, actor):
                problems.append("the checkpoint's signature does not verify")
    checks = check_cosignatures(old, policy.witness_keys, now=now)
    witnessed: int | None = old.size if valid_witnesses(checks) else None
    if len(valid_witnesses(checks)) < policy.quorum and not problems:
        for cosigned_size in ledger.cosigned_sizes():
            if cosigned_size < max(old.size, 1) or cosigned_size > size:
                continue
            candidate = _cosigned_at(ledger, cosigned_size, size, root, entries, policy, now)
            if candidate is not None and len(valid_witnesses(candidate)) >= policy.quorum:
                checks, witnessed = candidate, cosigned_size
                break
    for c in checks:
        if c.status == "invalid":
            problems.append(f"the cosignature by witness {c.witness} does not verify")
    if len(valid_witnesses(checks)) < policy.quorum:
        problems.append(
            f"{len(valid_witnesses(checks))} valid cosignature(s) from chosen witnesses on "
            f"this checkpoint or a later one of the ledger; the quorum is {policy.quorum}"
        )
    return ConsistencyResult(
        source,
        ledger.origin,
        old.size,
        size,
        not problems,
        tuple(proof),
        old.root,
        root,
        tuple(problems),
        cosignatures=tuple(c.to_json() for c in checks),
        witnessed_size=witnessed,
        quorum=policy.quorum,
    )


def _cosigned_at(
    ledger: Ledger,
    cosigned_size: int,
    size: int,
    root: bytes,
    entries: list[bytes],
    policy: TrustPolicy,
    now: int,
) -> tuple[CosignatureCheck, ...] | None:
    """The cosignatures of the ledger's own cosigned checkpoint at
    `cosigned_size`, when that checkpoint is validly signed and the ledger
    (recomputed from its entries, root `root`) extends it."""
    note = ledger.cosigned_checkpoint(cosigned_size)
    if note is None:
        return None
    try:
        cp = parse_checkpoint(note)
        actor = parse_entry(entries[cosigned_size - 1]).actor_key
    except (NoteError, EntryError):
        return None
    if (
        cp.size != cosigned_size
        or cp.origin != ledger.origin
        or not checkpoint_signed_by(cp, actor)
    ):
        return None
    proof = ledger.consistency_proof(cosigned_size, size) if cosigned_size < size else []
    if not merkle.verify_consistency(cosigned_size, size, cp.root, root, proof):
        return None
    return check_cosignatures(cp, policy.witness_keys, now=now)
