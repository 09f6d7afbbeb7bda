"""A receipt as one portable file, and the checks before it is brought back.

After a hand-over the receiver countersigns THEIR copy of the bundle; the
sender's copy still ends with the transfer (an open hand-over). The receiver
exports the receipt (`custody receive --export-receipt`): the receipt record's
exact bytes and its detached signature, in one JSON file. The sender brings it
back (`custody transfer --close`) only after `check_receipt` has found that it
is signed by the receiver the transfer named and countersigns exactly the open
transfer of this bundle. Pure: bytes in, a reason or None out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from custody.base.signing import signature_is_valid
from custody.bundle.format.chain import (
    RECEIPT_FORMAT,
    ChainState,
    key_of,
    label,
    load_record,
    record_paths,
    verify_chain,
)

RECEIPT_FILE_FORMAT = "custody/receipt-file/v1"
MAX_RECEIPT_FILE = 64 * 1024
"""A receipt file holds one small record and a 64-byte signature."""


def receipt_file_bytes(record: bytes, signature: bytes) -> bytes:
    """The portable receipt file: the record's exact bytes and its signature, base64."""
    doc = {
        "format": RECEIPT_FILE_FORMAT,
        "record": base64.b64encode(record).decode("ascii"),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("ascii")


def read_receipt_file(data: bytes) -> tuple[bytes, bytes] | str:
    """(record bytes, signature bytes), or why `data` is not a receipt file."""
    if len(data) > MAX_RECEIPT_FILE:
        return "not a custody receipt file (too large)"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "not a custody receipt file (not JSON)"
    if not isinstance(doc, dict) or doc.get("format") != RECEIPT_FILE_FORMAT:
        return f"not a custody receipt file (format is not {RECEIPT_FILE_FORMAT})"
    try:
        record = base64.b64decode(str(doc.get("record")), validate=True)
        signature = base64.b64decode(str(doc.get("signature")), validate=True)
    except (binascii.Error, ValueError):
        return "not a custody receipt file (record or signature is not base64)"
    return record, signature


def check_receipt(
    tag_bytes: Mapping[str, bytes],
    state: ChainState,
    record: bytes,
    signature: bytes,
    *,
    statement: dict[str, Any],
    statement_sha256: str,
) -> str | None:
    """Why `record` (signed `signature`) cannot close the open hand-over of this
    bundle, or None when it can: a canonical receipt of this bundle and statement,
    for the open transfer's digest and number, by the receiver the transfer named,
    whose signature verifies; and the chain with it added has no problem and no
    open hand-over left."""
    open_ = state.open_handover
    if open_ is None or state.pending_transfer is None:
        return "this copy has no open hand-over: there is nothing to close"
    r = load_record(record, RECEIPT_FORMAT)
    if r is None:
        return "the receipt record is not a canonical receipt (edited?)"
    if r.get("bundle_id") != statement.get("bundle_id") or (
        r.get("statement_sha256") != statement_sha256
    ):
        return f"the receipt is for another bundle ({r.get('bundle_id')}), not this one"
    transfer_sha = hashlib.sha256(state.pending_transfer).hexdigest()
    if r.get("transfer_sha256") != transfer_sha or r.get("sequence") != open_["sequence"]:
        return (
            f"the receipt countersigns another hand-over (number {r.get('sequence')}), "
            f"not the open one (number {open_['sequence']}, {open_['time']})"
        )
    by: dict[str, Any] = r["by"] if isinstance(r.get("by"), dict) else {}
    if by.get("fingerprint") != state.pending_to:
        return (
            f"the receipt is signed by {label(by)}, not by the named receiver {label(open_['to'])}"
        )
    key = key_of(by)
    if key is None or not signature_is_valid(key, signature, record):
        return "the receipt's signature does not verify (forged or edited)"
    r_json, r_sig = record_paths(int(open_["sequence"]), "receipt")
    after = verify_chain(
        {**tag_bytes, r_json: record, r_sig: signature},
        statement=statement,
        statement_sha256=statement_sha256,
    )
    if after.problems or after.open_handover is not None:
        first = after.problems[0].line() if after.problems else "the hand-over stays open"
        return f"the chain of custody would not check out with this receipt: {first}"
    return None
