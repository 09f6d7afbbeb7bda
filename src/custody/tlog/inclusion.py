"""An inclusion proof as custody stores it in a bundle, and its check: the one
core under the ledger proof (custody/ledger-proof.json, ledger/proof.py) and
the team proof (custody/team-proof.json, bundle/verify/team_proof.py).

A proof document is JSON in one spelling (`proof_doc_bytes`): the logged item
(`leaf_field`: the ledger's "entry", the team log's "leaf"), its `leaf_index`,
the `tree_size` and `inclusion_proof` (base64 hashes) to the `checkpoint` of log
`origin`. `read_claim` reads it; `check_inclusion` checks that the checkpoint
is for that log at that size and that the path leads from the item to its root.
Who signed the checkpoint is the caller's question (the ledger: the bundle's
signer; the team log: a team key the verifier chose). Pure.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from custody.base.bytediff import describe_difference
from custody.tlog import merkle
from custody.tlog.note import Checkpoint, NoteError, parse_checkpoint


class ClaimError(ValueError):
    """The document is not a proof of this kind, or is malformed."""


@dataclass(frozen=True)
class InclusionClaim:
    """What a proof document claims: `item` is at `index` of `origin`'s tree of
    `size`, whose checkpoint is `note`."""

    doc: dict[str, Any]
    item: bytes
    index: int
    size: int
    path: tuple[bytes, ...]
    note: bytes
    origin: str


def proof_doc_bytes(doc: dict[str, Any]) -> bytes:
    """The one spelling of a proof document custody writes: JSON, two-space
    indent, sorted keys, UTF-8, one final newline."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def read_claim(
    data: bytes, *, proof_format: str, leaf_field: str, kind: str, malformed: str
) -> InclusionClaim:
    """Read a proof document of format `proof_format`. Raises ClaimError naming
    what is wrong: 'not a custody {kind}', 'malformed {malformed} (...)', or
    integers that are not integers."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != proof_format:
            raise ClaimError(f"not a custody {kind}")
        item = str(doc[leaf_field]).encode("utf-8")
        index, size = doc["leaf_index"], doc["tree_size"]
        path = tuple(base64.b64decode(h, validate=True) for h in doc["inclusion_proof"])
        note = str(doc["checkpoint"]).encode("utf-8")
        origin = str(doc["origin"])
    except ClaimError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        # ValueError covers bad UTF-8, bad JSON, bad base64 and non-ASCII base64 text.
        raise ClaimError(f"malformed {malformed} ({e.__class__.__name__})") from e
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, size)):
        raise ClaimError("leaf_index and tree_size must be integers")
    return InclusionClaim(doc, item, index, size, path, note, origin)


def spelling_difference(data: bytes, claim: InclusionClaim) -> str | None:
    """How `data` differs from custody's one spelling of the same document (the
    file is not signed as a whole, so any other spelling is named); None when
    it is custody's."""
    try:
        canonical = proof_doc_bytes(claim.doc)
    except ValueError:  # a float that JSON cannot write back, such as NaN
        canonical = b""
    return describe_difference(data, canonical)


@dataclass(frozen=True)
class InclusionCheck:
    """The checkpoint as parsed (None when it is not one, `unreadable` says why),
    and what is wrong with the claim, in words (None: nothing)."""

    checkpoint: Checkpoint | None
    unreadable: str | None = None
    other_log: str | None = None
    """The checkpoint is for another log, or another tree size."""
    not_included: str | None = None
    """The inclusion path does not lead from the item to the checkpoint's root."""


def check_inclusion(
    claim: InclusionClaim, *, checkpoint_name: str, log_name: str, item_name: str
) -> InclusionCheck:
    """That the claim's checkpoint parses, is for the claimed log and size, and
    that the inclusion path leads from the item to its root. The names word the
    problems ('checkpoint' / 'ledger' / 'entry' for the ledger)."""
    try:
        cp = parse_checkpoint(claim.note)
    except NoteError as e:
        return InclusionCheck(None, unreadable=f"{checkpoint_name}: {e}")
    other = None
    if cp.origin != claim.origin or cp.size != claim.size:
        other = f"{checkpoint_name} is for another {log_name} or tree size"
    missing = None
    leaf = merkle.leaf_hash(claim.item)
    if not merkle.verify_inclusion(leaf, claim.index, claim.size, claim.path, cp.root):
        missing = (
            f"inclusion proof does not lead to the {checkpoint_name}'s root "
            f"({item_name} {claim.index} of {claim.size})"
        )
    return InclusionCheck(cp, other_log=other, not_included=missing)
