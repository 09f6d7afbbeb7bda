"""The team inclusion proof a bundle carries: custody/team-proof.json. Pure.

    {"format": "custody/team-proof/v1", "team": "<name>", "origin": "custody-team/<uuid>",
     "leaf_index": 17, "tree_size": 42, "leaf": "<the leaf's exact bytes as a string>",
     "inclusion_proof": ["<base64 hash>", ...], "checkpoint": "<team checkpoint>"}

The leaf is the officer's ingest entry for this bundle, as published. Checking it
needs no database: the entry names this bundle and statement and is signed by the
bundle's signer; the inclusion proof leads from SHA-256(0x00 || leaf) to the root
of a checkpoint signed by a team key the verifier chose to trust.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.keys import PublicKeyInfo
from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.bundle.format import layout
from custody.team.leaves import LeafError, parse_leaf
from custody.tlog.entries import raw_public_key
from custody.tlog.inclusion import (
    ClaimError,
    check_inclusion,
    proof_doc_bytes,
    read_claim,
    spelling_difference,
)
from custody.tlog.note import checkpoint_signed_by, key_id

TEAM_PROOF_FORMAT = "custody/team-proof/v1"
TEAM_PROOF_PATH = layout.TEAM_PROOF


def team_proof_bytes(
    *,
    team: str,
    origin: str,
    leaf_index: int,
    tree_size: int,
    leaf: bytes,
    path: list[bytes],
    checkpoint: bytes,
) -> bytes:
    return proof_doc_bytes(
        {
            "format": TEAM_PROOF_FORMAT,
            "team": team,
            "origin": origin,
            "leaf_index": leaf_index,
            "tree_size": tree_size,
            "leaf": leaf.decode("utf-8"),
            "inclusion_proof": [base64.b64encode(h).decode() for h in path],
            "checkpoint": checkpoint.decode("utf-8"),
        }
    )


@dataclass(frozen=True)
class TeamProofCheck:
    """What checking a bundle's team proof found. `trusted_team` is the name of
    the verifier's team key that signed the checkpoint (None: no trusted key did)."""

    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
    info: dict[str, Any]


def check_team_proof(
    data: bytes,
    *,
    statement_sha256: str,
    bundle_id: str,
    signer_key: Ed25519PublicKey | None,
    team_keys: tuple[PublicKeyInfo, ...],
) -> TeamProofCheck:
    """Check a team proof offline against the verifier's trusted team keys."""
    problems: list[Problem] = []

    def bad(detail: str) -> None:
        problems.append(Problem("bad_team_proof", TEAM_PROOF_PATH, detail))

    def done(info: dict[str, Any], warnings: tuple[str, ...] = ()) -> TeamProofCheck:
        info["proof_valid"] = not problems
        return TeamProofCheck(tuple(problems), warnings, info)

    try:
        claim = read_claim(
            data,
            proof_format=TEAM_PROOF_FORMAT,
            leaf_field="leaf",
            kind="team proof",
            malformed="team proof",
        )
    except ClaimError as e:
        bad(str(e))
        return done({})
    leaf, index, size, origin = claim.item, claim.index, claim.size, claim.origin
    info: dict[str, Any] = {"origin": origin, "leaf_index": index, "tree_size": size}
    # Not signed as a whole, like the ledger proof: any spelling but custody's own is named.
    difference = spelling_difference(data, claim)
    if difference is not None:
        problems.append(Problem("bad_tag_format", TEAM_PROOF_PATH, difference))
    try:
        parsed = parse_leaf(leaf)
    except LeafError as e:
        bad(f"team leaf: {e}")
        return done(info)
    entry = parsed.parsed_entry
    if entry is None or parsed.entry is None or parsed.signature is None:
        bad(f"the team leaf is a {parsed.kind}, not this bundle's ingest entry")
        return done(info)
    info.update(recorded_by=entry.actor_name, entry_time=entry.time, ledger=parsed.ledger)
    if entry.action != "ingest":
        bad(f"the team leaf records '{entry.action}', not this bundle's ingest")
    if entry.subject.get("statement_sha256") != statement_sha256:
        bad("the team leaf is for another statement")
    if entry.subject.get("bundle_id") != bundle_id:
        bad("the team leaf is for another bundle")
    if not signature_is_valid(entry.actor_key, parsed.signature, parsed.entry):
        bad("the officer's signature on the team leaf does not verify")
    if signer_key is not None and raw_public_key(entry.actor_key) != raw_public_key(signer_key):
        bad("the team leaf was not made by the bundle's signer")
    inclusion = check_inclusion(
        claim, checkpoint_name="team checkpoint", log_name="log", item_name="leaf"
    )
    cp = inclusion.checkpoint
    if cp is None:
        bad(str(inclusion.unreadable))
        return done(info)
    info["checkpoint"] = claim.note.decode("utf-8")
    if inclusion.other_log is not None:
        bad("the " + inclusion.other_log)
    if inclusion.not_included is not None:
        bad(inclusion.not_included)
    trusted = None
    for key in team_keys:
        kid = key_id(cp.origin, key.public_key)
        if not any(name == cp.origin and k == kid for name, k, _ in cp.signatures):
            continue
        if checkpoint_signed_by(cp, key.public_key):
            trusted = key.name
        else:
            bad(f"the team checkpoint's signature by {key.name} does not verify")
    info["trusted_team"] = trusted
    warnings: tuple[str, ...] = ()
    if trusted is None and not problems:
        warnings = (
            f"the team proof ({origin}) is signed by no team key you trust: "
            "use --team-key TEAM.pub, or join the team",
        )
    return done(info, warnings)
