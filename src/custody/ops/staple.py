"""Stapling: refresh the ledger proof inside a bundle folder so that it leads
to the newest cosigned checkpoint of the ledger (docs/ledger.md, "Witnesses").

The new custody/ledger-proof.json proves the same entry (same bytes, same
signature) in a larger tree whose checkpoint carries witness cosignatures.
It replaces the old file atomically (temporary file, fsync, rename, fsync
of the folder), then the tag manifest is updated the same way. A crash
between the two renames leaves a proof the tag manifest does not list
with its new digest; running `custody ledger staple` again repairs it
(the proof authenticates itself, and is checked before the manifest is
rewritten).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.bundle.amend.tagwrite import (
    bundle_lock,
    read_tag_manifest,
    replace_in_bundle,
    write_tag_manifest,
)
from custody.bundle.format import layout
from custody.io.ledger_store import Ledger
from custody.ledger.proof import PROOF_FORMAT, PROOF_PATH, check_proof
from custody.ledger.rows import Appended
from custody.tlog.cosignature import WitnessKey, check_cosignatures
from custody.tlog.entries import EntryError, parse_entry
from custody.tlog.inclusion import proof_doc_bytes
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint


@dataclass(frozen=True)
class StapleResult:
    bundle: str
    changed: bool
    old_tree_size: int
    tree_size: int
    cosignatures: int
    ledger_index: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "changed": self.changed,
            "old_tree_size": self.old_tree_size,
            "tree_size": self.tree_size,
            "cosignatures": self.cosignatures,
            "ledger_index": self.ledger_index,
        }


def cosignature_count(note: bytes) -> int:
    try:
        cp = parse_checkpoint(note)
    except NoteError:
        return 0
    return sum(1 for name, _, _ in cp.signatures if name != cp.origin)


def newest_cosigned(
    ledger: Ledger,
    *,
    leaf_index: int,
    entry: bytes,
    actor_key: Ed25519PublicKey,
    witnesses: Sequence[WitnessKey] = (),
) -> tuple[int, bytes, list[bytes]] | None:
    """(size, cosigned checkpoint, inclusion proof) of the newest cosigned
    checkpoint that includes entry `leaf_index` (these exact bytes), is signed
    by `actor_key`, matches the ledger's tree at its size, and carries no
    cosignature claiming one of `witnesses` that fails (a forged line in the
    `cosigned` table would make the bundle fail for a court that chose them)."""
    if ledger.entry_bytes(leaf_index) != entry:
        return None
    for size in ledger.cosigned_sizes():
        if size <= leaf_index:
            break
        note = ledger.cosigned_checkpoint(size)
        if note is None:
            continue
        try:
            cp = parse_checkpoint(note)
        except NoteError:
            continue
        if cp.size != size or cp.origin != ledger.origin or not checkpoint_signed_by(cp, actor_key):
            continue
        if ledger.root(size) != cp.root:
            continue
        checks = check_cosignatures(cp, witnesses, now=int(time.time()))
        if any(c.status == "invalid" for c in checks):
            continue
        return size, note, ledger.inclusion_proof(leaf_index, size)
    return None


def with_newest_cosigned(
    ledger: Ledger, appended: Appended, *, witnesses: Sequence[WitnessKey] = ()
) -> Appended:
    """`appended` with the newest cosigned checkpoint that includes it, if any
    (checked as newest_cosigned does, against `witnesses`)."""
    try:
        actor = parse_entry(appended.entry).actor_key
    except EntryError:
        return appended
    found = newest_cosigned(
        ledger,
        leaf_index=appended.index,
        entry=appended.entry,
        actor_key=actor,
        witnesses=witnesses,
    )
    if found is None or found[0] < appended.tree_size:
        return appended
    size, note, proof = found
    return Appended(
        appended.index,
        appended.entry,
        appended.signature,
        size,
        note,
        tuple(proof),
        appended.origin,
    )


def _read(bundle: Path, rel: str) -> bytes:
    try:
        return (bundle / rel).read_bytes()
    except OSError as e:
        raise InputError(e.strerror or "cannot read", path=str(bundle / rel)) from e


def staple(
    *,
    bundle: Path,
    ledger: Ledger,
    record: Any = None,
    witnesses: Sequence[WitnessKey] = (),
) -> StapleResult:
    """Refresh BUNDLE's ledger proof from `ledger`. `record(subject)` is called
    (to append a 'staple' entry) before the bundle is changed and returns the
    entry's index. Cosigned checkpoints are checked as newest_cosigned does,
    against `witnesses`. Raises InputError when the bundle's entry is not in
    this ledger or no cosigned checkpoint includes it."""
    if not bundle.is_dir() or bundle.is_symlink():
        raise InputError(
            "stapling changes a bundle folder; unpack the archive first", path=str(bundle)
        )
    data = _read(bundle, PROOF_PATH)
    stmt = _read(bundle, layout.STATEMENT)
    try:
        doc = json.loads(data.decode("utf-8"))
        statement = json.loads(stmt.decode("utf-8"))
        entry = str(doc["entry"]).encode("utf-8")
        index = int(doc["leaf_index"])
        old_size = int(doc["tree_size"])
        origin = str(doc["origin"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise InputError(
            "the bundle's ledger proof is unreadable", path=str(bundle / PROOF_PATH)
        ) from e
    if doc.get("format") != PROOF_FORMAT:
        raise InputError("not a custody ledger proof", path=str(bundle / PROOF_PATH))
    check = check_proof(
        data,
        statement_sha256=sha256_bytes(stmt),
        bundle_id=str(statement.get("bundle_id")) if isinstance(statement, dict) else "",
        signer_key=None,
    )
    if check.problems:
        raise InputError(
            "the bundle's ledger proof does not check out: " + check.problems[0].detail,
            path=str(bundle / PROOF_PATH),
        )
    if origin != ledger.origin:
        raise InputError(
            f"the bundle was recorded in another ledger ({origin}); staple it where it was made",
            path=str(bundle),
        )
    actor = parse_entry(entry).actor_key
    found = newest_cosigned(
        ledger, leaf_index=index, entry=entry, actor_key=actor, witnesses=witnesses
    )
    if found is None:
        if ledger.entry_bytes(index) != entry:
            raise InputError(f"entry {index} of your ledger is not this bundle's", path=str(bundle))
        raise InputError(
            "no cosigned checkpoint includes this bundle's entry yet: run 'custody ledger witness'",
            path=str(bundle),
        )
    with bundle_lock(bundle):
        return _replace_proof(bundle, doc, data, statement, stmt, index, old_size, found, record)


def _replace_proof(
    bundle: Path,
    doc: dict[str, Any],
    data: bytes,
    statement: dict[str, Any],
    stmt: bytes,
    index: int,
    old_size: int,
    found: tuple[int, bytes, list[bytes]],
    record: Any,
) -> StapleResult:
    """Under the bundle's lock: the proof rewritten to lead to the cosigned
    checkpoint `found`, unless the bundle already carries as good a one."""
    size, note, proof = found
    listed = read_tag_manifest(bundle)
    current = str(doc.get("checkpoint", "")).encode("utf-8")
    if size < old_size or (
        size == old_size and cosignature_count(note) <= cosignature_count(current)
    ):
        if listed.get(PROOF_PATH) != sha256_bytes(data):  # a crash between the two renames
            listed[PROOF_PATH] = sha256_bytes(data)
            write_tag_manifest(bundle, listed)
        return StapleResult(
            str(bundle), False, old_size, old_size, cosignature_count(current), None
        )
    doc.update(
        {
            "tree_size": size,
            "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
            "checkpoint": note.decode("utf-8"),
        }
    )
    new = proof_doc_bytes(doc)
    index_recorded = None
    if record is not None:
        index_recorded = record(
            {
                "bundle_id": statement.get("bundle_id"),
                "case": statement.get("case"),
                "statement_sha256": sha256_bytes(stmt),
                "leaf_index": index,
                "tree_size": size,
                "proof_sha256": sha256_bytes(new),
            }
        )
    replace_in_bundle(bundle, PROOF_PATH, new)
    listed[PROOF_PATH] = sha256_bytes(new)
    write_tag_manifest(bundle, listed)
    return StapleResult(str(bundle), True, old_size, size, cosignature_count(note), index_recorded)
