"""Hand-over records (transfer of custody) stored in a bundle's custody/chain/.

A transfer is signed by the current holder and names the next holder's key;
a receipt is signed by that next holder and names the transfer's digest.
Records are RFC 8785 JSON; each has a detached raw Ed25519 signature. Pure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.tlog.entries import raw_public_key

CHAIN_DIR = "custody/chain"
TRANSFER_FORMAT = "custody/transfer/v1"
RECEIPT_FORMAT = "custody/receipt/v1"
_NAME = re.compile(r"custody/chain/(\d{4})-(transfer|receipt)\.(json|sig)")


def party(
    name: str | None, fingerprint: str, public_key: Ed25519PublicKey | None
) -> dict[str, Any]:
    return {
        "name": name,
        "fingerprint": fingerprint,
        "public_key": base64.b64encode(raw_public_key(public_key)).decode() if public_key else None,
    }


def transfer_bytes(
    *,
    bundle_id: str,
    statement_sha256: str,
    sequence: int,
    previous: str | None,
    sender: dict[str, Any],
    receiver: dict[str, Any],
    time: str,
    reason: str,
) -> bytes:
    """Canonical bytes of a transfer record (what the sender signs)."""
    return bytes(
        rfc8785.dumps(
            {
                "format": TRANSFER_FORMAT,
                "bundle_id": bundle_id,
                "statement_sha256": statement_sha256,
                "sequence": sequence,
                "previous": previous,
                "from": sender,
                "to": receiver,
                "time": time,
                "reason": reason,
            }
        )
    )


def receipt_bytes(
    *,
    bundle_id: str,
    statement_sha256: str,
    sequence: int,
    transfer_sha256: str,
    receiver: dict[str, Any],
    time: str,
) -> bytes:
    """Canonical bytes of a receipt (what the receiver signs)."""
    return bytes(
        rfc8785.dumps(
            {
                "format": RECEIPT_FORMAT,
                "bundle_id": bundle_id,
                "statement_sha256": statement_sha256,
                "sequence": sequence,
                "transfer_sha256": transfer_sha256,
                "by": receiver,
                "time": time,
            }
        )
    )


def record_paths(sequence: int, kind: str) -> tuple[str, str]:
    stem = f"{CHAIN_DIR}/{sequence:04d}-{kind}"
    return f"{stem}.json", f"{stem}.sig"


def is_chain_path(path: str) -> bool:
    return path.startswith(CHAIN_DIR + "/")


@dataclass(frozen=True)
class ChainState:
    """The custody chain as verified: a timeline, problems, who holds it now,
    and any hand-over still waiting for its receipt."""

    timeline: tuple[dict[str, Any], ...]
    problems: tuple[Problem, ...]
    holder: str | None
    next_sequence: int
    last_receipt_sha256: str | None
    pending_to: str | None
    pending_transfer: bytes | None
    open_handover: dict[str, Any] | None = None
    """The last hand-over when its receipt is not in this copy: an open hand-over,
    not damage (docs/ledger.md, "Open and closed hand-overs"). Its sequence,
    from, to, time, reason and the transfer record's SHA-256."""


def load_record(data: bytes, fmt: str) -> dict[str, Any] | None:
    """A hand-over record of format `fmt`, or None unless `data` is its exact
    canonical (RFC 8785) form."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        return None
    try:
        if bytes(rfc8785.dumps(obj)) != data:
            return None
    except Exception:  # rfc8785 raises its own types
        return None
    return obj


def key_of(p: Any) -> Ed25519PublicKey | None:
    """A party's public key, or None unless it is well formed and matches the
    party's fingerprint."""
    try:
        raw = base64.b64decode(p["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (KeyError, TypeError, ValueError):
        return None
    if hashlib.sha256(raw).hexdigest() != p.get("fingerprint"):
        return None
    return key


def verify_chain(
    tag_bytes: Mapping[str, bytes],
    *,
    statement: dict[str, Any],
    statement_sha256: str,
) -> ChainState:
    """Walk custody/chain/ from the signer of the statement onwards."""
    problems: list[Problem] = []
    files = {p: d for p, d in tag_bytes.items() if is_chain_path(p)}
    for p in sorted(files):
        if not _NAME.fullmatch(p):
            problems.append(Problem("bad_custody_record", p, "not a custody chain file name"))
    holder: str | None = statement.get("key_fingerprint")
    timeline: list[dict[str, Any]] = [
        {
            "event": "ingest",
            "time": statement.get("created"),
            "by": {"name": statement.get("officer"), "fingerprint": holder},
            "signature_valid": True,
        }
    ]
    previous: str | None = None
    sequence = 1
    pending_to: str | None = None
    pending_transfer: bytes | None = None
    open_handover: dict[str, Any] | None = None
    while True:
        t_json, t_sig = record_paths(sequence, "transfer")
        r_json, r_sig = record_paths(sequence, "receipt")
        if t_json not in files:
            if r_json in files:
                problems.append(
                    Problem("broken_custody_chain", r_json, "receipt without a transfer")
                )
            break
        tdata = files[t_json]
        t = load_record(tdata, TRANSFER_FORMAT)
        if t is None:
            problems.append(
                Problem("bad_custody_record", t_json, "not a canonical transfer record")
            )
            break
        sender_key = key_of(t.get("from") or {})
        t_ok = sender_key is not None and signature_is_valid(
            sender_key, files.get(t_sig, b""), tdata
        )
        if not t_ok:
            problems.append(
                Problem(
                    "bad_custody_signature",
                    t_json,
                    "hand-over signature does not verify (forged or edited)",
                )
            )
        if (
            t.get("bundle_id") != statement.get("bundle_id")
            or t.get("statement_sha256") != statement_sha256
        ):
            problems.append(
                Problem("broken_custody_chain", t_json, "hand-over is for another bundle")
            )
        if t.get("sequence") != sequence or t.get("previous") != previous:
            problems.append(
                Problem(
                    "broken_custody_chain", t_json, "hand-over does not follow the previous one"
                )
            )
        sender_fp = (t.get("from") or {}).get("fingerprint")
        if sender_fp != holder:
            problems.append(
                Problem(
                    "broken_custody_chain",
                    t_json,
                    f"handed over by {sender_fp}, but the holder was {holder}",
                )
            )
        receiver = t.get("to") or {}
        timeline.append(
            {
                "event": "transfer",
                "time": t.get("time"),
                "by": _who(t.get("from")),
                "to": _who(receiver),
                "reason": t.get("reason"),
                "signature_valid": t_ok,
            }
        )
        tsha = hashlib.sha256(tdata).hexdigest()
        if r_json not in files:
            pending_to = receiver.get("fingerprint")
            pending_transfer = tdata
            open_handover = {
                "sequence": sequence,
                "record": t_json,
                "from": _who(t.get("from")),
                "to": _who(receiver),
                "time": t.get("time"),
                "reason": t.get("reason"),
                "transfer_sha256": tsha,
            }
            break
        rdata = files[r_json]
        r = load_record(rdata, RECEIPT_FORMAT)
        if r is None:
            problems.append(Problem("bad_custody_record", r_json, "not a canonical receipt"))
            break
        receiver_key = key_of(r.get("by") or {})
        r_ok = receiver_key is not None and signature_is_valid(
            receiver_key, files.get(r_sig, b""), rdata
        )
        if not r_ok:
            problems.append(
                Problem(
                    "bad_custody_signature",
                    r_json,
                    "receipt signature does not verify (forged or edited)",
                )
            )
        if r.get("transfer_sha256") != tsha or r.get("sequence") != sequence:
            problems.append(
                Problem(
                    "broken_custody_chain", r_json, "receipt countersigns a different hand-over"
                )
            )
        by_fp = (r.get("by") or {}).get("fingerprint")
        if by_fp != receiver.get("fingerprint"):
            problems.append(
                Problem(
                    "broken_custody_chain",
                    r_json,
                    f"received by {by_fp}, not by the named receiver {receiver.get('fingerprint')}",
                )
            )
        timeline.append(
            {
                "event": "receive",
                "time": r.get("time"),
                "by": _who(r.get("by")),
                "signature_valid": r_ok,
            }
        )
        holder = by_fp
        previous = hashlib.sha256(rdata).hexdigest()
        sequence += 1
    known = {
        p
        for s in range(1, sequence + 1)
        for k in ("transfer", "receipt")
        for p in record_paths(s, k)
    }
    for p in sorted(files):
        if _NAME.fullmatch(p) and p not in known:
            problems.append(Problem("broken_custody_chain", p, "does not follow the chain"))
    return ChainState(
        tuple(timeline),
        tuple(problems),
        holder,
        sequence,
        previous,
        pending_to,
        pending_transfer,
        open_handover,
    )


def open_handover_words(open_handover: dict[str, Any]) -> str:
    """What an open hand-over is, in the words every verdict uses (CLI, HTML
    report, verifier page): "handed to X at T, receipt not yet brought back"."""
    return (
        f"handed to {label(open_handover.get('to') or {})} at {open_handover.get('time')}, "
        "receipt not yet brought back"
    )


def _who(p: Any) -> dict[str, Any]:
    p = p if isinstance(p, dict) else {}
    return {"name": p.get("name"), "fingerprint": p.get("fingerprint")}


def label(p: dict[str, Any]) -> str:
    """A party as people read it: its name and the start of its fingerprint."""
    return f"{p.get('name') or 'key'} ({str(p.get('fingerprint'))[:16]})"
