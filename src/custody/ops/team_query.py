"""Reading the team log: the audit snapshot, a case's record, inclusion proofs
stapled into bundles. Each read is one REPEATABLE READ, read-only transaction,
so it sees one state of the log however many officers publish meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.bundle.amend.tagwrite import (
    bundle_lock,
    read_tag_manifest,
    replace_in_bundle,
    write_tag_manifest,
)
from custody.bundle.format import layout
from custody.bundle.read.reader import scan_bundle
from custody.bundle.verify.team_proof import TEAM_PROOF_PATH, team_proof_bytes
from custody.io.team.db import _where
from custody.io.team.log import remember_checkpoint
from custody.io.team.publish import publish_ledger
from custody.io.team.reads import (
    bundle_entry_leaves,
    cosigned_rows,
    entry_leaves,
    read_snapshot,
    reading,
    tree_head,
)
from custody.io.team.witnessing import inclusion_path, newest_cosigned
from custody.ops.ledger.timeline import entry_detail
from custody.ops.staple import cosignature_count
from custody.ops.team_witnessing import witness_team_quietly
from custody.policy import TrustPolicy
from custody.team.audit import TeamReport, audit_team
from custody.team.config import TeamConfig, load_state, load_team_config
from custody.team.leaves import LeafError, parse_leaf
from custody.team.witnessed import audit_cosigned

if TYPE_CHECKING:
    pass


def verify_team(*, home: Path, policy: TrustPolicy, database: str | None = None) -> TeamReport:
    """Audit the whole team log this home joined (see team.audit). Everything is
    read in one REPEATABLE READ, read-only transaction, streamed: memory stays
    flat however large the log."""
    config = load_team_config(home)
    url = database or config.database
    with reading(url, purpose="custody-team-verify") as conn:
        snapshot = read_snapshot(conn, url)
        seen = load_state(home).get("team_checkpoint")
        report = audit_team(
            snapshot,
            database=_where(url),
            pinned_key=config.key.public_key,
            pinned_origin=config.origin,
            seen_checkpoint=seen.encode() if isinstance(seen, str) else None,
        )
        cosigned = cosigned_rows(conn)
    found, witnessed = audit_cosigned(
        cosigned,
        origin=config.origin,
        key=config.key.public_key,
        witness_keys=policy.witness_keys,
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
    with reading(config.database, purpose="custody-team-show") as conn:
        for seq, data in entry_leaves(conn, case=case):
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
    policy: TrustPolicy,
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
    witness_team_quietly(home=home, policy=policy, urls=urls, warn=warn or (lambda _: None))
    with reading(config.database, purpose="custody-team-proof") as conn:
        size, note = tree_head(conn)
        found = None
        for seq, data in bundle_entry_leaves(conn, bundle_id):
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
            witness_keys=policy.witness_keys,
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
