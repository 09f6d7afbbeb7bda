"""Creating and joining the team log, and appending to it.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.errors import InputError, VerificationFailed
from custody.base.keys import PublicKeyInfo, check_name, fingerprint_of
from custody.base.utc import utc_now_text
from custody.io.team.db import TEAM_FORMAT, connect, create_schema
from custody.team.config import (
    TeamConfig,
    load_state,
    load_team_config,
    save_state,
    save_team_config,
)
from custody.team.leaves import parse_leaf
from custody.tlog import merkle
from custody.tlog.entries import raw_public_key
from custody.tlog.note import NoteError, parse_checkpoint, sign_checkpoint

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")


@dataclass(frozen=True)
class TeamInfo:
    """A team log as `team init` and `team join` report it."""

    database: str
    origin: str
    name: str
    fingerprint: str
    verifier_key: str
    tree_size: int
    key_checked: bool = False
    """The key was compared with one the user gave (team join --team-key)."""

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

    from custody.tlog.note import key_id

    kid = key_id(origin, public_key).hex()
    encoded = base64.b64encode(b"\x01" + raw_public_key(public_key)).decode()
    return f"{origin}+{kid}+{encoded}"


def _info(
    url: str, origin: str, name: str, key: Ed25519PublicKey, size: int, checked: bool = False
) -> TeamInfo:
    return TeamInfo(
        url, origin, name, fingerprint_of(key), verifier_key(origin, key), size, checked
    )


def init_team(*, home: Path, database: str, name: str) -> TeamInfo:
    """Create the team log's schema and its key in `database`, and join this
    home to it. Raises InputError when the database already holds one."""
    name = check_name(name)
    from custody.team.config import is_joined

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
            (TEAM_FORMAT, origin, name, public, private, utc_now_text()),
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


def join_team(*, home: Path, database: str, expected: str | None = None) -> TeamInfo:
    """Pin the team log's key and remember the database. `expected` is the team
    key's fingerprint the team lead gave (None: the fingerprint is printed, to
    be compared by a person). Raises VerificationFailed when the database's key
    is another, InputError when this home already belongs to another team log."""
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
    if expected is not None and fingerprint_of(key) != expected:
        raise VerificationFailed(
            f"the database's team key is {fingerprint_of(key)}, not the key {expected} you "
            "were given: not joined"
        )
    from custody.team.config import is_joined

    if is_joined(home):
        current = load_team_config(home)
        if current.origin != origin:
            raise InputError(f"this home already belongs to the team log {current.origin}")
        if current.key.fingerprint != fingerprint_of(key):
            raise VerificationFailed(
                "the database's team key is not the one this home pinned when it joined"
            )
    save_team_config(home, TeamConfig(database, origin, name, _key_info(name, key)))
    return _info(database, origin, name, key, int(state[0]), expected is not None)


def team_signer(conn: psycopg.Connection[Any], config: TeamConfig) -> Ed25519PrivateKey:
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
