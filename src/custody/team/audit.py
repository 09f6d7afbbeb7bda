"""`custody team verify`: recompute and check everything in the team log. Pure.

Given the rows as stored (however a database superuser may have left them),
the team key this home pinned and the newest team checkpoint it saw, it checks
every leaf (form, stored hash, the officer's signature, its place in the
officer's chain), every officer checkpoint, the whole Merkle tree, every team
checkpoint, and the bookkeeping tables. Every finding names the leaf.

Memory stays flat whatever the size of the log: leaves arrive as a stream and
are checked a batch at a time (signatures on every core, the next batch checked
while this one is walked), stored tree nodes are asked for a batch at a time,
and each officer ledger is kept as 36 bytes an entry.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.models import Problem
from custody.team.audit_stream import Checked, StoredLeaf, TreeCheck, checked_leaves
from custody.tlog import merkle
from custody.tlog.entries import raw_public_key
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint

MAX_NAMED = 50  # findings of one kind named one by one; the rest are counted


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
    """Every leaf row in `seq` order (a stream: read once)."""
    nodes: Callable[[list[tuple[int, int]]], dict[tuple[int, int], bytes]]
    """The stored tree nodes at the coordinates asked for (absent ones left out)."""
    node_count: int
    checkpoint_sizes: frozenset[int]
    checkpoints: Callable[[], Iterable[tuple[int, bytes]]]
    """Every stored team checkpoint as (size, note), in size order, read after the leaves."""
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


@dataclass
class _LedgerState:
    """One officer ledger as the team log holds it, rebuilt leaf by leaf: 32
    bytes of entry hash and 4 of key number an entry."""

    hashes: bytearray = field(default_factory=bytearray)
    key_numbers: array[int] = field(default_factory=lambda: array("I"))
    keys: dict[bytes, int] = field(default_factory=dict)
    names: dict[str, None] = field(default_factory=dict)
    compact: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    checkpoint: bytes | None = None
    checkpoint_size: int = 0

    @property
    def count(self) -> int:
        return len(self.hashes) // merkle.HASH_SIZE

    def last_hash(self) -> bytes | None:
        return bytes(self.hashes[-merkle.HASH_SIZE :]) if self.hashes else None

    def add(self, entry_hash: bytes, raw_key: bytes, name: str) -> None:
        self.hashes += entry_hash
        self.key_numbers.append(self.keys.setdefault(raw_key, len(self.keys)))
        self.names[name] = None
        self.compact.append(entry_hash)

    def key_at(self, index: int) -> bytes:
        number = self.key_numbers[index]
        return next(k for k, n in self.keys.items() if n == number)

    def root_at(self, size: int) -> bytes:
        if size == self.count:
            return self.compact.root()
        compact = merkle.CompactRange()
        for i in range(size):
            compact.append(bytes(self.hashes[i * merkle.HASH_SIZE : (i + 1) * merkle.HASH_SIZE]))
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
    wanted_roots = set(snapshot.checkpoint_sizes) | {snapshot.tree_size}
    if seen is not None:
        wanted_roots.add(seen.size)
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}

    compact = merkle.CompactRange()
    tree = TreeCheck(snapshot.nodes, bad)
    ledgers: dict[str, _LedgerState] = {}
    refusals: list[dict[str, Any]] = []
    expected_seq = 0
    for row, result in checked_leaves(snapshot.leaves):
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
            tree.node(level, index, h)
        if compact.size in wanted_roots:
            roots[compact.size] = compact.root()
        expected_seq += 1
        if row.leaf_hash != leaf:
            bad(here, "edited_leaf", "its data does not match its stored hash: the row was edited")
        tree.leaf(row.seq, leaf, here)
        if result.error is not None:
            bad(here, "bad_leaf", result.error)
            continue
        if tuple(row.columns) != result.columns:
            bad(here, "bad_index_columns", "its kind/ledger/case/bundle columns disagree with it")
        state = ledgers.setdefault(result.ledger, _LedgerState())
        if result.kind == "entry":
            who = f"{here} ({result.name}, {result.ledger} entry {result.index})"
            position = state.count
            if result.index != position:
                bad(
                    who,
                    "out_of_place",
                    f"the officer's entry {result.index} stands where entry {position} belongs: "
                    "entries deleted, inserted or reordered",
                )
            last = state.last_hash()
            expected_prev = last.hex() if last is not None else None
            if result.prev != expected_prev:
                bad(who, "broken_chain", "does not follow the officer's entry before it")
            if not result.signature_ok:
                bad(who, "bad_signature", "the officer's signature does not verify: edited")
            state.add(result.entry_hash, result.raw_key, result.name)
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
    tree.flush()
    extra = snapshot.node_count - tree.found
    if extra:
        bad(None, "tree_mismatch", f"{extra} stored tree node(s) for leaves that are gone")
    latest, at_tree_size = _check_team_checkpoints(snapshot, size, roots, pinned_key, bad)
    _check_tree_state(snapshot, size, roots.get(size, compact.root()), at_tree_size, bad)
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
                "entries": state.count,
                "checkpoint_size": state.checkpoint_size,
            }
            for origin, state in sorted(ledgers.items())
            if state.count or state.checkpoint
        ),
        refusals=tuple(refusals),
        seen_checkpoint_size=seen.size if seen is not None else None,
    )


def _check_officer_checkpoint(here: str, result: Checked, state: _LedgerState, bad: Any) -> None:
    assert result.checkpoint is not None
    try:
        cp = parse_checkpoint(result.checkpoint)
    except NoteError as e:
        bad(here, "bad_officer_checkpoint", f"{result.ledger}: {e}")
        return
    if cp.origin != result.ledger:
        bad(here, "bad_officer_checkpoint", f"is for {cp.origin}, filed under {result.ledger}")
        return
    if cp.size == 0 or cp.size > state.count:
        bad(
            here,
            "bad_officer_checkpoint",
            f"signs {cp.size} entries of {result.ledger}; the team log holds "
            f"{state.count} before it",
        )
        return
    if state.root_at(cp.size) != cp.root:
        bad(here, "bad_officer_checkpoint", f"its root does not match {result.ledger}'s entries")
    signer = Ed25519PublicKey.from_public_bytes(state.key_at(cp.size - 1))
    if not checkpoint_signed_by(cp, signer):
        bad(here, "bad_officer_checkpoint", "not signed by the key that made that entry")
    if cp.size < state.checkpoint_size:
        bad(here, "bad_officer_checkpoint", "goes back before an earlier checkpoint")
    state.checkpoint = result.checkpoint
    state.checkpoint_size = cp.size


def _check_team_checkpoints(
    snapshot: TeamSnapshot, size: int, roots: dict[int, bytes], key: Ed25519PublicKey, bad: Any
) -> tuple[str | None, bytes | None]:
    """(the newest valid team checkpoint, the note stored at tree_state's size)."""
    latest: str | None = None
    at_tree_size: bytes | None = None
    for cp_size, note in snapshot.checkpoints():
        if cp_size == snapshot.tree_size:
            at_tree_size = note
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
    return latest, at_tree_size


def _check_tree_state(
    snapshot: TeamSnapshot, size: int, root: bytes, stored: bytes | None, bad: Any
) -> None:
    if snapshot.tree_size != size:
        bad("tree_state", "tree_mismatch", f"says {snapshot.tree_size} leaves, the log has {size}")
    elif snapshot.tree_root != root:
        bad("tree_state", "tree_mismatch", "its root does not match the leaves")
    if stored != snapshot.tree_checkpoint:
        bad("tree_state", "tree_mismatch", "its checkpoint is not the one stored for its size")


def _check_ledger_table(snapshot: TeamSnapshot, ledgers: dict[str, _LedgerState], bad: Any) -> None:
    for origin, state in ledgers.items():
        if not state.count:
            continue
        row = snapshot.ledgers.get(origin)
        if row is None or row[0] != state.checkpoint_size or row[1] != state.checkpoint:
            bad(
                f"ledger {origin}",
                "ledger_table_mismatch",
                "the record of this officer ledger's published head disagrees with its leaves",
            )
    for origin in snapshot.ledgers:
        if origin not in ledgers or not ledgers[origin].count:
            bad(f"ledger {origin}", "ledger_table_mismatch", "recorded, but it has no leaves")
