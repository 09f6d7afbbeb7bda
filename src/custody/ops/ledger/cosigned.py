"""The checkpoints kept with witnesses' cosignatures (the `cosigned` table),
checked before anything shows or prints them.

Anyone who can write to the laptop can write to that table, with no key at all:
an older checkpoint, another ledger's, or any text. So a stored row is believed
only when it is this ledger's checkpoint of exactly the entries the ledger holds
at that size (origin, size, root), signed by the key that made the entry
closing that size (ADR 0003), and when every cosignature that claims one of
the chosen witnesses verifies. `ledger verify` checks every row;
`ledger checkpoint` prints the cosigned copy only when it passes
(docs/ledger.md, "What `ledger checkpoint` prints").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.errors import InputError, LedgerDamaged
from custody.base.models import Problem
from custody.io.ledger_integrity import check_head
from custody.io.ledger_store import Ledger
from custody.tlog.cosignature import WitnessKey, check_cosignatures
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint


def check_cosigned(
    note: bytes,
    *,
    stored_size: int,
    origin: str,
    ledger_size: int,
    root_at_size: bytes | None,
    key: Ed25519PublicKey | None,
    witnesses: Sequence[WitnessKey],
    now: int,
) -> Problem | None:
    """What is wrong with one stored cosigned checkpoint, or None when it is
    this ledger's, true to its entries, and its chosen witnesses' lines verify.

    `root_at_size` is the ledger's root at `stored_size` recomputed from the
    entries, `key` the key of the entry that closes that size."""
    where = f"cosigned checkpoint {stored_size}"
    try:
        cp = parse_checkpoint(note)
    except NoteError as e:
        return Problem("bad_cosigned_checkpoint", where, f"not a signed checkpoint ({e})")
    if cp.origin != origin:
        return Problem(
            "bad_cosigned_checkpoint", where, f"origin {cp.origin} is not this ledger's {origin}"
        )
    if cp.size != stored_size:
        return Problem(
            "bad_cosigned_checkpoint",
            where,
            f"kept as the checkpoint of {stored_size} entries, but it is of {cp.size}",
        )
    if cp.size > ledger_size:
        return Problem(
            "cosigned_beyond_ledger",
            where,
            f"signed for {cp.size} entries but the ledger holds {ledger_size}: entries were "
            "removed, or the row was copied from a longer history",
        )
    if root_at_size is None or cp.root != root_at_size:
        return Problem(
            "cosigned_checkpoint_mismatch",
            where,
            f"root hash for {cp.size} entries does not match the ledger's entries",
        )
    if key is None or not checkpoint_signed_by(cp, key):
        return Problem(
            "cosigned_bad_signature",
            where,
            "not validly signed by the key that made its last entry",
        )
    checks = check_cosignatures(cp, witnesses, now=now)
    failed = [c.witness for c in checks if c.status == "invalid"]
    if failed:
        return Problem(
            "bad_cosignature",
            where,
            f"the cosignature of {', '.join(failed)} (a witness you chose) does not verify",
        )
    return None


@dataclass(frozen=True)
class PrintableCheckpoint:
    """The checkpoint `ledger checkpoint` prints, and why it is not the cosigned
    copy when that copy was refused."""

    note: bytes
    size: int
    cosigned: bool
    warning: str | None


def latest_checkpoint(
    ledger: Ledger, *, witnesses: Sequence[WitnessKey], now: int
) -> PrintableCheckpoint:
    """The latest checkpoint, verified against every entry (io/ledger_integrity.py),
    in its cosigned copy when that copy checks out (check_cosigned).

    Raises LedgerDamaged when the ledger does not match its own checkpoint:
    nothing is printed then. A refused cosigned copy is not an error: the
    verified checkpoint is returned with a warning naming the problem."""
    head = check_head(ledger)
    if not head.intact:
        raise LedgerDamaged(
            f"the ledger is damaged, no checkpoint printed ({head.summary()}); "
            "run 'custody ledger verify' to see every problem",
            path=str(ledger.path),
        )
    if head.checkpoint is None or head.size == 0:
        raise InputError("the ledger has no checkpoint yet")
    verified = parse_checkpoint(head.checkpoint)
    stored = ledger.cosigned_checkpoint(head.size)
    if stored is None:
        return PrintableCheckpoint(head.checkpoint, head.size, False, None)
    problem = check_cosigned(
        stored,
        stored_size=head.size,
        origin=ledger.origin,
        ledger_size=head.size,
        root_at_size=verified.root,
        key=head.checkpoint_key,
        witnesses=witnesses,
        now=now,
    )
    if problem is not None:
        return PrintableCheckpoint(
            head.checkpoint,
            head.size,
            False,
            f"the ledger's cosigned copy of this checkpoint was not printed ({problem.line()}); "
            "this is the checkpoint without cosignatures: run 'custody ledger verify'",
        )
    return PrintableCheckpoint(stored, head.size, True, None)
