"""Creating, joining and publishing to the team log.

Sequencing follows Tessera's SQL storage: one append is one transaction that
first locks the single `tree_state` row (SELECT ... FOR UPDATE), so appends are
strictly serialised; it then sequences the new leaves after the current size,
integrates them (the perfect-subtree nodes they complete, the new root) and
stores the new checkpoint signed by the team key, and commits. A leaf is never
visible without its place in the tree, and a publisher or server killed at any
moment leaves the previous tree whole: PostgreSQL rolls back what was not
committed, and nothing is acknowledged before the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import InputError, VerificationFailed
from ..keys import PublicKeyInfo, check_name, fingerprint_of
from ..ledger import merkle
from ..ledger.entries import EntryError, parse_entry, raw_public_key
from ..ledger.note import NoteError, checkpoint_signed_by, parse_checkpoint, sign_checkpoint
from ..ledger.store import Ledger
from ..signing import signature_is_valid
from .config import TeamConfig, load_state, load_team_config, save_state, save_team_config
from .db import TEAM_FORMAT, TeamLogUnavailable, connect, create_schema
from .leaves import checkpoint_leaf, entry_leaf, parse_leaf, refusal_leaf

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TeamInfo:
    """A team log as `team init` and `team join` report it."""

    database: str
    origin: str
    name: str
    fingerprint: str
    verifier_key: str
    tree_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "verifier_key": self.verifier_key,
            "tree_size": self.tree_size,
        }


def verifier_key(origin: str, public_key: Ed25519PublicKey) -> str:
    """The C2SP signed-note verifier key for the team's checkpoints."""
    import base64

    from ..ledger.note import key_id

    kid = key_id(origin, public_key).hex()
    encoded = base64.b64encode(b"\x01" + raw_public_key(public_key)).decode()
    return f"{origin}+{kid}+{encoded}"


def _info(url: str, origin: str, name: str, key: Ed25519PublicKey, size: int) -> TeamInfo:
    return TeamInfo(url, origin, name, fingerprint_of(key), verifier_key(origin, key), size)


def init_team(*, home: Path, database: str, name: str) -> TeamInfo:
    """Create the team log's schema and its key in `database`, and join this
    home to it. Raises InputError when the database already holds one."""
    name = check_name(name)
    from .config import is_joined

    if is_joined(home):
        raise InputError(
            f"this home already belongs to the team log {load_team_config(home).origin}"
        )
    origin = f"custody-team/{uuid.uuid4()}"
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    private = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public = raw_public_key(key.public_key())
    empty = sign_checkpoint(origin, 0, merkle.EMPTY_ROOT, key)
    with connect(database, purpose="custody-team-init") as conn, conn.transaction():
        create_schema(conn)
        conn.execute(
            "INSERT INTO team (id, format, origin, name, public_key, private_key, created) "
            "VALUES (1, %s, %s, %s, %s, %s, %s)",
            (TEAM_FORMAT, origin, name, public, private, _now()),
        )
        conn.execute(
            "INSERT INTO tree_state (id, size, root, checkpoint) VALUES (1, 0, %s, %s)",
            (merkle.EMPTY_ROOT, empty),
        )
        conn.execute("INSERT INTO checkpoints (size, note) VALUES (0, %s)", (empty,))
    pub = key.public_key()
    save_team_config(home, TeamConfig(database, origin, name, _key_info(name, pub)))
    save_state(home, team_checkpoint=empty.decode())
    return _info(database, origin, name, pub, 0)


def _key_info(name: str, key: Ed25519PublicKey) -> PublicKeyInfo:
    return PublicKeyInfo(name, fingerprint_of(key), key)


def join_team(*, home: Path, database: str) -> TeamInfo:
    """Pin the team log's key and remember the database. Raises InputError when
    this home already belongs to another team log."""
    with connect(database, purpose="custody-team-join") as conn:
        row = conn.execute("SELECT origin, name, public_key, format FROM team").fetchone()
        state = conn.execute("SELECT size, checkpoint FROM tree_state").fetchone()
    if row is None or state is None or row[3] != TEAM_FORMAT:
        raise InputError("the database holds no usable custody team log")
    origin, name = str(row[0]), str(row[1])
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes(row[2]))
    except ValueError as e:
        raise InputError("the team log's public key is damaged") from e
    from .config import is_joined

    if is_joined(home):
        current = load_team_config(home)
        if current.origin != origin:
            raise InputError(f"this home already belongs to the team log {current.origin}")
        if current.key.fingerprint != fingerprint_of(key):
            raise VerificationFailed(
                "the database's team key is not the one this home pinned when it joined"
            )
    save_team_config(home, TeamConfig(database, origin, name, _key_info(name, key)))
    return _info(database, origin, name, key, int(state[0]))


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


def _team_signer(conn: psycopg.Connection[Any], config: TeamConfig) -> Ed25519PrivateKey:
    row = conn.execute("SELECT origin, public_key, private_key FROM team").fetchone()
    if row is None or str(row[0]) != config.origin:
        raise VerificationFailed("the database holds another team log than the one you joined")
    try:
        key = Ed25519PrivateKey.from_private_bytes(bytes(row[2]))
    except ValueError as e:
        raise VerificationFailed("the team log's signing key is damaged") from e
    if raw_public_key(key.public_key()) != raw_public_key(config.key.public_key):
        raise VerificationFailed(
            "the database's team key is not the one this home pinned when it joined"
        )
    return key


@dataclass(frozen=True)
class PreparedLeaf:
    """A leaf with its hash and index columns, computed before any lock is taken."""

    data: bytes
    leaf_hash: bytes
    columns: tuple[str, str, int | None, str | None, str | None]


def prepare_leaf(data: bytes) -> PreparedLeaf:
    return PreparedLeaf(data, merkle.leaf_hash(data), parse_leaf(data).columns())


def append_leaves(
    conn: psycopg.Connection[Any],
    *,
    origin: str,
    signer: Ed25519PrivateKey,
    leaves: list[PreparedLeaf],
) -> tuple[int, bytes]:
    """Sequence and integrate `leaves` in the caller's transaction, which must
    hold the tree_state row lock. Leaves already in the log are skipped (a leaf
    is never duplicated). Returns the new size and signed checkpoint."""
    size, note = conn.execute("SELECT size, checkpoint FROM tree_state WHERE id = 1").fetchone()  # type: ignore[misc]
    size = int(size)
    hashes = [leaf.leaf_hash for leaf in leaves]
    present = {
        bytes(r[0])
        for r in conn.execute(
            "SELECT leaf_hash FROM leaves WHERE leaf_hash = ANY(%s)", (hashes,)
        ).fetchall()
    }
    frontier = merkle.CompactRange.frontier(size)
    found = fetch_nodes(conn, frontier)
    if len(found) != len(frontier):
        raise VerificationFailed("the team log's stored tree is missing nodes (team verify)")
    compact = merkle.CompactRange.from_frontier(size, lambda lv, ix: found[(lv, ix)])
    leaf_rows: list[tuple[Any, ...]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    for leaf in leaves:
        if leaf.leaf_hash in present:
            continue
        present.add(leaf.leaf_hash)
        leaf_rows.append((compact.size, leaf.leaf_hash, leaf.data, *leaf.columns))
        node_rows.extend(compact.append(leaf.leaf_hash))
    if not leaf_rows:
        return size, bytes(note)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO leaves (seq, leaf_hash, data, kind, ledger, entry_index, case_id, "
            "bundle_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            leaf_rows,
        )
        cur.executemany("INSERT INTO nodes (level, idx, hash) VALUES (%s, %s, %s)", node_rows)
    new_size = compact.size
    new_note = sign_checkpoint(origin, new_size, compact.root(), signer)
    conn.execute("INSERT INTO checkpoints (size, note) VALUES (%s, %s)", (new_size, new_note))
    conn.execute(
        "UPDATE tree_state SET size = %s, root = %s, checkpoint = %s WHERE id = 1",
        (new_size, compact.root(), new_note),
    )
    return new_size, new_note


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


def remember_checkpoint(home: Path, note: bytes, **changes: Any) -> None:
    """Keep the newest team checkpoint this home has seen, outside the database
    (with any other state `changes`, in the same write)."""
    try:
        new = parse_checkpoint(note)
    except NoteError:
        new = None
    old_text = load_state(home).get("team_checkpoint")
    if new is not None and isinstance(old_text, str):
        try:
            if parse_checkpoint(old_text.encode()).size > new.size:
                new = None
        except NoteError:
            pass
    if new is not None:
        changes["team_checkpoint"] = note.decode()
    if changes:
        save_state(home, **changes)


def fetch_nodes(
    conn: psycopg.Connection[Any], coords: list[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored perfect-subtree nodes at `coords`, in one query."""
    found: dict[tuple[int, int], bytes] = {}
    if coords:
        for level, idx, h in conn.execute(
            "SELECT level, idx, hash FROM nodes WHERE (level, idx) IN "
            "(SELECT * FROM unnest(%s::int[], %s::bigint[]))",
            ([lv for lv, _ in coords], [ix for _, ix in coords]),
        ).fetchall():
            found[(int(level), int(idx))] = bytes(h)
    return found


def with_stored_nodes(conn: psycopg.Connection[Any], compute: Callable[[merkle.Subtree], T]) -> T:
    """Run a proof computation over the stored tree with one query: a proof's
    shape depends only on the sizes, so a first pass learns which nodes it
    reads, and the second gets them all at once."""
    wanted: list[tuple[int, int]] = []

    def record(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return bytes(merkle.HASH_SIZE)

    compute(merkle.subtree_from_perfect_nodes(record))
    found = fetch_nodes(conn, wanted)

    def node(level: int, index: int) -> bytes:
        if (level, index) not in found:
            raise VerificationFailed(f"the team log's tree node ({level}, {index}) is missing")
        return found[(level, index)]

    return compute(merkle.subtree_from_perfect_nodes(node))


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
        signer = _team_signer(conn, config)
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
