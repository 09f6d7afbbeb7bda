"""The operations users run, composed from keys, bundles and the ledger.

Each is a library function with keyword-only arguments returning a frozen
result; the CLI parses, calls one of these, and renders.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bundle import layout
from .bundle.chain import (
    ChainState,
    party,
    receipt_bytes,
    record_paths,
    transfer_bytes,
    verify_chain,
)
from .bundle.reader import BundleScan, scan_bundle
from .bundle.verify import evaluate
from .errors import EnvironmentFailure, InputError, VerificationFailed
from .fsutil import environment_error, replace_file, write_new_file
from .hashing import sha256_bytes
from .keys import (
    KeyPair,
    PublicKeyInfo,
    Signer,
    generate_key,
    key_or_fingerprint,
    trust_public_key,
    trusted_keys,
)
from .ledger.entries import EntryError, parse_entry
from .ledger.store import Ledger
from .models import IngestResult, VerifyReport
from .pending import Leftover, clear, find_leftovers, pending_dir
from .policy import TrustPolicy, load_trust_policy
from .progress import ProgressCallback

if TYPE_CHECKING:
    from .audit import AuditResult


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_key(*, home: Path, name: str, passphrase: bytes | None) -> KeyPair:
    """Generate a key (see keys.generate_key) and record it in the ledger."""
    pair, private_key = generate_key(home=home, name=name, passphrase=passphrase)
    with Ledger.open(home) as ledger:
        ledger.append(
            action="keygen",
            subject={"name": pair.name, "fingerprint": pair.fingerprint},
            signer=private_key,
            signer_name=pair.name,
            time=_now(),
        )
    return pair


def add_trusted_key(
    *, home: Path, info: PublicKeyInfo, recorder: Signer | None
) -> tuple[PublicKeyInfo, bool]:
    """Trust a public key; record it in the ledger when a signer is given."""
    stored, added = trust_public_key(home=home, info=info)
    if added and recorder is not None:
        with Ledger.open(home) as ledger:
            ledger.append(
                action="trust",
                subject={"name": stored.name, "fingerprint": stored.fingerprint},
                signer=recorder.key,
                signer_name=recorder.name,
                time=_now(),
            )
    return stored, added


def ingest_evidence(
    *,
    home: Path,
    source: Path,
    case: str,
    signer: Signer,
    exhibit: str | None = None,
    out: Path | None = None,
    note: str | None = None,
    extract_metadata: bool = True,
    expand_archives: bool = False,
    on_progress: ProgressCallback | None = None,
    tsa_urls: Sequence[str] = (),
    tsa_timeout: float | None = None,
    witnesses: Sequence[str] = (),
    on_warning: Callable[[str], None] | None = None,
) -> IngestResult:
    """Ingest `source` into a signed bundle recorded in the ledger under `home`,
    stamped by each TSA of `tsa_urls` that answers. With `witnesses`, the
    entry's checkpoint is cosigned before the bundle is finished (an
    unreachable witness is a warning)."""
    # Imported here: the writer brings the metadata parsers, which verify,
    # transfer and the ledger commands never need.
    from .bundle.writer import ingest
    from .witnessing import ingest_cosigner

    with Ledger.open(home) as ledger:
        explained = recover_interrupted_ingests(home=home, ledger=ledger, signer=signer)
        cosigner = ingest_cosigner(
            home=home, ledger=ledger, urls=witnesses, warn=on_warning or (lambda _: None)
        )
        result = ingest(
            source=source,
            case=case,
            exhibit=exhibit,
            signing_key=signer.key,
            officer=signer.name,
            out=out,
            note=note,
            ledger=ledger,
            pending=pending_dir(home),
            extract_metadata=extract_metadata,
            expand_archives=expand_archives,
            on_progress=on_progress,
            tsa_urls=tsa_urls,
            tsa_timeout=tsa_timeout,
            on_appended=cosigner,
        )
    return replace(result, warnings=(*explained, *result.warnings))


def _ingest_entry_index(ledger: Ledger, bundle_id: str) -> int | None:
    """The index of the ledger entry that recorded the ingest of `bundle_id`."""
    for stored in ledger.entries():
        try:
            entry = parse_entry(stored.entry)
        except EntryError:
            continue
        if entry.action == "ingest" and entry.subject.get("bundle_id") == bundle_id:
            return entry.index
    return None


def _abandoned_in_case(ledger: Ledger, case: object) -> list[dict[str, Any]]:
    """The `abandoned` entries of one case: bundle ids that never became bundles."""
    found = []
    for stored in ledger.entries():
        try:
            entry = parse_entry(stored.entry)
        except EntryError:
            continue
        if entry.action == "abandoned" and entry.subject.get("case") == case:
            found.append(
                {
                    "index": entry.index,
                    "time": entry.time,
                    "bundle_id": entry.subject.get("bundle_id"),
                    "ingest_entry": entry.subject.get("ingest_entry"),
                    "exhibit": entry.subject.get("exhibit"),
                }
            )
    return found


def describe_leftover(leftover: Leftover, recorded_as: int | None) -> str:
    """One line for a person: which ingest was interrupted, and what that left."""
    ing = leftover.ingest
    what = f"an ingest of case {ing.case} started {ing.started} (bundle id {ing.bundle_id})"
    if leftover.completed:
        return f"{ing.bundle}: {what} was interrupted after the bundle was in place; it is whole"
    copies = ", ".join(str(p) for p in leftover.partial_copies) or "no partial copy"
    if recorded_as is None:
        return f"{ing.bundle}: {what} was interrupted before it was recorded; left {copies}"
    return (
        f"{ing.bundle}: {what} was interrupted after ledger entry {recorded_as} recorded it, "
        f"and the bundle never appeared; left {copies}"
    )


def interrupted_ingests(*, home: Path, ledger: Ledger | None) -> tuple[str, ...]:
    """Lines describing every ingest that was killed and not yet explained (read only)."""
    lines = []
    for leftover in find_leftovers(pending_dir(home)):
        index = (
            None
            if leftover.completed or ledger is None
            else _ingest_entry_index(ledger, leftover.ingest.bundle_id)
        )
        lines.append(describe_leftover(leftover, index))
    return tuple(lines)


def recover_interrupted_ingests(*, home: Path, ledger: Ledger, signer: Signer) -> tuple[str, ...]:
    """Explain and tidy up every ingest that was killed: an ingest the ledger
    recorded but whose bundle never appeared gets an `abandoned` entry (the
    earlier entry is never altered); the partial copies are removed (they are
    copies; the source was never touched). Returns one line per leftover."""
    lines = []
    for leftover in find_leftovers(pending_dir(home)):
        ing = leftover.ingest
        index = None if leftover.completed else _ingest_entry_index(ledger, ing.bundle_id)
        line = describe_leftover(leftover, index)
        if index is not None:
            appended = ledger.append(
                action="abandoned",
                subject={
                    "bundle_id": ing.bundle_id,
                    "case": ing.case,
                    "exhibit": ing.exhibit,
                    "ingest_entry": index,
                    "bundle": str(ing.bundle),
                    "started": ing.started,
                    "reason": "the ingest was interrupted before the bundle was made visible; "
                    "no bundle with this id exists, and its partial copy was removed",
                },
                signer=signer.key,
                signer_name=signer.name,
                time=_now(),
            )
            line += f"; recorded as abandoned in ledger entry {appended.index}"
        if leftover.partial_copies:
            line += "; the partial copy was removed"
        clear(leftover)
        lines.append(line)
    return tuple(lines)


def _scan_and_evaluate(
    *,
    home: Path,
    bundle: Path,
    policy: TrustPolicy,
    pending_ok_for: str | None,
    on_progress: ProgressCallback | None,
) -> tuple[VerifyReport, BundleScan]:
    scan = scan_bundle(bundle, on_progress=on_progress)
    return evaluate_with_home(
        home=home, scan=scan, policy=policy, pending_ok_for=pending_ok_for
    ), scan


def evaluate_with_home(
    *, home: Path, scan: BundleScan, policy: TrustPolicy, pending_ok_for: str | None = None
) -> VerifyReport:
    """Judge a scanned bundle (from a folder, an archive or object storage)
    against `policy` and this user's ledger, when it exists."""
    ledger = Ledger.open(home, create=False) if Ledger.exists(home) else None
    try:
        report = evaluate(scan, policy, local_ledger=ledger, pending_ok_for=pending_ok_for)
        if ledger is not None and report.ledger and report.ledger["local_ledger"] == "consistent":
            abandoned = _abandoned_in_case(ledger, (report.statement or {}).get("case"))
            if abandoned:
                report = replace(report, ledger={**report.ledger, "abandoned_in_case": abandoned})
    finally:
        if ledger is not None:
            ledger.close()
    return report


def verify_with_home(
    *,
    home: Path,
    bundle: Path,
    policy: TrustPolicy | None = None,
    pending_ok_for: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> VerifyReport:
    """Verify a bundle against `policy` (default: this user's trust store) and
    this user's ledger, when it exists."""
    report, _ = _scan_and_evaluate(
        home=home,
        bundle=bundle,
        policy=policy if policy is not None else load_trust_policy(home=home),
        pending_ok_for=pending_ok_for,
        on_progress=on_progress,
    )
    return report


def audit_against_bundle(
    *,
    home: Path,
    folder: Path,
    bundle: Path,
    policy: TrustPolicy | None = None,
    on_progress: ProgressCallback | None = None,
) -> tuple[AuditResult, VerifyReport]:
    """Verify `bundle`, then compare `folder` with its signed manifest."""
    if not folder.is_dir():  # before the bundle is read, which may take minutes
        raise InputError("not a folder", path=str(folder))
    report, scan = _scan_and_evaluate(
        home=home,
        bundle=bundle,
        policy=policy if policy is not None else load_trust_policy(home=home),
        pending_ok_for=None,
        on_progress=on_progress,
    )
    from .audit import audit_folder  # only audit needs it

    manifest, _ = layout.parse_manifest(scan.tag_bytes.get(layout.MANIFEST, b""))
    result = audit_folder(folder=folder, report=report, manifest=manifest, on_progress=on_progress)
    return result, report


def record_verification(*, home: Path, report: VerifyReport, signer: Signer) -> int:
    """Append a 'verify' entry for a report; returns its ledger index."""
    st = report.statement or {}
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action="verify",
            subject={
                "bundle_id": st.get("bundle_id"),
                "case": st.get("case"),
                "statement_sha256": report.statement_sha256,
                "verified": report.verified,
                "problems": len(report.problems),
            },
            signer=signer.key,
            signer_name=signer.name,
            time=_now(),
        )
    return appended.index


@dataclass(frozen=True)
class HandOverResult:
    """A transfer or receipt written into a bundle and the ledger."""

    bundle: str
    action: str
    sequence: int
    record: str
    ledger_index: int
    counterpart: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "action": self.action,
            "sequence": self.sequence,
            "record": self.record,
            "ledger_index": self.ledger_index,
            "counterpart": self.counterpart,
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


def _store_record(bundle: Path, json_path: str, sig_path: str, record: bytes, sig: bytes) -> None:
    """Store a signed hand-over record in a bundle so that a crash at any point
    leaves a bundle that verifies: the signature first (an orphan left by an
    earlier crash is replaced), then the record itself, created with no-replace
    as the commit point, then the tag manifest listing both. The evidence and
    its manifest are never touched."""
    manifest_path = bundle / layout.TAG_MANIFEST
    try:
        listed, errors = layout.parse_manifest(manifest_path.read_bytes())
    except OSError as e:
        raise InputError("cannot read the tag manifest", path=str(manifest_path)) from e
    if errors:
        raise InputError("the tag manifest is damaged", path=str(manifest_path))
    if (bundle / json_path).exists():
        raise InputError(
            "a hand-over record with this number already exists", path=str(bundle / json_path)
        )
    try:
        replace_file(bundle / sig_path, sig)
        write_new_file(bundle / json_path, record)
        listed[sig_path] = sha256_bytes(sig)
        listed[json_path] = sha256_bytes(record)
        replace_file(manifest_path, layout.format_manifest(listed.items()))
    except FileExistsError as e:
        raise InputError(
            "a hand-over record with this number already exists", path=str(e.filename)
        ) from e
    except OSError as e:
        raise environment_error(e, e.filename or bundle) from e


def _verified_chain(
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
            time=_now(),
        )
    json_path, sig_path = record_paths(sequence, kind)
    _store_record(bundle, json_path, sig_path, record, signer.key.sign(record))
    _witness_and_staple(home, bundle, action, witnesses, on_warning)
    return json_path, appended.index


def _witness_and_staple(
    home: Path,
    bundle: Path,
    action: str,
    witnesses: Sequence[str],
    on_warning: Callable[[str], None] | None,
) -> None:
    """After a hand-over: have the ledger witnessed ($CUSTODY_WITNESS), and on a
    transfer staple the newest cosigned checkpoint into the bundle's proof when
    the bundle was recorded in this ledger."""
    from .witnessing import witness_quietly

    warn = on_warning or (lambda _: None)
    with Ledger.open(home) as ledger:
        witness_quietly(home=home, ledger=ledger, urls=witnesses, warn=warn)
        if action != "transfer":
            return
        from .bundle.staple import staple

        with contextlib.suppress(InputError):
            # another ledger's bundle, or nothing cosigned yet: the proof stays
            staple(bundle=bundle, ledger=ledger)


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
    statement, stmt_sha, state = _verified_chain(
        home=home, bundle=bundle, refusal="not handing it over", policy=policy
    )
    if state.holder != signer.fingerprint:
        raise InputError(
            f"you do not hold this bundle: its holder is {state.holder}", path=str(bundle)
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
        time=_now(),
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
) -> HandOverResult:
    """Verify `bundle` and countersign the hand-over addressed to `signer`."""
    statement, stmt_sha, state = _verified_chain(
        home=home,
        bundle=bundle,
        refusal="not receiving it",
        policy=policy,
        pending_ok_for=signer.fingerprint,
    )
    if state.pending_transfer is None or state.pending_to != signer.fingerprint:
        raise InputError("no hand-over to your key is waiting in this bundle", path=str(bundle))
    transfer_sha = sha256_bytes(state.pending_transfer)
    sequence = state.next_sequence
    data = receipt_bytes(
        bundle_id=str(statement.get("bundle_id")),
        statement_sha256=stmt_sha,
        sequence=sequence,
        transfer_sha256=transfer_sha,
        receiver=party(signer.name, signer.fingerprint, signer.key.public_key()),
        time=_now(),
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
        on_warning=on_warning,
    )
    return HandOverResult(str(bundle), "receive", sequence, path, index, sender)


__all__ = [
    "EnvironmentFailure",
    "HandOverResult",
    "Signer",
    "add_trusted_key",
    "create_key",
    "ingest_evidence",
    "receive_custody",
    "record_verification",
    "resolve_receiver",
    "transfer_custody",
    "verify_with_home",
]
