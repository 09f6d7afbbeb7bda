"""`custody ledger publish`: an officer's signed entries and checkpoint, unchanged,
as leaves of the team log.

The offer is checked and its leaves prepared outside any lock: a ledger that no
longer extends what it published before (rolled back, forked) or that is damaged
is refused, and the refusal itself becomes a leaf. Then one transaction locks
`tree_state`, confirms that the team log still extends the newest team
checkpoint this home saw and that the officer ledger's published head did not
move, and appends (io/team/log.py, append_leaves). Nothing is acknowledged before
the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import VerificationFailed
from custody.base.signing import signature_is_valid
from custody.io.ledger_store import Ledger
from custody.io.team.db import TeamLogUnavailable, connect
from custody.io.team.log import (
    PreparedLeaf,
    append_leaves,
    prepare_leaf,
    remember_checkpoint,
    team_signer,
    with_stored_nodes,
)
from custody.team.config import TeamConfig, load_state, load_team_config, save_state
from custody.team.leaves import checkpoint_leaf, entry_leaf, refusal_leaf
from custody.tlog import merkle
from custody.tlog.entries import EntryError, parse_entry
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class PublishResult:
    """What `custody ledger publish` did."""

    team: str
    ledger: str
    online: bool
    published_leaves: int
    published_entries: int
    ledger_size: int
    pending: int
    refused: str | None = None
    refusal_detail: str | None = None
    tree_size: int | None = None
    checkpoint: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "ledger": self.ledger,
            "online": self.online,
            "published_leaves": self.published_leaves,
            "published_entries": self.published_entries,
            "ledger_size": self.ledger_size,
            "pending": self.pending,
            "refused": self.refused,
            "refusal_detail": self.refusal_detail,
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Local:
    """The officer's ledger as offered: up to its latest checkpoint."""

    origin: str
    note: bytes | None
    size: int
    root: bytes
    rows: tuple[tuple[bytes, bytes], ...]
    leaf_hashes: tuple[bytes, ...]
    problem: str | None


def _read_local(ledger: Ledger) -> _Local:
    # The checkpoint is read first: it commits with its entry, so the entries
    # it covers are all there however many appends happen meanwhile.
    note = ledger.latest_checkpoint()
    origin = ledger.origin
    if note is None:
        return _Local(origin, None, 0, merkle.EMPTY_ROOT, (), (), None)
    try:
        cp = parse_checkpoint(note)
    except NoteError as e:
        return _Local(origin, note, 0, merkle.EMPTY_ROOT, (), (), f"its checkpoint: {e}")
    rows: list[tuple[bytes, bytes]] = []
    for stored in ledger.entries():
        if len(rows) == cp.size:
            break
        rows.append((stored.entry, stored.signature))
    hashes = tuple(merkle.leaf_hash(e) for e, _ in rows)
    problem = None
    root = _root(hashes)
    if cp.origin != origin:
        problem = f"its checkpoint names another ledger ({cp.origin})"
    elif len(rows) < cp.size:
        problem = f"its checkpoint signs {cp.size} entries but it holds {len(rows)}"
    elif root != cp.root:
        problem = "its entries do not match its own checkpoint"
    else:
        try:
            actor = parse_entry(rows[-1][0]).actor_key if rows else None
        except EntryError:
            actor = None
        if rows and (actor is None or not checkpoint_signed_by(cp, actor)):
            problem = "its checkpoint is not signed by the key that made its last entry"
    return _Local(origin, note, cp.size, root, tuple(rows), hashes, problem)


def _root(hashes: tuple[bytes, ...]) -> bytes:
    compact = merkle.CompactRange()
    for h in hashes:
        compact.append(h)
    return compact.root()


def _subtree_over(hashes: tuple[bytes, ...]) -> merkle.Subtree:
    nodes: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for h in hashes:
        for level, index, value in compact.append(h):
            nodes[(level, index)] = value
    return merkle.subtree_from_perfect_nodes(lambda level, index: nodes[(level, index)])


def _check_new_entries(local: _Local, start: int) -> str | None:
    """Every entry about to become a permanent team leaf must be whole: its
    form, its place, its link to the one before, its signature."""
    for i in range(start, local.size):
        data, signature = local.rows[i]
        try:
            entry = parse_entry(data)
        except EntryError as e:
            return f"entry {i}: {e}"
        expected_prev = local.leaf_hashes[i - 1].hex() if i > 0 else None
        if entry.index != i:
            return f"entry {i} says it is number {entry.index}"
        if entry.prev != expected_prev:
            return f"entry {i} does not follow the entry before it"
        if not signature_is_valid(entry.actor_key, signature, data):
            return f"entry {i}: signature does not verify"
    return None


def publish_ledger(*, home: Path) -> PublishResult:
    """Send this home's ledger entries and latest checkpoint, unchanged, to the
    team log. A ledger that no longer extends what it published before (rolled
    back, forked) or that is damaged is refused, and the refusal is recorded in
    the team log. When the database cannot be reached nothing fails: the
    result says so and what is waiting. Raises InputError when not in a team."""
    config = load_team_config(home)
    if not Ledger.exists(home):
        return PublishResult(config.origin, "", True, 0, 0, 0, 0)
    with Ledger.open(home, create=False) as ledger:
        local = _read_local(ledger)
    state = load_state(home)
    known = int(state.get("published", 0)) if str(state.get("ledger")) == local.origin else 0
    seen = state.get("team_checkpoint")
    try:
        with connect(config.database, purpose="custody-publish") as conn:
            result = _publish(conn, config, local, seen.encode() if isinstance(seen, str) else None)
    except TeamLogUnavailable as e:
        pending = max(local.size - known, 0)
        return PublishResult(
            config.origin,
            local.origin,
            False,
            0,
            0,
            local.size,
            pending,
            warnings=(
                f"{e.message}: {pending} entr{'y waits' if pending == 1 else 'ies wait'} "
                "in your ledger and will be published next time",
            ),
        )
    changes: dict[str, Any] = {}
    if result.refused is None:
        changes.update(ledger=local.origin, published=local.size)
    if result.checkpoint is not None:
        remember_checkpoint(home, result.checkpoint.encode(), **changes)
    elif changes:
        save_state(home, **changes)
    return result


def _check_extends(conn: psycopg.Connection[Any], seen_note: bytes | None) -> None:
    """Refuse to add to a team log that no longer extends the team checkpoint
    this home saw last (RFC 9162 consistency proof from the stored tree)."""
    if seen_note is None:
        return
    try:
        seen = parse_checkpoint(seen_note)
    except NoteError:
        return
    size, root = conn.execute("SELECT size, root FROM tree_state WHERE id = 1").fetchone()  # type: ignore[misc]
    size, root = int(size), bytes(root)
    if seen.size > size:
        raise VerificationFailed(
            f"the team log holds {size} leaves but you saw {seen.size}: leaves were deleted "
            "or the database was replaced by an older copy (custody team verify)"
        )
    if seen.size == 0:
        return
    proof = (
        with_stored_nodes(conn, lambda sub: merkle.consistency_path(seen.size, size, sub))
        if seen.size < size
        else []
    )
    if not merkle.verify_consistency(seen.size, size, seen.root, root, proof):
        raise VerificationFailed(
            f"the team log no longer extends the checkpoint of {seen.size} leaves you saw: "
            "it was rewritten (custody team verify); nothing was published"
        )


@dataclass(frozen=True)
class _Offer:
    """What a publish will append, prepared before the lock is taken: every
    check and every leaf is computed outside the transaction, which then only
    confirms that the officer ledger's published head is still the one seen."""

    had_size: int
    had_note: bytes | None
    refusal: tuple[str, str] | None
    leaves: tuple[PreparedLeaf, ...]


def _prepare(local: _Local, had_size: int, had_note: bytes | None) -> _Offer:
    refusal = _refusal(local, had_size, had_note)
    if refusal is None and local.size > had_size:
        problem = _check_new_entries(local, had_size)
        if problem is not None:
            refusal = ("inconsistent", f"your ledger is damaged: {problem}")
    leaves: list[bytes] = []
    if refusal is not None:
        leaves = [refusal_leaf(local.origin, refusal[0], refusal[1], local.note, had_note)]
    elif local.size > had_size:
        leaves = [entry_leaf(local.origin, data, sig) for data, sig in local.rows[had_size:]]
        assert local.note is not None
        leaves.append(checkpoint_leaf(local.origin, local.note))
    return _Offer(had_size, had_note, refusal, tuple(prepare_leaf(d) for d in leaves))


def _published_head(conn: psycopg.Connection[Any], origin: str) -> tuple[int, bytes | None]:
    row = conn.execute(
        "SELECT size, checkpoint FROM ledgers WHERE origin = %s", (origin,)
    ).fetchone()
    return (int(row[0]), bytes(row[1])) if row else (0, None)


def _publish(
    conn: psycopg.Connection[Any], config: TeamConfig, local: _Local, seen: bytes | None
) -> PublishResult:
    # Prepared from an unlocked read; under the lock the head is read again and
    # the offer prepared anew only if it moved (the same ledger published from
    # elsewhere meanwhile), so the lock is held for database work only.
    offer = _prepare(local, *_published_head(conn, local.origin))
    conn.commit()
    with conn.transaction():
        conn.execute("SELECT size FROM tree_state WHERE id = 1 FOR UPDATE")
        signer = team_signer(conn, config)
        _check_extends(conn, seen)
        head = _published_head(conn, local.origin)
        if head != (offer.had_size, offer.had_note):
            offer = _prepare(local, *head)
        had_size, refusal = offer.had_size, offer.refusal
        old_size = int(conn.execute("SELECT size FROM tree_state WHERE id = 1").fetchone()[0])  # type: ignore[index]
        size, note = append_leaves(
            conn, origin=config.origin, signer=signer, leaves=list(offer.leaves)
        )
        if refusal is None and local.size > had_size:
            assert local.note is not None
            conn.execute(
                "INSERT INTO ledgers (origin, size, checkpoint) VALUES (%s, %s, %s) "
                "ON CONFLICT (origin) DO UPDATE SET size = EXCLUDED.size, "
                "checkpoint = EXCLUDED.checkpoint",
                (local.origin, local.size, local.note),
            )
    published = size - old_size
    return PublishResult(
        team=config.origin,
        ledger=local.origin,
        online=True,
        published_leaves=published,
        published_entries=0 if refusal else max(local.size - had_size, 0),
        ledger_size=local.size,
        pending=0 if refusal is None else local.size,
        refused=refusal[0] if refusal else None,
        refusal_detail=refusal[1] if refusal else None,
        tree_size=size,
        checkpoint=note.decode("utf-8"),
    )


def _refusal(local: _Local, had_size: int, had_note: bytes | None) -> tuple[str, str] | None:
    """Why the offered ledger cannot be published, or None: damaged, rolled
    back (fewer entries than it published), or forked (its first entries are
    not the ones it published, by an RFC 9162 consistency proof)."""
    if local.problem is not None:
        return "inconsistent", f"your ledger is damaged: {local.problem}"
    if local.size < had_size:
        return (
            "rolled_back",
            f"your ledger holds {local.size} entries but published {had_size} before: "
            "it was rolled back or replaced by an older copy",
        )
    if had_size == 0 or had_note is None:
        return None
    try:
        had = parse_checkpoint(had_note)
    except NoteError:
        return "forked", "the team log's record of your ledger cannot be read"
    proof = merkle.consistency_path(had_size, local.size, _subtree_over(local.leaf_hashes))
    if had.size != had_size or not merkle.verify_consistency(
        had_size, local.size, had.root, local.root, proof
    ):
        return (
            "forked",
            f"the first {had_size} entries of your ledger are not the ones it published: "
            "its history was rewritten",
        )
    return None
