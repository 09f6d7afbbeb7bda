"""`custody team verify`: recompute and check everything in the team log. Pure.

Given the rows as stored (however a database superuser may have left them),
the team key this home pinned and the newest team checkpoint it saw, it checks
every leaf (form, stored hash, the officer's signature, its place in the
officer's chain), every officer checkpoint, the whole Merkle tree, every team
checkpoint, and the bookkeeping tables. Every finding names the leaf.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..ledger import merkle
from ..ledger.entries import raw_public_key
from ..ledger.note import NoteError, checkpoint_signed_by, parse_checkpoint
from ..models import Problem
from ..signing import signature_is_valid
from .leaves import LeafError, parse_leaf

PARALLEL_THRESHOLD = 4096
MAX_NAMED = 50  # findings of one kind named one by one; the rest are counted


@dataclass(frozen=True)
class StoredLeaf:
    seq: int
    leaf_hash: bytes
    data: bytes
    columns: tuple[Any, ...]  # kind, ledger, entry_index, case_id, bundle_id as stored


@dataclass(frozen=True)
class TeamSnapshot:
    """Everything `team verify` reads, taken in one repeatable-read transaction."""

    origin: str
    name: str
    public_key: bytes
    tree_size: int
    tree_root: bytes
    tree_checkpoint: bytes
    leaves: Iterable[StoredLeaf]
    nodes: dict[tuple[int, int], bytes]
    checkpoints: dict[int, bytes]
    ledgers: dict[str, tuple[int, bytes]]


@dataclass(frozen=True)
class TeamReport:
    """The result of auditing a whole team log."""

    database: str
    origin: str
    name: str
    size: int
    valid: bool
    problems: tuple[Problem, ...]
    checkpoint: str | None
    ledgers: tuple[dict[str, Any], ...] = ()
    refusals: tuple[dict[str, Any], ...] = ()
    seen_checkpoint_size: int | None = None
    witnessed: dict[str, Any] | None = None
    """The newest cosigned team checkpoint (team/witnessed.py), or None."""

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "origin": self.origin,
            "name": self.name,
            "size": self.size,
            "valid": self.valid,
            "checkpoint": self.checkpoint,
            "seen_checkpoint_size": self.seen_checkpoint_size,
            "witnessed": self.witnessed,
            "ledgers": list(self.ledgers),
            "refusals": list(self.refusals),
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True)
class _Checked:
    """What a worker learnt about one leaf (picklable)."""

    error: str | None
    kind: str = ""
    ledger: str = ""
    columns: tuple[Any, ...] = ()
    index: int = -1
    prev: str | None = None
    raw_key: bytes = b""
    name: str = ""
    signature_ok: bool = False
    entry_hash: bytes = b""
    checkpoint: bytes | None = None
    reason: str | None = None
    detail: str | None = None


def _check_batch(batch: list[bytes]) -> list[_Checked]:
    out = []
    for data in batch:
        try:
            leaf = parse_leaf(data)
        except LeafError as err:
            out.append(_Checked(str(err)))
            continue
        e = leaf.parsed_entry
        if e is None:
            out.append(
                _Checked(
                    None,
                    leaf.kind,
                    leaf.ledger,
                    leaf.columns(),
                    checkpoint=leaf.checkpoint,
                    reason=leaf.reason,
                    detail=leaf.detail,
                )
            )
            continue
        assert leaf.entry is not None and leaf.signature is not None
        out.append(
            _Checked(
                None,
                leaf.kind,
                leaf.ledger,
                leaf.columns(),
                e.index,
                e.prev,
                raw_public_key(e.actor_key),
                e.actor_name,
                signature_is_valid(e.actor_key, leaf.signature, leaf.entry),
                merkle.leaf_hash(leaf.entry),
            )
        )
    return out


def _check_all(datas: list[bytes]) -> list[_Checked]:
    workers = os.cpu_count() or 1
    if len(datas) < PARALLEL_THRESHOLD or workers < 2:
        return _check_batch(datas)
    from concurrent.futures import ProcessPoolExecutor  # only for large logs

    size = (len(datas) + workers * 4 - 1) // (workers * 4)
    results: list[_Checked] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        batches = [datas[i : i + size] for i in range(0, len(datas), size)]
        for part in pool.map(_check_batch, batches):
            results.extend(part)
    return results


@dataclass
class _LedgerState:
    """One officer ledger as the team log holds it, rebuilt leaf by leaf."""

    hashes: list[bytes] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    names: dict[str, None] = field(default_factory=dict)
    compact: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    checkpoint: bytes | None = None
    checkpoint_size: int = 0

    def root_at(self, size: int) -> bytes:
        if size == len(self.hashes):
            return self.compact.root()
        compact = merkle.CompactRange()
        for h in self.hashes[:size]:
            compact.append(h)
        return compact.root()


def audit_team(
    snapshot: TeamSnapshot,
    *,
    database: str,
    pinned_key: Ed25519PublicKey,
    pinned_origin: str,
    seen_checkpoint: bytes | None,
) -> TeamReport:
    """Check a snapshot of the team log. Never raises for tampering."""
    problems: list[Problem] = []
    counts: dict[str, int] = {}

    def bad(where: str | None, kind: str, detail: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] <= MAX_NAMED:
            problems.append(Problem(kind, where, detail))

    if snapshot.origin != pinned_origin:
        bad("team", "team_changed", f"the database holds {snapshot.origin}, not {pinned_origin}")
    if snapshot.public_key != raw_public_key(pinned_key):
        bad("team", "team_key_changed", "the database names another team key than the pinned one")

    seen = None
    if seen_checkpoint is not None:
        try:
            seen = parse_checkpoint(seen_checkpoint)
        except NoteError:
            seen = None
    wanted_roots = set(snapshot.checkpoints) | {snapshot.tree_size}
    if seen is not None:
        wanted_roots.add(seen.size)
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}

    rows = list(snapshot.leaves)
    checked = _check_all([row.data for row in rows])
    compact = merkle.CompactRange()
    computed: dict[tuple[int, int], bytes] = {}
    ledgers: dict[str, _LedgerState] = {}
    refusals: list[dict[str, Any]] = []
    expected_seq = 0
    for row, result in zip(rows, checked, strict=True):
        if row.seq != expected_seq:
            gap = (
                f"leaves {expected_seq}..{row.seq - 1} are missing"
                if row.seq > expected_seq
                else f"stored as number {row.seq} at position {expected_seq}"
            )
            bad(f"leaf {expected_seq}", "missing_leaf", f"{gap}: rows were deleted or renumbered")
            expected_seq = row.seq
        here = f"leaf {row.seq}"
        leaf = merkle.leaf_hash(row.data)
        for level, index, h in compact.append(leaf):
            computed[(level, index)] = h
        if compact.size in wanted_roots:
            roots[compact.size] = compact.root()
        expected_seq += 1
        if row.leaf_hash != leaf:
            bad(here, "edited_leaf", "its data does not match its stored hash: the row was edited")
        if snapshot.nodes.get((0, row.seq)) != leaf:
            bad(here, "moved_leaf", "not the leaf the tree was built with: edited or moved")
        if result.error is not None:
            bad(here, "bad_leaf", result.error)
            continue
        if tuple(row.columns) != result.columns:
            bad(here, "bad_index_columns", "its kind/ledger/case/bundle columns disagree with it")
        state = ledgers.setdefault(result.ledger, _LedgerState())
        if result.kind == "entry":
            who = f"{here} ({result.name}, {result.ledger} entry {result.index})"
            position = len(state.hashes)
            if result.index != position:
                bad(
                    who,
                    "out_of_place",
                    f"the officer's entry {result.index} stands where entry {position} belongs: "
                    "entries deleted, inserted or reordered",
                )
            expected_prev = state.hashes[-1].hex() if state.hashes else None
            if result.prev != expected_prev:
                bad(who, "broken_chain", "does not follow the officer's entry before it")
            if not result.signature_ok:
                bad(who, "bad_signature", "the officer's signature does not verify: edited")
            state.hashes.append(result.entry_hash)
            state.keys.append(result.raw_key)
            state.names[result.name] = None
            state.compact.append(result.entry_hash)
        elif result.kind == "checkpoint":
            _check_officer_checkpoint(here, result, state, bad)
        else:
            refusals.append(
                {
                    "leaf": row.seq,
                    "ledger": result.ledger,
                    "reason": result.reason,
                    "detail": result.detail,
                }
            )
    size = compact.size
    for key, value in computed.items():
        stored = snapshot.nodes.get(key)
        if stored != value and key[0] > 0:
            bad(f"tree node {key}", "tree_mismatch", "stored tree node disagrees with the leaves")
    extra = [k for k in snapshot.nodes if k not in computed]
    if extra:
        bad(None, "tree_mismatch", f"{len(extra)} stored tree node(s) for leaves that are gone")
    latest = _check_team_checkpoints(snapshot, size, roots, pinned_key, bad)
    _check_tree_state(snapshot, size, roots.get(size, compact.root()), bad)
    _check_ledger_table(snapshot, ledgers, bad)
    if seen is not None:
        if seen.origin != snapshot.origin or not checkpoint_signed_by(seen, pinned_key):
            bad("seen checkpoint", "bad_checkpoint", "the team checkpoint kept here is not valid")
        elif seen.size > size:
            bad(
                "seen checkpoint",
                "truncated",
                f"this home saw the team log at {seen.size} leaves; it now holds {size}: "
                "leaves were deleted or the database was replaced by an older copy",
            )
        elif roots.get(seen.size) != seen.root:
            bad(
                "seen checkpoint",
                "rewritten",
                f"the first {seen.size} leaves are not the ones this home saw: "
                "the team log was rewritten",
            )
    for kind, n in counts.items():
        if n > MAX_NAMED:
            problems.append(Problem(kind, None, f"{n - MAX_NAMED} more like this"))
    return TeamReport(
        database=database,
        origin=snapshot.origin,
        name=snapshot.name,
        size=size,
        valid=not problems,
        problems=tuple(problems),
        checkpoint=latest,
        ledgers=tuple(
            {
                "ledger": origin,
                "officers": list(state.names),
                "entries": len(state.hashes),
                "checkpoint_size": state.checkpoint_size,
            }
            for origin, state in sorted(ledgers.items())
            if state.hashes or state.checkpoint
        ),
        refusals=tuple(refusals),
        seen_checkpoint_size=seen.size if seen is not None else None,
    )


def _check_officer_checkpoint(here: str, result: _Checked, state: _LedgerState, bad: Any) -> None:
    assert result.checkpoint is not None
    try:
        cp = parse_checkpoint(result.checkpoint)
    except NoteError as e:
        bad(here, "bad_officer_checkpoint", f"{result.ledger}: {e}")
        return
    if cp.origin != result.ledger:
        bad(here, "bad_officer_checkpoint", f"is for {cp.origin}, filed under {result.ledger}")
        return
    if cp.size == 0 or cp.size > len(state.hashes):
        bad(
            here,
            "bad_officer_checkpoint",
            f"signs {cp.size} entries of {result.ledger}; the team log holds "
            f"{len(state.hashes)} before it",
        )
        return
    if state.root_at(cp.size) != cp.root:
        bad(here, "bad_officer_checkpoint", f"its root does not match {result.ledger}'s entries")
    signer = Ed25519PublicKey.from_public_bytes(state.keys[cp.size - 1])
    if not checkpoint_signed_by(cp, signer):
        bad(here, "bad_officer_checkpoint", "not signed by the key that made that entry")
    if cp.size < state.checkpoint_size:
        bad(here, "bad_officer_checkpoint", "goes back before an earlier checkpoint")
    state.checkpoint = result.checkpoint
    state.checkpoint_size = cp.size


def _check_team_checkpoints(
    snapshot: TeamSnapshot, size: int, roots: dict[int, bytes], key: Ed25519PublicKey, bad: Any
) -> str | None:
    latest: str | None = None
    for cp_size in sorted(snapshot.checkpoints):
        note = snapshot.checkpoints[cp_size]
        where = f"team checkpoint {cp_size}"
        try:
            cp = parse_checkpoint(note)
        except NoteError as e:
            bad(where, "bad_checkpoint", str(e))
            continue
        if cp.origin != snapshot.origin or cp.size != cp_size:
            bad(where, "bad_checkpoint", "is for another log or size than its row says")
        elif not checkpoint_signed_by(cp, key):
            bad(where, "bad_checkpoint", "not validly signed by the pinned team key")
        elif cp_size > size:
            bad(
                where,
                "truncated",
                f"the team key signed {cp_size} leaves but the log holds {size}: "
                "the newest leaves were deleted",
            )
        elif roots.get(cp_size) != cp.root:
            bad(where, "checkpoint_mismatch", "its root does not match the leaves")
        else:
            latest = note.decode("utf-8")
    return latest


def _check_tree_state(snapshot: TeamSnapshot, size: int, root: bytes, bad: Any) -> None:
    if snapshot.tree_size != size:
        bad("tree_state", "tree_mismatch", f"says {snapshot.tree_size} leaves, the log has {size}")
    elif snapshot.tree_root != root:
        bad("tree_state", "tree_mismatch", "its root does not match the leaves")
    if snapshot.checkpoints.get(snapshot.tree_size) != snapshot.tree_checkpoint:
        bad("tree_state", "tree_mismatch", "its checkpoint is not the one stored for its size")


def _check_ledger_table(snapshot: TeamSnapshot, ledgers: dict[str, _LedgerState], bad: Any) -> None:
    for origin, state in ledgers.items():
        if not state.hashes:
            continue
        row = snapshot.ledgers.get(origin)
        if row is None or row[0] != state.checkpoint_size or row[1] != state.checkpoint:
            bad(
                f"ledger {origin}",
                "ledger_table_mismatch",
                "the record of this officer ledger's published head disagrees with its leaves",
            )
    for origin in snapshot.ledgers:
        if origin not in ledgers or not ledgers[origin].hashes:
            bad(f"ledger {origin}", "ledger_table_mismatch", "recorded, but it has no leaves")
