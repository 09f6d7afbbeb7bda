"""The proof a bundle carries of its ledger entry: the entry, its signature, an
RFC 9162 inclusion proof and the signed checkpoint it leads to.

The file is outside the signed statement but authenticates itself: the entry is
signed by the bundle's signer and names the statement's digest, and the
checkpoint is signed by the same key. Checking it needs no ledger.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.bytediff import describe_difference
from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.ledger.rows import Appended
from custody.tlog import merkle
from custody.tlog.entries import EntryError, parse_entry, raw_public_key
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint

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


def proof_doc_bytes(doc: dict[str, Any]) -> bytes:
    """The one spelling of a proof document custody writes: JSON, two-space
    indent, sorted keys, UTF-8, one final newline."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


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
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != PROOF_FORMAT:
            return fail("not a custody ledger proof")
        entry = str(doc["entry"]).encode("utf-8")
        signature = base64.b64decode(doc["signature"], validate=True)
        index = doc["leaf_index"]
        size = doc["tree_size"]
        path = [base64.b64decode(h, validate=True) for h in doc["inclusion_proof"]]
        note = str(doc["checkpoint"]).encode("utf-8")
        origin = str(doc["origin"])
    except (KeyError, TypeError, ValueError) as e:
        # ValueError covers bad UTF-8, bad JSON, bad base64 and non-ASCII base64 text.
        return fail(f"malformed proof file ({e.__class__.__name__})")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, size)):
        return fail("leaf_index and tree_size must be integers")
    problems: list[Problem] = []

    def bad(detail: str) -> None:
        problems.append(Problem("bad_ledger_proof", PROOF_PATH, detail))

    # The file is not signed as a whole: any spelling but custody's own is named.
    try:
        canonical = proof_doc_bytes(doc)
    except ValueError:  # a float that JSON cannot write back, such as NaN
        canonical = b""
    difference = describe_difference(data, canonical)
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
    try:
        cp = parse_checkpoint(note)
    except NoteError as e:
        bad(f"checkpoint: {e}")
        return ProofCheck(tuple(problems), origin, index, size, entry)
    if cp.origin != origin or cp.size != size:
        bad("checkpoint is for another ledger or tree size")
    if not checkpoint_signed_by(cp, parsed.actor_key):
        bad("checkpoint is not validly signed by the bundle's signer")
    if not merkle.verify_inclusion(merkle.leaf_hash(entry), index, size, path, cp.root):
        bad(f"inclusion proof does not lead to the checkpoint's root (entry {index} of {size})")
    return ProofCheck(
        tuple(problems),
        origin,
        index,
        size,
        entry,
        cp.root,
        note.decode("utf-8"),
        {"entry_time": parsed.time, "recorded_by": parsed.actor_name},
    )
