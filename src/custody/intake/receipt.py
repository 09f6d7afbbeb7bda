"""The witness's receipt: its one signed-bytes function, its file format and
its checks. Pure: bytes, a TrustPolicy and "now" in, a ReceiptReport out.

A receipt file (docs/intake.md, "The receipt") is JSON:
    {"format": "custody/intake-receipt-file/v1", "signed": "<RFC 8785 text>",
     "signature": "<base64 Ed25519>", "timestamp": "<base64 DER>" | null,
     "code": "word-word-word-word"}
`signed` is, byte for byte as UTF-8, what the intake key signed; the
timestamp stamps the signature's 64 bytes; the code is derived from `signed`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.keys import fingerprint_of
from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.intake.codes import normalise_code, short_code
from custody.ledger.proof import PROOF_FORMAT, check_proof
from custody.policy import TrustPolicy
from custody.register.rule import ProvenTime, judge
from custody.tlog import merkle
from custody.tlog.entries import EntryError, is_canonical, parse_entry, raw_public_key
from custody.tlog.inclusion import proof_doc_bytes
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint
from custody.tsa.token import TRUSTED, check_token, iso_utc

RECEIPT_FORMAT = "custody/intake-receipt/v1"
RECEIPT_FILE_FORMAT = "custody/intake-receipt-file/v1"
MAX_RECEIPT_BYTES = 16 * 1024 * 1024
RECEIPT = "receipt"


class ReceiptError(ValueError):
    """Not a receipt custody could read (the file, not its truth)."""


@dataclass(frozen=True)
class ReceivedFile:
    sha256: str
    size: int
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sha256": self.sha256, "size": self.size}
        if self.name is not None:
            out["name"] = self.name
        return out


def files_merkle_root(files: Sequence[ReceivedFile]) -> str:
    """RFC 9162 Merkle tree root (hex) whose leaves are the files' raw 32-byte
    SHA-256 digests, in the receipt's order: SHA-256(0x00 || digest) each."""
    leaves = [merkle.leaf_hash(bytes.fromhex(f.sha256)) for f in files]
    return merkle.root_from_leaves(leaves).hex()


def receipt_payload(
    *,
    case: str,
    submission: str,
    received: str,
    signer_name: str,
    public_key: Ed25519PublicKey,
    files: Sequence[ReceivedFile],
    bundle_id: str,
    statement_sha256: str,
    ledger_proof: dict[str, Any],
) -> dict[str, Any]:
    """What the intake key signs (docs/intake.md)."""
    return {
        "format": RECEIPT_FORMAT,
        "case": case,
        "submission": submission,
        "received": received,
        "signer": {
            "name": signer_name,
            "fingerprint": fingerprint_of(public_key),
            "public_key": base64.b64encode(raw_public_key(public_key)).decode(),
        },
        "files": [f.to_json() for f in files],
        "file_count": len(files),
        "bytes": sum(f.size for f in files),
        "merkle_root": files_merkle_root(files),
        "bundle_id": bundle_id,
        "statement_sha256": statement_sha256,
        "ledger": {k: v for k, v in ledger_proof.items() if k != "format"},
    }


def receipt_signed_bytes(payload: dict[str, Any]) -> bytes:
    """The one byte representation that is signed: RFC 8785 canonical JSON."""
    return bytes(rfc8785.dumps(payload))


def receipt_file_bytes(*, signed: bytes, signature: bytes, timestamp: bytes | None) -> bytes:
    """The receipt file: JSON, two-space indent, sorted keys, one final newline."""
    doc = {
        "format": RECEIPT_FILE_FORMAT,
        "signed": signed.decode("utf-8"),
        "signature": base64.b64encode(signature).decode(),
        "timestamp": None if timestamp is None else base64.b64encode(timestamp).decode(),
        "code": short_code(signed),
    }
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class ParsedReceipt:
    signed: bytes
    payload: dict[str, Any]
    signature: bytes
    timestamp: bytes | None
    code: str
    public_key: Ed25519PublicKey
    files: tuple[ReceivedFile, ...]


def _files(payload: dict[str, Any]) -> tuple[ReceivedFile, ...]:
    out = []
    for f in payload["files"]:
        sha, size, name = f["sha256"], f["size"], f.get("name")
        if not (isinstance(sha, str) and len(sha) == 64 and isinstance(size, int)):
            raise ReceiptError("a file entry is malformed")
        bytes.fromhex(sha)
        out.append(ReceivedFile(sha, size, None if name is None else str(name)))
    return tuple(out)


def parse_receipt(data: bytes) -> ParsedReceipt:
    """Read a receipt file; ReceiptError for anything that is not one."""
    if len(data) > MAX_RECEIPT_BYTES:
        raise ReceiptError("too large for a receipt")
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != RECEIPT_FILE_FORMAT:
            raise ReceiptError("not a custody intake receipt")
        signed = str(doc["signed"]).encode("utf-8")
        signature = base64.b64decode(doc["signature"], validate=True)
        stamp = doc.get("timestamp")
        timestamp = None if stamp is None else base64.b64decode(stamp, validate=True)
        code = str(doc.get("code", ""))
        payload = json.loads(signed)
        if not isinstance(payload, dict) or payload.get("format") != RECEIPT_FORMAT:
            raise ReceiptError("the signed part is not a custody intake receipt")
        raw = base64.b64decode(payload["signer"]["public_key"], validate=True)
        public_key = Ed25519PublicKey.from_public_bytes(raw)
        files = _files(payload)
    except ReceiptError:
        raise
    except (KeyError, TypeError, ValueError, binascii.Error, AttributeError) as e:
        raise ReceiptError(f"malformed receipt ({e.__class__.__name__})") from e
    return ParsedReceipt(signed, payload, signature, timestamp, code, public_key, files)


@dataclass(frozen=True)
class ReceiptReport:
    """Everything checking a receipt found; `verified` when nothing is wrong."""

    problems: tuple[Problem, ...]
    code: str | None = None
    signer: dict[str, Any] = field(default_factory=dict)
    timestamp: dict[str, Any] | None = None
    ledger: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] | None = None
    later: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "code": self.code,
            "summary": self.summary,
            "signer": self.signer,
            "timestamp": self.timestamp,
            "ledger": self.ledger,
            "files": self.files,
            "later_checkpoint": self.later,
            "problems": [p.to_json() for p in self.problems],
        }


def check_receipt(
    parsed: ParsedReceipt,
    policy: TrustPolicy,
    *,
    now: datetime,
    files: Sequence[tuple[str, int]] | None = None,
    later_proof: dict[str, Any] | None = None,
) -> ReceiptReport:
    """Check a receipt offline: signature, the signer's trust (keys or a
    register, at the proven time), the timestamp, the files' Merkle root, the
    ledger inclusion proof, the code; optionally `files` (sha256, size) found
    on disk, and a later ledger proof of the same entry."""
    problems: list[Problem] = []

    def bad(kind: str, detail: str) -> None:
        problems.append(Problem(kind, RECEIPT, detail))

    payload = parsed.payload
    if not is_canonical(payload, parsed.signed):
        bad("bad_receipt_format", "the signed part is not RFC 8785 canonical JSON")
    fingerprint = fingerprint_of(parsed.public_key)
    if payload["signer"].get("fingerprint") != fingerprint:
        bad("bad_receipt_format", "the signer's fingerprint is not its key's")
    signature_ok = signature_is_valid(parsed.public_key, parsed.signature, parsed.signed)
    if not signature_ok:
        bad("bad_signature", "the receipt's signature does not verify")
    if normalise_code(parsed.code) != short_code(parsed.signed):
        bad("bad_code", "the code is not this receipt's")

    stamp_json: dict[str, Any] | None = None
    proven: ProvenTime | None = None
    if parsed.timestamp is not None:
        token = check_token(
            parsed.timestamp, parsed.signature, policy.tsa_roots, subject="the receipt's signature"
        )
        stamp_json = token.to_json()
        if token.status == "invalid":
            bad("bad_timestamp", token.detail)
        elif token.status == TRUSTED and token.gen_time is not None:
            at = token.gen_time + (token.accuracy or token.gen_time - token.gen_time)
            proven = ProvenTime(at, token.tsa or "a trusted TSA")
            stamp_json["proves"] = iso_utc(at)

    signer = {
        "name": payload["signer"].get("name"),
        "fingerprint": fingerprint,
        "trusted": False,
        "key_status": None,
        "decided_by": None,
    }
    judged = judge(policy.registers, fingerprint, proven=proven, now=now, what="the receipt")
    if judged is not None:
        signer.update(
            register=judged.register.ref(),
            key_status=judged.decision.key_status,
            decided_by=judged.decision.decided_by,
            trusted=judged.decision.accepted,
        )
        if not judged.decision.accepted:
            bad("key_not_valid", judged.decision.decided_by)
    elif policy.key_for(fingerprint) is not None:
        signer.update(trusted=True, key_status="not_listed", decided_by="trusted directly")
    else:
        bad("untrusted_signer", f"the intake key {fingerprint[:16]}… is not trusted")

    if files_merkle_root(parsed.files) != payload.get("merkle_root"):
        bad("bad_merkle_root", "the Merkle root is not that of the files listed")
    if payload.get("file_count") != len(parsed.files) or payload.get("bytes") != sum(
        f.size for f in parsed.files
    ):
        bad("bad_receipt_format", "file_count or bytes disagree with the files listed")

    ledger = dict(payload.get("ledger") or {})
    try:
        doc = proof_doc_bytes({"format": PROOF_FORMAT, **ledger})
    except (TypeError, ValueError):
        doc = b""
    proof = check_proof(
        doc,
        statement_sha256=str(payload.get("statement_sha256")),
        bundle_id=str(payload.get("bundle_id")),
        signer_key=parsed.public_key,
    )
    for p in proof.problems:
        if p.kind != "bad_tag_format":
            bad("bad_ledger_proof", p.detail)
    ledger_json = {**proof.to_json(), "included": not proof.problems}

    files_json = None
    if files is not None:
        files_json = _compare_files(parsed.files, files, bad)
    later_json = None
    if later_proof is not None:
        later_json = _check_later(parsed, ledger, later_proof, policy, bad)

    return ReceiptReport(
        problems=tuple(problems),
        code=short_code(parsed.signed),
        signer=signer,
        timestamp=stamp_json,
        ledger=ledger_json,
        files=files_json,
        later=later_json,
        summary={
            "case": payload.get("case"),
            "submission": payload.get("submission"),
            "received": payload.get("received"),
            "file_count": len(parsed.files),
            "bytes": sum(f.size for f in parsed.files),
            "merkle_root": payload.get("merkle_root"),
            "bundle_id": payload.get("bundle_id"),
        },
    )


def _compare_files(
    listed: Sequence[ReceivedFile], found: Sequence[tuple[str, int]], bad: Any
) -> dict[str, Any]:
    want = Counter((f.sha256, f.size) for f in listed)
    have = Counter(found)
    missing = want - have
    extra = have - want
    for (sha, size), n in sorted(missing.items()):
        bad("missing_file", f"no file with SHA-256 {sha} ({size} bytes) found" + _times(n))
    for (sha, size), n in sorted(extra.items()):
        bad("extra_file", f"a file not in the receipt: SHA-256 {sha} ({size} bytes)" + _times(n))
    return {
        "matching": sum((want & have).values()),
        "missing": sum(missing.values()),
        "extra": sum(extra.values()),
    }


def _times(n: int) -> str:
    return "" if n == 1 else f" ({n} times)"


def _check_later(
    parsed: ParsedReceipt,
    ledger: dict[str, Any],
    later: dict[str, Any],
    policy: TrustPolicy,
    bad: Any,
) -> dict[str, Any]:
    """A later proof of the same ledger entry into a later checkpoint."""
    try:
        entry = str(later["entry"]).encode("utf-8")
        index, size = later["leaf_index"], later["tree_size"]
        path = [base64.b64decode(h, validate=True) for h in later["inclusion_proof"]]
        cp = parse_checkpoint(str(later["checkpoint"]).encode("utf-8"))
    except (KeyError, TypeError, ValueError, NoteError) as e:
        bad("bad_later_proof", f"the later proof is malformed ({e.__class__.__name__})")
        return {"contains": False}
    out: dict[str, Any] = {"origin": cp.origin, "tree_size": cp.size, "contains": False}
    if entry != str(ledger.get("entry", "")).encode("utf-8") or index != ledger.get("leaf_index"):
        bad("bad_later_proof", "the later proof is for another ledger entry")
        return out
    if cp.origin != ledger.get("origin") or cp.size != size:
        bad("bad_later_proof", "the later checkpoint is for another ledger or size")
        return out
    if not isinstance(size, int) or size < int(ledger.get("tree_size", 0)):
        bad("bad_later_proof", "the later checkpoint is older than the receipt's")
        return out
    signers = [parsed.public_key, *(k.public_key for k in policy.keys)]
    signers += [k.public_key for r in policy.registers for k in r.keys]
    if not any(checkpoint_signed_by(cp, key) for key in signers):
        bad("bad_later_proof", "the later checkpoint is not signed by a trusted key")
        return out
    try:
        parse_entry(entry)
    except EntryError as e:
        bad("bad_later_proof", f"ledger entry: {e}")
        return out
    if not merkle.verify_inclusion(merkle.leaf_hash(entry), index, size, path, cp.root):
        bad(
            "dropped_from_ledger",
            f"the later checkpoint (size {size}) does not contain the receipt's ledger entry",
        )
        return out
    out["contains"] = True
    return out
