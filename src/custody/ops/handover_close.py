"""Closing a hand-over in the sender's copy of a bundle.

`custody transfer` writes the transfer into the sender's copy; the receiver
countersigns their own copy (`custody receive`). Until the receipt is brought
back, the sender's copy ends with an open hand-over. The receiver exports the
receipt as one file (`custody receive --export-receipt`), and the sender brings
it back (`custody transfer --close BUNDLE --receipt FILE`): the receipt is
checked in full (bundle/format/receipt_file.py) before anything is written, then
recorded in the sender's ledger and stored in the bundle the way every
hand-over record is (locked, no temporary file inside the bundle).

The team log cannot stand in for the file: it holds the receiver's ledger
entry, which names the receipt's digest but not the receipt's bytes nor its
own signature (docs/ledger.md).
"""

from __future__ import annotations

from pathlib import Path

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.base.keys import Signer
from custody.base.utc import utc_now_text
from custody.bundle.format.chain import record_paths
from custody.bundle.format.receipt_file import MAX_RECEIPT_FILE, check_receipt, read_receipt_file
from custody.bundle.read.reader import scan_bundle
from custody.io.ledger_store import Ledger
from custody.ops.handover import HandOverResult, store_record, verified_chain
from custody.policy import TrustPolicy


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
            time=utc_now_text(),
        )
    json_path, sig_path = record_paths(sequence, "receipt")
    store_record(bundle, json_path, sig_path, record, signature)
    return HandOverResult(
        str(bundle), "close", sequence, json_path, appended.index, open_["to"], str(receipt_file)
    )


__all__ = ["close_handover"]
