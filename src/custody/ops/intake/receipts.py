"""Operations on receipts: verify one (offline), and prove that the unit's
ledger still holds one (a later inclusion proof, made where the ledger is)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.base.errors import EnvironmentFailure, InputError
from custody.base.fsutil import environment_error
from custody.intake.receipt import ReceiptError, ReceiptReport, check_receipt, parse_receipt
from custody.io.ledger_store import Ledger
from custody.ledger.proof import PROOF_FORMAT
from custody.policy import TrustPolicy
from custody.tlog.inclusion import proof_doc_bytes
from custody.tlog.note import NoteError, parse_checkpoint

LATER_FORMAT = PROOF_FORMAT


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {what} ({e.strerror})", path=str(path)) from e


def _hash_folder(folder: Path) -> list[tuple[str, int]]:
    if not folder.is_dir():
        raise InputError("not a folder", path=str(folder))
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            h = hashlib.sha256()
            size = 0
            try:
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
                        size += len(chunk)
            except OSError as e:
                raise EnvironmentFailure(f"cannot read ({e.strerror})", path=str(path)) from e
            out.append((h.hexdigest(), size))
    return out


def verify_receipt(
    *,
    home: Path,
    receipt: Path,
    policy: TrustPolicy,
    files: Path | None = None,
    against: Path | None = None,
    now: datetime | None = None,
) -> ReceiptReport:
    """Check a receipt file; `files`: a folder that must hold exactly the
    bytes received; `against`: a later proof (`custody receipt prove`) or a
    later checkpoint of a ledger this home holds. Raises InputError for a file
    that is not a receipt (exit 2); problems are in the report (exit 1)."""
    try:
        parsed = parse_receipt(_read(receipt, "the receipt"))
    except ReceiptError as e:
        raise InputError(str(e), path=str(receipt)) from e
    found = _hash_folder(files) if files is not None else None
    later = None
    if against is not None:
        later = _later_proof(
            home, parsed.payload.get("ledger") or {}, _read(against, "FILE"), against
        )
    return check_receipt(
        parsed, policy, now=now or datetime.now(UTC), files=found, later_proof=later
    )


def _later_proof(home: Path, ledger: dict[str, Any], data: bytes, path: Path) -> dict[str, Any]:
    """A later proof file as it is, or one made from a checkpoint and this home's ledger."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if isinstance(doc, dict) and doc.get("format") == LATER_FORMAT:
            return doc
    except ValueError:
        pass
    try:
        cp = parse_checkpoint(data)
    except NoteError as e:
        raise InputError(
            "neither a later proof ('custody receipt prove') nor a checkpoint", path=str(path)
        ) from e
    if not Ledger.exists(home):
        raise InputError(
            "a checkpoint alone needs the unit's ledger: use 'custody receipt prove'",
            path=str(path),
        )
    with Ledger.open(home, create=False) as store:
        if store.origin != cp.origin:
            raise InputError(
                "the checkpoint is of another ledger than this home's: use "
                "'custody receipt prove' where that ledger is",
                path=str(path),
            )
        index = int(ledger.get("leaf_index", -1))
        if not 0 <= index < cp.size <= store.size():
            raise InputError("the checkpoint does not reach the receipt's entry", path=str(path))
        entry = store.entry_bytes(index) or b""
        proof = store.inclusion_proof(index, cp.size)
    return {
        "format": LATER_FORMAT,
        "origin": cp.origin,
        "leaf_index": index,
        "tree_size": cp.size,
        "entry": entry.decode("utf-8"),
        "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
        "checkpoint": data.decode("utf-8"),
    }


@dataclass(frozen=True)
class ProveResult:
    tree_size: int
    data: bytes

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.data)
        return doc


def prove_receipt(*, home: Path, receipt: Path, out: Path | None = None) -> ProveResult:
    """A later proof that this home's ledger still holds the receipt's entry,
    into the latest checkpoint (verified by the ledger before it is used)."""
    try:
        parsed = parse_receipt(_read(receipt, "the receipt"))
    except ReceiptError as e:
        raise InputError(str(e), path=str(receipt)) from e
    ledger = parsed.payload.get("ledger") or {}
    if not Ledger.exists(home):
        raise InputError("no ledger in this custody home")
    with Ledger.open(home, create=False) as store:
        store.ensure_intact()
        checkpoint = store.latest_checkpoint()
        if checkpoint is None or store.origin != ledger.get("origin"):
            raise InputError("the receipt's entry is not in this home's ledger")
        size = parse_checkpoint(checkpoint).size
        index = int(ledger.get("leaf_index", -1))
        entry = store.entry_bytes(index)
        if entry is None or entry.decode("utf-8") != ledger.get("entry"):
            raise InputError("this ledger does not hold the receipt's entry", path=str(receipt))
        doc = {
            "format": LATER_FORMAT,
            "origin": store.origin,
            "leaf_index": index,
            "tree_size": size,
            "entry": entry.decode("utf-8"),
            "signature": ledger.get("signature"),
            "inclusion_proof": [
                base64.b64encode(h).decode() for h in store.inclusion_proof(index, size)
            ],
            "checkpoint": checkpoint.decode("utf-8"),
        }
    data = proof_doc_bytes(doc)
    if out is not None:
        from custody.base.fsutil import replace_file

        try:
            replace_file(out, data)
        except OSError as e:
            raise environment_error(e, out) from e
    return ProveResult(size, data)
