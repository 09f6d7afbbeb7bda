"""Hand-overs: transfer and receipt of custody, signed, stored in the bundle and the
ledger (docs/ledger.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import InputError, VerificationFailed
from custody.base.fsutil import environment_error, write_new_file
from custody.base.hashing import sha256_bytes
from custody.base.keys import PublicKeyInfo, Signer, key_or_fingerprint, trusted_keys
from custody.bundle.amend.tagwrite import (
    bundle_lock,
    create_in_bundle,
    read_tag_manifest,
    replace_in_bundle,
    write_tag_manifest,
)
from custody.bundle.format.chain import (
    RECEIPT_FORMAT,
    ChainState,
    load_record,
    open_handover_words,
    party,
    receipt_bytes,
    record_paths,
    transfer_bytes,
    verify_chain,
)
from custody.bundle.format.receipt_file import receipt_file_bytes
from custody.bundle.read.reader import scan_bundle
from custody.io.ledger_store import Ledger
from custody.ops.trust import load_trust_policy
from custody.policy import TrustPolicy

if TYPE_CHECKING:
    pass


from custody.base.utc import utc_now_text
from custody.ops.actions import verify_with_home


@dataclass(frozen=True)
class HandOverResult:
    """A transfer or receipt written into a bundle and the ledger."""

    bundle: str
    action: str
    sequence: int
    record: str
    ledger_index: int | None
    counterpart: dict[str, Any]
    receipt_file: str | None = None
    """Where the receipt was exported (receive --export-receipt), or read from
    (transfer --close)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "action": self.action,
            "sequence": self.sequence,
            "record": self.record,
            "ledger_index": self.ledger_index,
            "counterpart": self.counterpart,
            "receipt_file": self.receipt_file,
        }


def resolve_receiver(*, home: Path, value: str) -> dict[str, Any]:
    """The party a bundle is handed to: a public key file, or a fingerprint
    (completed from the trust store when the key is there)."""
    given = key_or_fingerprint(value, option="--to")
    if isinstance(given, PublicKeyInfo):
        return party(given.name, given.fingerprint, given.public_key)
    fp = given
    for info in trusted_keys(home=home):
        if info.fingerprint == fp:
            return party(info.name, fp, info.public_key)
    return party(None, fp, None)


def _require_folder(bundle: Path) -> None:
    if not bundle.is_dir() or bundle.is_symlink():
        raise InputError(
            "hand-overs are recorded in a bundle folder; unpack the archive first",
            path=str(bundle),
        )


def store_record(bundle: Path, json_path: str, sig_path: str, record: bytes, sig: bytes) -> None:
    """Store a signed hand-over record in a bundle so that a crash at any point
    leaves a bundle that verifies: the signature first (an orphan left by an
    earlier crash is replaced), then the record itself, created with no-replace
    as the commit point, then the tag manifest listing both. The evidence and
    its manifest are never touched."""
    with bundle_lock(bundle):
        listed = read_tag_manifest(bundle)
        if (bundle / json_path).exists():
            raise InputError(
                "a hand-over record with this number already exists", path=str(bundle / json_path)
            )
        replace_in_bundle(bundle, sig_path, sig)
        try:
            create_in_bundle(bundle, json_path, record)  # the commit point
        except FileExistsError as e:
            raise InputError(
                "a hand-over record with this number already exists", path=str(bundle / json_path)
            ) from e
        listed[sig_path] = sha256_bytes(sig)
        listed[json_path] = sha256_bytes(record)
        write_tag_manifest(bundle, listed)


def verified_chain(
    *,
    home: Path,
    bundle: Path,
    refusal: str,
    policy: TrustPolicy | None,
    pending_ok_for: str | None = None,
) -> tuple[dict[str, Any], str, ChainState]:
    """Verify a bundle folder before a hand-over; returns its statement, the
    statement's digest and the chain of custody so far. Raises
    VerificationFailed (with every problem) or InputError."""
    _require_folder(bundle)
    report = verify_with_home(
        home=home,
        bundle=bundle,
        policy=policy,
        pending_ok_for=pending_ok_for,
    )
    if not report.verified:
        raise VerificationFailed(
            f"bundle does not verify; {refusal}: " + "; ".join(p.line() for p in report.problems),
            path=str(bundle),
        )
    statement = report.statement or {}
    stmt_sha = str(report.statement_sha256)
    state = verify_chain(
        scan_bundle(bundle, hash_payload=False).tag_bytes,
        statement=statement,
        statement_sha256=stmt_sha,
    )
    return statement, stmt_sha, state


def _record_hand_over(
    *,
    home: Path,
    bundle: Path,
    signer: Signer,
    action: str,
    kind: str,
    sequence: int,
    record: bytes,
    statement: dict[str, Any],
    statement_sha256: str,
    details: dict[str, Any],
    witnesses: Sequence[str] = (),
    on_warning: Callable[[str], None] | None = None,
    policy: TrustPolicy | None = None,
) -> tuple[str, int]:
    """Append a hand-over to the ledger, then store the signed record in the
    bundle. Returns (record path in the bundle, ledger index)."""
    subject = {
        "bundle_id": statement.get("bundle_id"),
        "case": statement.get("case"),
        "statement_sha256": statement_sha256,
        "sequence": sequence,
        **details,
    }
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action=action,
            subject=subject,
            signer=signer.key,
            signer_name=signer.name,
            time=utc_now_text(),
        )
    json_path, sig_path = record_paths(sequence, kind)
    store_record(bundle, json_path, sig_path, record, signer.key.sign(record))
    _witness_and_staple(home, bundle, action, witnesses, on_warning, policy)
    return json_path, appended.index


def _witness_and_staple(
    home: Path,
    bundle: Path,
    action: str,
    witnesses: Sequence[str],
    on_warning: Callable[[str], None] | None,
    policy: TrustPolicy | None,
) -> None:
    """After a hand-over: have the ledger witnessed ($CUSTODY_WITNESS), and on a
    transfer staple the newest cosigned checkpoint into the bundle's proof when
    the bundle was recorded in this ledger."""
    from custody.ops.witnessing import witness_quietly

    if not witnesses and action != "transfer":
        return
    policy = policy if policy is not None else load_trust_policy(home=home)

    warn = on_warning or (lambda _: None)
    with Ledger.open(home) as ledger:
        witness_quietly(home=home, ledger=ledger, policy=policy, urls=witnesses, warn=warn)
        if action != "transfer":
            return
        from custody.ops.staple import staple

        with contextlib.suppress(InputError):
            # another ledger's bundle, or nothing cosigned yet: the proof stays
            staple(bundle=bundle, ledger=ledger, witnesses=policy.witness_keys)


def transfer_custody(
    *,
    home: Path,
    bundle: Path,
    receiver: dict[str, Any],
    reason: str,
    signer: Signer,
    policy: TrustPolicy | None = None,
    witnesses: Sequence[str] = (),
    on_warning: Callable[[str], None] | None = None,
) -> HandOverResult:
    """Sign a hand-over of `bundle` from `signer` (who must hold it) to
    `receiver`. The bundle must verify first. Raises VerificationFailed,
    InputError."""
    if not reason.strip():
        raise InputError("a hand-over needs a --reason")
    statement, stmt_sha, state = verified_chain(
        home=home, bundle=bundle, refusal="not handing it over", policy=policy
    )
    if state.holder != signer.fingerprint:
        raise InputError(
            f"you do not hold this bundle: its holder is {state.holder}", path=str(bundle)
        )
    if state.open_handover is not None:
        raise InputError(
            f"hand-over {state.open_handover['sequence']} "
            f"({open_handover_words(state.open_handover)}) is still open in this copy: "
            "bring its receipt back first (custody transfer --close BUNDLE --receipt FILE)",
            path=str(bundle),
        )
    if receiver["fingerprint"] == signer.fingerprint:
        raise InputError("cannot hand a bundle over to yourself")
    sequence = state.next_sequence
    data = transfer_bytes(
        bundle_id=str(statement.get("bundle_id")),
        statement_sha256=stmt_sha,
        sequence=sequence,
        previous=state.last_receipt_sha256,
        sender=party(signer.name, signer.fingerprint, signer.key.public_key()),
        receiver=receiver,
        time=utc_now_text(),
        reason=reason,
    )
    path, index = _record_hand_over(
        home=home,
        bundle=bundle,
        signer=signer,
        action="transfer",
        kind="transfer",
        sequence=sequence,
        record=data,
        statement=statement,
        statement_sha256=stmt_sha,
        details={
            "record_sha256": sha256_bytes(data),
            "to": {"name": receiver.get("name"), "fingerprint": receiver["fingerprint"]},
            "reason": reason,
        },
        witnesses=witnesses,
        policy=policy,
        on_warning=on_warning,
    )
    return HandOverResult(str(bundle), "transfer", sequence, path, index, receiver)


def receive_custody(
    *,
    home: Path,
    bundle: Path,
    signer: Signer,
    policy: TrustPolicy | None = None,
    witnesses: Sequence[str] = (),
    on_warning: Callable[[str], None] | None = None,
    export_receipt: Path | None = None,
) -> HandOverResult:
    """Verify `bundle` and countersign the hand-over addressed to `signer`.
    With `export_receipt`, also write the receipt as a portable file there (for
    the sender's copy, docs/ledger.md); when the hand-over was already received
    by `signer`, only export its receipt. Raises VerificationFailed, InputError."""
    if export_receipt is not None:
        check_export_target(export_receipt)  # before anything is signed
    statement, stmt_sha, state = verified_chain(
        home=home,
        bundle=bundle,
        refusal="not receiving it",
        policy=policy,
        pending_ok_for=signer.fingerprint,
    )
    if state.pending_transfer is None or state.pending_to != signer.fingerprint:
        if export_receipt is not None:
            return export_last_receipt(
                bundle=bundle, state=state, signer=signer, out=export_receipt
            )
        raise InputError("no hand-over to your key is waiting in this bundle", path=str(bundle))
    transfer_sha = sha256_bytes(state.pending_transfer)
    sequence = state.next_sequence
    data = receipt_bytes(
        bundle_id=str(statement.get("bundle_id")),
        statement_sha256=stmt_sha,
        sequence=sequence,
        transfer_sha256=transfer_sha,
        receiver=party(signer.name, signer.fingerprint, signer.key.public_key()),
        time=utc_now_text(),
    )
    sender = state.timeline[-1].get("by", {})
    path, index = _record_hand_over(
        home=home,
        bundle=bundle,
        signer=signer,
        action="receive",
        kind="receipt",
        sequence=sequence,
        record=data,
        statement=statement,
        statement_sha256=stmt_sha,
        details={
            "transfer_sha256": transfer_sha,
            "receipt_sha256": sha256_bytes(data),
            "from": sender,
        },
        witnesses=witnesses,
        policy=policy,
        on_warning=on_warning,
    )
    exported = None
    if export_receipt is not None:
        write_receipt_file(bundle, sequence, export_receipt)
        exported = str(export_receipt)
    return HandOverResult(str(bundle), "receive", sequence, path, index, sender, exported)


# Exporting a receipt as one file, for the sender's copy (ops/handover_close.py brings it back).


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


__all__ = [
    "HandOverResult",
    "check_export_target",
    "export_last_receipt",
    "receive_custody",
    "resolve_receiver",
    "transfer_custody",
    "write_receipt_file",
]
