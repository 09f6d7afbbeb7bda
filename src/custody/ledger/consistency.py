"""`custody ledger consistency`: prove today's ledger extends an old checkpoint."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from . import merkle
from .entries import EntryError, parse_entry
from .note import NoteError, checkpoint_signed_by, parse_checkpoint
from .store import Ledger

if TYPE_CHECKING:
    from .checkpoint_time import CheckpointTime


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
        }


def check_consistency(ledger: Ledger, data: bytes, *, source: str) -> ConsistencyResult:
    """Check that `ledger` extends the checkpoint in `data`, with an RFC 9162
    consistency proof recomputed from the entries themselves. Raises
    InputError when `data` is not a checkpoint of this ledger."""
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
    )
