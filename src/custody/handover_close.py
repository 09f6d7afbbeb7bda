"""Closing a hand-over in the sender's copy of a bundle.

`custody transfer` writes the transfer into the sender's copy; the receiver
countersigns their own copy (`custody receive`). Until the receipt is brought
back, the sender's copy ends with an open hand-over. The receiver exports the
receipt as one file (`custody receive --export-receipt`), and the sender brings
it back (`custody transfer --close BUNDLE --receipt FILE`): the receipt is
checked in full (bundle/receipt_file.py) before anything is written, then
recorded in the sender's ledger and stored in the bundle the way every
hand-over record is (locked, no temporary file inside the bundle).

The team log cannot stand in for the file: it holds the receiver's ledger
entry, which names the receipt's digest but not the receipt's bytes nor its
own signature (docs/ledger.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .actions import _now
from .bundle.chain import RECEIPT_FORMAT, ChainState, load_record, record_paths
from .bundle.reader import scan_bundle
from .bundle.receipt_file import (
    MAX_RECEIPT_FILE,
    check_receipt,
    read_receipt_file,
    receipt_file_bytes,
)
from .errors import InputError
from .fsutil import environment_error, write_new_file
from .handover import HandOverResult, store_record, verified_chain
from .hashing import sha256_bytes
from .keys import Signer
from .ledger.store import Ledger
from .policy import TrustPolicy


def check_export_target(out: Path) -> None:
    """Refuse an export path that exists or whose folder does not."""
    if out.exists() or out.is_symlink():
        raise InputError("already exists; choose another name for the receipt file", path=str(out))
    if not out.parent.is_dir():
        raise InputError("no such folder for the receipt file", path=str(out.parent))


def write_receipt_file(bundle: Path, sequence: int, out: Path) -> None:
    """Write receipt `sequence` of `bundle` (record and signature) to `out`, a new file."""
    tags = scan_bundle(bundle, hash_payload=False).tag_bytes
    r_json, r_sig = record_paths(sequence, "receipt")
    if r_json not in tags or r_sig not in tags:
        raise InputError(f"hand-over {sequence} has no receipt in this bundle", path=str(bundle))
    try:
        write_new_file(out, receipt_file_bytes(tags[r_json], tags[r_sig]))
    except FileExistsError as e:
        raise InputError("already exists; choose another name", path=str(out)) from e
    except OSError as e:
        raise environment_error(e, out) from e


def export_last_receipt(
    *, bundle: Path, state: ChainState, signer: Signer, out: Path
) -> HandOverResult:
    """Export the newest receipt of a bundle already verified, when `signer` signed it."""
    last = state.next_sequence - 1
    tags = scan_bundle(bundle, hash_payload=False).tag_bytes
    r_json, _ = record_paths(last, "receipt")
    receipt = load_record(tags.get(r_json, b""), RECEIPT_FORMAT) if last >= 1 else None
    by = (receipt or {}).get("by") or {}
    if receipt is None or by.get("fingerprint") != signer.fingerprint:
        raise InputError(
            "no hand-over to your key is waiting in this bundle, and its last receipt "
            "is not yours: nothing to receive or export",
            path=str(bundle),
        )
    write_receipt_file(bundle, last, out)
    sender: dict[str, Any] = next(
        (s.get("by", {}) for s in reversed(state.timeline) if s.get("event") == "transfer"), {}
    )
    return HandOverResult(str(bundle), "export", last, r_json, None, sender, str(out))


def close_handover(
    *,
    home: Path,
    bundle: Path,
    receipt_file: Path,
    signer: Signer,
    policy: TrustPolicy | None = None,
) -> HandOverResult:
    """Bring the receiver's receipt back into this copy of `bundle`: verify the
    bundle, check the receipt in full against its open hand-over, record it in
    the ledger, then store it. Nothing is written unless every check passes.
    Raises VerificationFailed, InputError."""
    try:
        if receipt_file.stat().st_size > MAX_RECEIPT_FILE:
            raise InputError("not a custody receipt file (too large)", path=str(receipt_file))
        data = receipt_file.read_bytes()
    except OSError as e:
        raise InputError(
            f"cannot read the receipt file ({e.strerror})", path=str(receipt_file)
        ) from e
    parsed = read_receipt_file(data)
    if isinstance(parsed, str):
        raise InputError(parsed, path=str(receipt_file))
    record, signature = parsed
    statement, stmt_sha, state = verified_chain(
        home=home, bundle=bundle, refusal="not closing its hand-over", policy=policy
    )
    tags = scan_bundle(bundle, hash_payload=False).tag_bytes
    refusal = check_receipt(
        tags, state, record, signature, statement=statement, statement_sha256=stmt_sha
    )
    if refusal is not None:
        raise InputError(f"receipt refused, nothing written: {refusal}", path=str(receipt_file))
    open_ = state.open_handover
    assert open_ is not None  # check_receipt refuses a chain with nothing open
    sequence = int(open_["sequence"])
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action="handover-close",
            subject={
                "bundle_id": statement.get("bundle_id"),
                "case": statement.get("case"),
                "statement_sha256": stmt_sha,
                "sequence": sequence,
                "transfer_sha256": open_["transfer_sha256"],
                "receipt_sha256": sha256_bytes(record),
                "by": open_["to"],
            },
            signer=signer.key,
            signer_name=signer.name,
            time=_now(),
        )
    json_path, sig_path = record_paths(sequence, "receipt")
    store_record(bundle, json_path, sig_path, record, signature)
    return HandOverResult(
        str(bundle), "close", sequence, json_path, appended.index, open_["to"], str(receipt_file)
    )


__all__ = ["check_export_target", "close_handover", "export_last_receipt", "write_receipt_file"]
