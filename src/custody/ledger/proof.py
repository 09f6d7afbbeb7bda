"""The proof a bundle carries of its ledger entry: the entry, its signature, an
RFC 9162 inclusion proof and the signed checkpoint it leads to.

The file is outside the signed statement but authenticates itself: the entry is
signed by the bundle's signer and names the statement's digest, and the
checkpoint is signed by the same key. Checking it needs no ledger.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.ledger.rows import Appended
from custody.tlog.entries import EntryError, parse_entry, raw_public_key
from custody.tlog.inclusion import (
    ClaimError,
    check_inclusion,
    proof_doc_bytes,
    read_claim,
    spelling_difference,
)
from custody.tlog.note import checkpoint_signed_by

PROOF_FORMAT = "custody/ledger-proof/v1"
PROOF_PATH = "custody/ledger-proof.json"


def proof_file_bytes(appended: Appended) -> bytes:
    """The bytes of custody/ledger-proof.json for an append."""
    doc = {
        "format": PROOF_FORMAT,
        "origin": appended.origin,
        "leaf_index": appended.index,
        "tree_size": appended.tree_size,
        "entry": appended.entry.decode("utf-8"),
        "signature": base64.b64encode(appended.signature).decode(),
        "inclusion_proof": [base64.b64encode(h).decode() for h in appended.inclusion_proof],
        "checkpoint": appended.checkpoint.decode("utf-8"),
    }
    return proof_doc_bytes(doc)


@dataclass(frozen=True)
class ProofCheck:
    """What checking a bundle's ledger proof found."""

    problems: tuple[Problem, ...]
    origin: str | None = None
    leaf_index: int | None = None
    tree_size: int | None = None
    entry: bytes | None = None
    root: bytes | None = None
    checkpoint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            **self.details,
        }


def check_proof(
    data: bytes,
    *,
    statement_sha256: str,
    bundle_id: str,
    signer_key: Ed25519PublicKey | None,
) -> ProofCheck:
    """Check a proof file offline. `signer_key` is the bundle signer's key as
    established by the verifier's trust (None when untrusted: then only the
    internal consistency is checked and the proof cannot count)."""

    def fail(detail: str) -> ProofCheck:
        return ProofCheck((Problem("bad_ledger_proof", PROOF_PATH, detail),))

    try:
        claim = read_claim(
            data,
            proof_format=PROOF_FORMAT,
            leaf_field="entry",
            kind="ledger proof",
            malformed="proof file",
        )
        signature = base64.b64decode(claim.doc["signature"], validate=True)
    except ClaimError as e:
        return fail(str(e))
    except (KeyError, TypeError, ValueError) as e:
        return fail(f"malformed proof file ({e.__class__.__name__})")
    entry, index, size, origin = claim.item, claim.index, claim.size, claim.origin
    problems: list[Problem] = []

    def bad(detail: str) -> None:
        problems.append(Problem("bad_ledger_proof", PROOF_PATH, detail))

    difference = spelling_difference(data, claim)
    if difference is not None:
        problems.append(Problem("bad_tag_format", PROOF_PATH, difference))

    try:
        parsed = parse_entry(entry)
    except EntryError as e:
        return fail(f"ledger entry: {e}")
    if parsed.action != "ingest":
        bad(f"ledger entry records '{parsed.action}', not this bundle's ingest")
    if parsed.subject.get("statement_sha256") != statement_sha256:
        bad("ledger entry is for another statement")
    if parsed.subject.get("bundle_id") != bundle_id:
        bad("ledger entry is for another bundle")
    if parsed.index != index:
        bad(f"ledger entry says index {parsed.index}, proof says {index}")
    if not signature_is_valid(parsed.actor_key, signature, entry):
        bad("ledger entry signature does not verify")
    if signer_key is not None and raw_public_key(parsed.actor_key) != raw_public_key(signer_key):
        bad("ledger entry was not made by the bundle's signer")
    inclusion = check_inclusion(
        claim, checkpoint_name="checkpoint", log_name="ledger", item_name="entry"
    )
    cp = inclusion.checkpoint
    if cp is None:
        bad(str(inclusion.unreadable))
        return ProofCheck(tuple(problems), origin, index, size, entry)
    if inclusion.other_log is not None:
        bad(inclusion.other_log)
    if not checkpoint_signed_by(cp, parsed.actor_key):
        bad("checkpoint is not validly signed by the bundle's signer")
    if inclusion.not_included is not None:
        bad(inclusion.not_included)
    return ProofCheck(
        tuple(problems),
        origin,
        index,
        size,
        entry,
        cp.root,
        claim.note.decode("utf-8"),
        {"entry_time": parsed.time, "recorded_by": parsed.actor_name},
    )
