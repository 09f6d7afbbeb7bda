"""Reading the team log: the audit snapshot, a case's record, inclusion proofs
stapled into bundles. Each read is one REPEATABLE READ, read-only transaction,
so it sees one state of the log however many officers publish meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bundle import layout
from ..bundle.reader import scan_bundle
from ..bundle.staple import cosignature_count
from ..bundle.tagwrite import (
    bundle_lock,
    read_tag_manifest,
    replace_in_bundle,
    write_tag_manifest,
)
from ..errors import InputError
from ..hashing import sha256_bytes
from ..ledger.timeline import entry_detail
from ..witness.trust import trusted_witnesses
from .audit import StoredLeaf, TeamReport, TeamSnapshot, audit_team
from .config import TeamConfig, load_state, load_team_config
from .db import _where, connect
from .leaves import LeafError, parse_leaf
from .log import fetch_nodes, remember_checkpoint
from .proof import TEAM_PROOF_PATH, team_proof_bytes
from .publish import publish_ledger
from .witnessed import audit_cosigned
from .witnessing import has_witness_tables, inclusion_path, newest_cosigned, witness_team_quietly

if TYPE_CHECKING:
    import psycopg

FETCH_ROWS = 2000


def _read_only(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def _leaves(conn: psycopg.Connection[Any]) -> Iterator[StoredLeaf]:
    with conn.cursor(name="custody_leaves") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(
            "SELECT seq, leaf_hash, data, kind, ledger, entry_index, case_id, bundle_id "
            "FROM leaves ORDER BY seq"
        )
        for seq, h, data, *columns in cur:
            yield StoredLeaf(int(seq), bytes(h), bytes(data), tuple(columns))


def _checkpoints(conn: psycopg.Connection[Any]) -> Iterator[tuple[int, bytes]]:
    with conn.cursor(name="custody_checkpoints") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute("SELECT size, note FROM checkpoints ORDER BY size")
        for size, note in cur:
            yield int(size), bytes(note)


def _cosigned(conn: psycopg.Connection[Any]) -> list[tuple[int, bytes, bytes | None]]:
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


def verify_team(*, home: Path, database: str | None = None) -> TeamReport:
    """Audit the whole team log this home joined (see team.audit). Everything is
    read in one REPEATABLE READ, read-only transaction, streamed: memory stays
    flat however large the log."""
    config = load_team_config(home)
    url = database or config.database
    with connect(url, purpose="custody-team-verify") as conn, conn.transaction():
        _read_only(conn)
        team = conn.execute("SELECT origin, name, public_key FROM team").fetchone()
        state = conn.execute("SELECT size, root, checkpoint FROM tree_state").fetchone()
        if team is None or state is None:
            raise InputError("the team log's team or tree_state row is gone", path=_where(url))
        node_count = conn.execute("SELECT count(*) FROM nodes").fetchone()
        snapshot = TeamSnapshot(
            origin=str(team[0]),
            name=str(team[1]),
            public_key=bytes(team[2]),
            tree_size=int(state[0]),
            tree_root=bytes(state[1]),
            tree_checkpoint=bytes(state[2]),
            leaves=_leaves(conn),
            nodes=lambda coords: fetch_nodes(conn, coords),
            node_count=int(node_count[0]) if node_count is not None else 0,
            checkpoint_sizes=frozenset(
                int(r[0]) for r in conn.execute("SELECT size FROM checkpoints")
            ),
            checkpoints=lambda: _checkpoints(conn),
            ledgers={
                str(o): (int(s), bytes(c))
                for o, s, c in conn.execute("SELECT origin, size, checkpoint FROM ledgers")
            },
        )
        seen = load_state(home).get("team_checkpoint")
        report = audit_team(
            snapshot,
            database=_where(url),
            pinned_key=config.key.public_key,
            pinned_origin=config.origin,
            seen_checkpoint=seen.encode() if isinstance(seen, str) else None,
        )
        cosigned = _cosigned(conn)
    found, witnessed = audit_cosigned(
        cosigned,
        origin=config.origin,
        key=config.key.public_key,
        witness_keys=trusted_witnesses(home=home),
        now=int(time.time()),
    )
    problems = (*report.problems, *found)
    report = replace(report, problems=problems, valid=not problems, witnessed=witnessed)
    if report.valid and report.checkpoint is not None:
        # What was audited is what this home will hold the team log to next time.
        remember_checkpoint(home, report.checkpoint.encode())
    return report


def team_timeline(*, home: Path, case: str | None) -> list[dict[str, Any]]:
    """Every officer entry in the team log (optionally one case's), in the team
    log's order. The case is read from each signed entry, not from the index
    column, which only narrows the search."""
    config = load_team_config(home)
    rows: list[dict[str, Any]] = []
    with connect(config.database, purpose="custody-team-show") as conn, conn.transaction():
        _read_only(conn)
        with conn.cursor(name="custody_show") as cur:
            cur.itersize = FETCH_ROWS
            if case is None:
                cur.execute("SELECT seq, data FROM leaves WHERE kind = 'entry' ORDER BY seq")
            else:
                cur.execute(
                    "SELECT seq, data FROM leaves WHERE kind = 'entry' AND case_id = %s "
                    "ORDER BY seq",
                    (case,),
                )
            for seq, data in cur:
                try:
                    leaf = parse_leaf(bytes(data))
                except LeafError:
                    continue
                e = leaf.parsed_entry
                if e is None or (case is not None and e.subject.get("case") != case):
                    continue
                rows.append(
                    {
                        "leaf": int(seq),
                        "time": e.time,
                        "action": e.action,
                        "who": e.actor_name,
                        "fingerprint": e.actor_fingerprint,
                        "ledger": leaf.ledger,
                        "entry_index": e.index,
                        "bundle_id": e.subject.get("bundle_id"),
                        "case": e.subject.get("case"),
                        "exhibit": e.subject.get("exhibit"),
                        "detail": entry_detail(e.action, e.subject),
                    }
                )
    return rows


@dataclass(frozen=True)
class TeamProofResult:
    bundle: str
    path: str
    origin: str
    leaf_index: int
    tree_size: int
    checkpoint: str
    cosignatures: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "path": self.path,
            "origin": self.origin,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            "cosignatures": self.cosignatures,
        }


def staple_team_proof(
    *,
    home: Path,
    bundle: Path,
    urls: Sequence[str] = (),
    warn: Callable[[str], None] | None = None,
) -> TeamProofResult:
    """Write custody/team-proof.json into a bundle folder: the inclusion proof of
    its ingest entry in the team log, to the newest cosigned team checkpoint
    that includes it, or else to the current one. This home's own ledger is
    published first, so an officer can staple a bundle just made, and the team
    checkpoint is then submitted to the witnesses `urls`, if any (a witness
    that does not cosign is a warning). Raises InputError when the entry is
    not in the team log."""
    config = load_team_config(home)
    if not bundle.is_dir() or bundle.is_symlink():
        raise InputError("a team proof is stapled into a bundle folder", path=str(bundle))
    scan = scan_bundle(bundle, hash_payload=False, tag_files_only=True)
    statement_bytes = scan.tag_bytes.get(layout.STATEMENT)
    if statement_bytes is None:
        raise InputError("the bundle has no statement", path=str(bundle))
    import json

    try:
        bundle_id = str(json.loads(statement_bytes)["bundle_id"])
    except (ValueError, KeyError, TypeError) as e:
        raise InputError("the bundle's statement is unreadable", path=str(bundle)) from e
    stmt_sha = sha256_bytes(statement_bytes)
    publish_ledger(home=home)
    witness_team_quietly(home=home, urls=urls, warn=warn or (lambda _: None))
    with connect(config.database, purpose="custody-team-proof") as conn, conn.transaction():
        _read_only(conn)
        size, note = conn.execute("SELECT size, checkpoint FROM tree_state").fetchone()  # type: ignore[misc]
        found = None
        for seq, data in conn.execute(
            "SELECT seq, data FROM leaves WHERE bundle_id = %s AND kind = 'entry' ORDER BY seq",
            (bundle_id,),
        ):
            try:
                entry = parse_leaf(bytes(data)).parsed_entry
            except LeafError:
                continue
            if (
                entry is not None
                and entry.action == "ingest"
                and entry.subject.get("statement_sha256") == stmt_sha
            ):
                found = (int(seq), bytes(data))
                break
        if found is None or found[0] >= int(size):
            raise InputError(
                "this bundle's ingest is not in the team log yet: the officer who made it "
                "runs 'custody ledger publish'",
                path=str(bundle),
            )

        index, size, note = found[0], int(size), bytes(note)
        cosigned = newest_cosigned(
            conn,
            origin=config.origin,
            key=config.key.public_key,
            leaf_index=index,
            leaf=found[1],
            witness_keys=trusted_witnesses(home=home),
            now=int(time.time()),
        )
        if cosigned is not None:
            size, note, path = cosigned
        else:
            path = inclusion_path(conn, index, size)
    data = team_proof_bytes(
        team=config.name,
        origin=config.origin,
        leaf_index=index,
        tree_size=size,
        leaf=found[1],
        path=path,
        checkpoint=note,
    )
    _store(bundle, data)
    return TeamProofResult(
        str(bundle),
        TEAM_PROOF_PATH,
        config.origin,
        index,
        size,
        note.decode(),
        cosignature_count(note),
    )


def _store(bundle: Path, data: bytes) -> None:
    """Replace the bundle's team proof so that a crash at any point leaves a
    bundle that verifies: the old proof is first dropped from the tag manifest
    (an unlisted team proof is not an intruder: it authenticates itself), then
    the file is replaced, then listed again."""
    with bundle_lock(bundle):
        listed = read_tag_manifest(bundle)
        if TEAM_PROOF_PATH in listed:
            del listed[TEAM_PROOF_PATH]
            write_tag_manifest(bundle, listed)
        replace_in_bundle(bundle, TEAM_PROOF_PATH, data)
        listed[TEAM_PROOF_PATH] = sha256_bytes(data)
        write_tag_manifest(bundle, listed)


__all__ = ["TeamConfig", "staple_team_proof", "team_timeline", "verify_team"]
