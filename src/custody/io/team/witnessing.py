"""The team database's witness tables: the cosigned team checkpoints (`cosigned`)
and the size each witness holds (`witnesses`), and the team log as a
WitnessedLog over them (docs/team.md, "Witnesses"). All of witnessing's SQL is
here; submitting is ops/witness_submit.py's and ops/team_witnessing.py's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.errors import VerificationFailed
from custody.base.home import team_dir
from custody.io.team.log import with_stored_nodes
from custody.team.config import TeamConfig
from custody.tlog import merkle
from custody.tlog.cosignature import WitnessKey, check_cosignatures
from custody.tlog.entries import raw_public_key
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint

if TYPE_CHECKING:
    import psycopg


WITNESS_TABLES = """
CREATE TABLE IF NOT EXISTS cosigned (size bigint PRIMARY KEY, note bytea NOT NULL);
CREATE TABLE IF NOT EXISTS witnesses (url text PRIMARY KEY, size bigint NOT NULL)
"""


def create_witness_tables(conn: psycopg.Connection[Any]) -> None:
    for statement in WITNESS_TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)


def has_witness_tables(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass('cosigned')").fetchone()
    return row is not None and row[0] is not None


class TeamLog:
    """The team log in its database, as a WitnessedLog. The connection is put in
    autocommit mode: every method is its own transaction."""

    noun = "team log"
    unit = "leaves"
    key_file_hint = "TEAM.pub"  # written by 'custody team key'

    def __init__(self, conn: psycopg.Connection[Any], config: TeamConfig, home: Path) -> None:
        conn.autocommit = True
        row = conn.execute("SELECT origin, public_key FROM team").fetchone()
        if row is None or str(row[0]) != config.origin:
            raise VerificationFailed("the database holds another team log than the one you joined")
        if bytes(row[1]) != raw_public_key(config.key.public_key):
            raise VerificationFailed(
                "the database's team key is not the one this home pinned when it joined"
            )
        if not has_witness_tables(conn):
            create_witness_tables(conn)
        self._conn = conn
        self._key = config.key.public_key
        self.origin = config.origin
        self.forks_dir = team_dir(home) / "forks"
        self.where = f"team log {config.origin}"

    def latest_checkpoint(self) -> bytes | None:
        row = self._conn.execute("SELECT checkpoint FROM tree_state WHERE id = 1").fetchone()
        return bytes(row[0]) if row is not None else None

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return with_stored_nodes(
            self._conn, lambda sub: merkle.consistency_path(old_size, new_size, sub)
        )

    def witness_size(self, url: str) -> int:
        row = self._conn.execute("SELECT size FROM witnesses WHERE url = %s", (url,)).fetchone()
        return int(row[0]) if row is not None else 0

    def set_witness_size(self, url: str, size: int) -> None:
        self._conn.execute(
            "INSERT INTO witnesses (url, size) VALUES (%s, %s) "
            "ON CONFLICT (url) DO UPDATE SET size = EXCLUDED.size",
            (url, size),
        )

    def cosigned_checkpoint(self, size: int) -> bytes | None:
        row = self._conn.execute("SELECT note FROM cosigned WHERE size = %s", (size,)).fetchone()
        return bytes(row[0]) if row is not None else None

    def store_cosigned(self, size: int, merge: Callable[[bytes | None], bytes]) -> None:
        """Merge cosignatures into the stored copy under its row lock, so that two
        officers adding cosignatures at once keep both."""
        while True:
            with self._conn.transaction():
                row = self._conn.execute(
                    "SELECT note FROM cosigned WHERE size = %s FOR UPDATE", (size,)
                ).fetchone()
                if row is not None:
                    self._conn.execute(
                        "UPDATE cosigned SET note = %s WHERE size = %s",
                        (merge(bytes(row[0])), size),
                    )
                    return
                inserted = self._conn.execute(
                    "INSERT INTO cosigned (size, note) VALUES (%s, %s) "
                    "ON CONFLICT (size) DO NOTHING RETURNING size",
                    (size, merge(None)),
                ).fetchone()
                if inserted is not None:
                    return
            # another officer inserted it meanwhile: merge into theirs

    def signing_key(self, size: int) -> Ed25519PublicKey | None:
        return self._key


def inclusion_path(conn: psycopg.Connection[Any], leaf_index: int, size: int) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf `leaf_index` in the tree of `size`."""
    return with_stored_nodes(conn, lambda sub: merkle.inclusion_path(leaf_index, size, sub))


def newest_cosigned(
    conn: psycopg.Connection[Any],
    *,
    origin: str,
    key: Ed25519PublicKey,
    leaf_index: int,
    leaf: bytes,
    witness_keys: Sequence[WitnessKey] = (),
    now: int = 0,
) -> tuple[int, bytes, list[bytes]] | None:
    """(size, cosigned checkpoint, inclusion proof of `leaf` at `leaf_index`) for
    the newest cosigned checkpoint that includes the leaf, is the very team
    checkpoint the log signed at its size (by the pinned `key`), carries no
    cosignature claiming one of `witness_keys` that fails, and whose root the
    proof reaches; None when there is none."""
    if not has_witness_tables(conn):
        return None
    rows = conn.execute(
        "SELECT c.size, c.note, k.note FROM cosigned c JOIN checkpoints k USING (size) "
        "WHERE c.size > %s ORDER BY c.size DESC",
        (leaf_index,),
    ).fetchall()
    for size, note, signed in rows:
        size, note = int(size), bytes(note)
        try:
            cp, team_cp = parse_checkpoint(note), parse_checkpoint(bytes(signed))
        except NoteError:
            continue
        if (
            cp.size != size
            or cp.origin != origin
            or cp.text != team_cp.text
            or not checkpoint_signed_by(cp, key)
            or any(c.status == "invalid" for c in check_cosignatures(cp, witness_keys, now=now))
        ):
            continue
        path = inclusion_path(conn, leaf_index, size)
        if merkle.verify_inclusion(merkle.leaf_hash(leaf), leaf_index, size, path, cp.root):
            return size, note, path
    return None
