"""Witnesses cosigning team checkpoints (docs/team.md, "Witnesses").

A team checkpoint is an ordinary C2SP checkpoint whose origin and key name is the
team's origin, so any C2SP tlog-witness (`custody witness serve` among them)
cosigns it once its operator accepts the team key:

    custody witness add-log custody-team/<uuid> --key met-team.pub

The cosigned checkpoints and the size each witness holds are kept in the team
database (tables `cosigned` and `witnesses`), so that every officer's
`team proof` staples them; they are checked by `team verify` like everything
else the database holds. The submitting itself is witness/submit.py's, over the
team log as a WitnessedLog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import CustodyError, VerificationFailed
from ..ledger import merkle
from ..ledger.cosignature import WitnessKey, check_cosignatures
from ..ledger.entries import raw_public_key
from ..ledger.note import NoteError, checkpoint_signed_by, parse_checkpoint
from ..witness import client
from ..witness.submit import WitnessRun, warn_about, witness_log
from ..witness.trust import trusted_witnesses
from .config import TeamConfig, load_team_config, team_dir
from .db import connect
from .log import with_stored_nodes

if TYPE_CHECKING:
    import psycopg

Warn = Callable[[str], None]

WITNESS_TABLES = """
CREATE TABLE IF NOT EXISTS cosigned (size bigint PRIMARY KEY, note bytea NOT NULL);
CREATE TABLE IF NOT EXISTS witnesses (url text PRIMARY KEY, size bigint NOT NULL)
"""
"""Also in db.SCHEMA; created here too for team logs made before witnessing."""


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


@contextmanager
def open_team_log(home: Path, *, purpose: str) -> Iterator[TeamLog]:
    """The team log this home joined, as a WitnessedLog. Raises InputError when
    not in a team, TeamLogUnavailable when the database cannot be reached."""
    config = load_team_config(home)
    with connect(config.database, purpose=purpose) as conn:
        yield TeamLog(conn, config, home)


def witness_team(
    *, home: Path, urls: Sequence[str], timeout: float = client.TIMEOUT_S
) -> WitnessRun:
    """Submit the team log's current checkpoint to each witness in `urls`."""
    with open_team_log(home, purpose="custody-team-witness") as log:
        return witness_log(log, urls=urls, known=trusted_witnesses(home=home), timeout=timeout)


def witness_team_quietly(*, home: Path, urls: Sequence[str], warn: Warn) -> None:
    """Automatic witnessing of the team checkpoint ($CUSTODY_WITNESS, after a
    publish): never fails the operation; one warning line per witness that did
    not cosign."""
    if not urls:
        return
    try:
        run = witness_team(home=home, urls=urls)
    except CustodyError as e:
        warn(f"team witnessing skipped: {e.diagnostics()}")
        return
    warn_about(run, warn, later="custody team witness")
