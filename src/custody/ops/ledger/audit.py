"""`custody ledger verify`: recompute every hash, signature and checkpoint."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.batches import map_batches
from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.io.ledger_store import Ledger
from custody.tlog import merkle
from custody.tlog.cosignature import WitnessKey
from custody.tlog.entries import EntryError, parse_entry, raw_public_key
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint

PARALLEL_THRESHOLD = 4096


@dataclass(frozen=True)
class LedgerReport:
    """The result of checking a whole ledger."""

    path: str
    origin: str
    size: int
    valid: bool
    problems: tuple[Problem, ...]
    checkpoint_size: int | None
    actors: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger": self.path,
            "origin": self.origin,
            "size": self.size,
            "valid": self.valid,
            "checkpoint_size": self.checkpoint_size,
            "actors": [{"name": n, "fingerprint": f} for n, f in self.actors],
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True)
class _Checked:
    """What a worker learnt about one entry."""

    error: str | None
    index: int = -1
    prev: str | None = None
    fingerprint: str = ""
    name: str = ""
    raw_key: bytes = b""
    signature_ok: bool = False


def _check_batch(batch: list[tuple[bytes, bytes]]) -> list[_Checked]:
    out = []
    for data, signature in batch:
        try:
            entry = parse_entry(data)
        except EntryError as e:
            out.append(_Checked(str(e)))
            continue
        out.append(
            _Checked(
                None,
                entry.index,
                entry.prev,
                entry.actor_fingerprint,
                entry.actor_name,
                raw_public_key(entry.actor_key),
                signature_is_valid(entry.actor_key, signature, data),
            )
        )
    return out


def _check_all(rows: list[tuple[bytes, bytes]]) -> list[_Checked]:
    """Parse and check the signature of every entry, over every core for large
    ledgers (base/batches.py)."""
    return [
        checked
        for _, checked in map_batches(
            _check_batch, rows, input_of=lambda row: row, threshold=PARALLEL_THRESHOLD
        )
    ]


def verify_ledger(
    ledger: Ledger, *, witnesses: Sequence[WitnessKey] = (), now: int | None = None
) -> LedgerReport:
    """Check every entry (form, position, chain, signature), the stored tree,
    the checkpoints inside and beside the database, and every stored cosigned
    checkpoint (ops/ledger/cosigned.py; cosignatures against `witnesses`, dated
    against `now`, default the clock). Never raises for tampering: every
    finding is a Problem naming the entry or the checkpoint."""
    problems: list[Problem] = []
    cosigned_sizes = set(ledger.cosigned_sizes())
    roots_at: dict[int, bytes] = {}

    def bad(index: int | None, kind: str, detail: str) -> None:
        problems.append(Problem(kind, f"entry {index}" if index is not None else None, detail))

    compact = merkle.CompactRange()
    computed_nodes: dict[tuple[int, int], bytes] = {}
    rows = list(ledger.entries())
    checked = _check_all([(row.entry, row.signature) for row in rows])
    actor_keys: list[bytes | None] = []
    prev_leaf: bytes | None = None
    actors: dict[str, str] = {}
    for row, result in zip(rows, checked, strict=True):
        pos = row.position
        if row.index != pos:
            bad(
                pos,
                "out_of_place",
                f"stored as index {row.index} at position {pos}: entries deleted or inserted",
            )
        leaf = merkle.leaf_hash(row.entry)
        for level, index, h in compact.append(leaf):
            computed_nodes[(level, index)] = h
        if compact.size in cosigned_sizes:
            roots_at[compact.size] = compact.root()
        expected_prev = prev_leaf.hex() if prev_leaf is not None else None
        prev_leaf = leaf
        if result.error is not None:
            bad(pos, "bad_entry", result.error)
            actor_keys.append(None)
            continue
        actor_keys.append(result.raw_key)
        actors.setdefault(result.fingerprint, result.name)
        if result.index != pos:
            bad(
                pos,
                "out_of_place",
                f"entry says it is number {result.index}: reordered, inserted or deleted entries",
            )
        if result.prev != expected_prev:
            bad(
                pos,
                "broken_chain",
                "does not follow the entry before it: that entry was edited, "
                "or entries were inserted or deleted here",
            )
        if not result.signature_ok:
            bad(pos, "bad_signature", "signature does not verify: the entry was edited")
    size = compact.size
    stored = ledger.stored_nodes()
    changed_nodes = [k for k, v in computed_nodes.items() if stored.get(k) != v]
    extra_nodes = [k for k in stored if k not in computed_nodes]
    if changed_nodes or extra_nodes:
        bad(
            None,
            "tree_mismatch",
            f"{len(changed_nodes) + len(extra_nodes)} stored tree node(s) disagree "
            "with the entries",
        )
    root = compact.root()

    checkpoint_size: int | None = None
    for label, note in (
        ("ledger checkpoint", ledger.latest_checkpoint()),
        ("checkpoint.txt", _read(ledger.checkpoint_file)),
    ):
        if note is None:
            if size > 0:
                problems.append(Problem("missing_checkpoint", label, "no signed checkpoint"))
            continue
        try:
            cp = parse_checkpoint(note)
        except NoteError as e:
            problems.append(Problem("bad_checkpoint", label, str(e)))
            continue
        if label == "ledger checkpoint":
            checkpoint_size = cp.size
        if cp.origin != ledger.origin:
            problems.append(
                Problem(
                    "bad_checkpoint",
                    label,
                    f"origin {cp.origin} is not this ledger's {ledger.origin}",
                )
            )
            continue
        if cp.size > size:
            problems.append(
                Problem(
                    "truncated",
                    label,
                    f"signed for {cp.size} entries but the ledger holds {size}: the newest "
                    f"{cp.size - size} entr{'y was' if cp.size - size == 1 else 'ies were'} "
                    "removed, or the ledger was replaced by an older copy",
                )
            )
            continue
        if cp.size == 0:
            continue
        if label == "ledger checkpoint" and cp.size != size:
            problems.append(
                Problem(
                    "stale_checkpoint",
                    label,
                    f"signed for {cp.size} entries, the ledger holds {size}",
                )
            )
        expected = root if cp.size == size else _root_at(ledger, cp.size)
        if cp.root != expected:
            problems.append(
                Problem(
                    "checkpoint_mismatch",
                    label,
                    f"root hash for {cp.size} entries does not match the entries",
                )
            )
        signer_raw = actor_keys[cp.size - 1]
        if signer_raw is None or not checkpoint_signed_by(
            cp, Ed25519PublicKey.from_public_bytes(signer_raw)
        ):
            problems.append(
                Problem(
                    "bad_checkpoint",
                    label,
                    "not validly signed by the key that made its last entry",
                )
            )
    problems.extend(
        _check_cosigned_rows(
            ledger,
            roots_at,
            actor_keys,
            witnesses,
            int(time.time()) if now is None else now,
        )
    )
    return LedgerReport(
        path=str(ledger.path),
        origin=ledger.origin,
        size=size,
        valid=not problems,
        problems=tuple(problems),
        checkpoint_size=checkpoint_size,
        actors=tuple(sorted((n, f) for f, n in actors.items())),
    )


def _check_cosigned_rows(
    ledger: Ledger,
    roots_at: dict[int, bytes],
    actor_keys: list[bytes | None],
    witnesses: Sequence[WitnessKey],
    now: int,
) -> list[Problem]:
    from custody.ops.ledger.cosigned import check_cosigned

    found = []
    for size in sorted(ledger.cosigned_sizes()):
        raw = actor_keys[size - 1] if 0 < size <= len(actor_keys) else None
        problem = check_cosigned(
            ledger.cosigned_checkpoint(size) or b"",
            stored_size=size,
            origin=ledger.origin,
            ledger_size=len(actor_keys),
            root_at_size=roots_at.get(size),
            key=Ed25519PublicKey.from_public_bytes(raw) if raw is not None else None,
            witnesses=witnesses,
            now=now,
        )
        if problem is not None:
            found.append(problem)
    return found


def _root_at(ledger: Ledger, size: int) -> bytes:
    compact = merkle.CompactRange()
    for row in ledger.entries():
        if row.position >= size:
            break
        compact.append(merkle.leaf_hash(row.entry))
    return compact.root()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
