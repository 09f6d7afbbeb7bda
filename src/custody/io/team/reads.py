"""Reading the team log's tables: every SELECT that a team operation makes
(verify, show, proof), in one read-only REPEATABLE READ transaction, streamed
with server-side cursors so that memory stays flat however large the log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from custody.base.errors import InputError
from custody.io.team.db import _where, connect
from custody.io.team.log import fetch_nodes
from custody.io.team.witnessing import has_witness_tables
from custody.team.audit import TeamSnapshot
from custody.team.audit_stream import StoredLeaf

if TYPE_CHECKING:
    import psycopg

FETCH_ROWS = 2000


@contextmanager
def reading(url: str, *, purpose: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection inside one read-only REPEATABLE READ transaction: everything
    read in the block is as of one moment. Raises TeamLogUnavailable."""
    with connect(url, purpose=purpose) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield conn


def stored_leaves(conn: psycopg.Connection[Any]) -> Iterator[StoredLeaf]:
    with conn.cursor(name="custody_leaves") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(
            "SELECT seq, leaf_hash, data, kind, ledger, entry_index, case_id, bundle_id "
            "FROM leaves ORDER BY seq"
        )
        for seq, h, data, *columns in cur:
            yield StoredLeaf(int(seq), bytes(h), bytes(data), tuple(columns))


def stored_checkpoints(conn: psycopg.Connection[Any]) -> Iterator[tuple[int, bytes]]:
    with conn.cursor(name="custody_checkpoints") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute("SELECT size, note FROM checkpoints ORDER BY size")
        for size, note in cur:
            yield int(size), bytes(note)


def cosigned_rows(conn: psycopg.Connection[Any]) -> list[tuple[int, bytes, bytes | None]]:
    """Every cosigned checkpoint with the team checkpoint stored at its size."""
    if not has_witness_tables(conn):
        return []
    return [
        (int(size), bytes(note), bytes(signed) if signed is not None else None)
        for size, note, signed in conn.execute(
            "SELECT c.size, c.note, k.note FROM cosigned c LEFT JOIN checkpoints k USING (size) "
            "ORDER BY c.size"
        )
    ]


def read_snapshot(conn: psycopg.Connection[Any], url: str) -> TeamSnapshot:
    """Everything `team verify` audits, as the database holds it now (leaves,
    nodes and checkpoints streamed on demand). Raises InputError when the team
    or tree_state row is gone."""
    team = conn.execute("SELECT origin, name, public_key FROM team").fetchone()
    state = conn.execute("SELECT size, root, checkpoint FROM tree_state").fetchone()
    if team is None or state is None:
        raise InputError("the team log's team or tree_state row is gone", path=_where(url))
    node_count = conn.execute("SELECT count(*) FROM nodes").fetchone()
    return TeamSnapshot(
        origin=str(team[0]),
        name=str(team[1]),
        public_key=bytes(team[2]),
        tree_size=int(state[0]),
        tree_root=bytes(state[1]),
        tree_checkpoint=bytes(state[2]),
        leaves=stored_leaves(conn),
        nodes=lambda coords: fetch_nodes(conn, coords),
        node_count=int(node_count[0]) if node_count is not None else 0,
        checkpoint_sizes=frozenset(int(r[0]) for r in conn.execute("SELECT size FROM checkpoints")),
        checkpoints=lambda: stored_checkpoints(conn),
        ledgers={
            str(o): (int(s), bytes(c))
            for o, s, c in conn.execute("SELECT origin, size, checkpoint FROM ledgers")
        },
    )


def entry_leaves(conn: psycopg.Connection[Any], *, case: str | None) -> Iterator[tuple[int, bytes]]:
    """(seq, data) of every officer-entry leaf in log order; with `case`, only
    those whose case column says so (the caller still reads the signed entry)."""
    with conn.cursor(name="custody_show") as cur:
        cur.itersize = FETCH_ROWS
        if case is None:
            cur.execute("SELECT seq, data FROM leaves WHERE kind = 'entry' ORDER BY seq")
        else:
            cur.execute(
                "SELECT seq, data FROM leaves WHERE kind = 'entry' AND case_id = %s ORDER BY seq",
                (case,),
            )
        for seq, data in cur:
            yield int(seq), bytes(data)


def tree_head(conn: psycopg.Connection[Any]) -> tuple[int, bytes]:
    """The team log's current size and checkpoint."""
    row = conn.execute("SELECT size, checkpoint FROM tree_state").fetchone()
    if row is None:
        raise InputError("the team log's tree_state row is gone")
    return int(row[0]), bytes(row[1])


def bundle_entry_leaves(
    conn: psycopg.Connection[Any], bundle_id: str
) -> Iterator[tuple[int, bytes]]:
    """(seq, data) of the entry leaves indexed under `bundle_id`, in log order."""
    for seq, data in conn.execute(
        "SELECT seq, data FROM leaves WHERE bundle_id = %s AND kind = 'entry' ORDER BY seq",
        (bundle_id,),
    ):
        yield int(seq), bytes(data)
