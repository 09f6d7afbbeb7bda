"""The operations users run, composed from keys, bundles and the ledger.

Each is a library function with keyword-only arguments returning a frozen
result; the CLI parses, calls one of these, and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import AlreadyIngested, EnvironmentFailure, InputError
from custody.base.home import pending_dir
from custody.base.keys import KeyPair, PublicKeyInfo, Signer, generate_key, trust_public_key
from custody.base.models import IngestResult, VerifyReport
from custody.base.progress import ProgressCallback
from custody.base.utc import utc_now_text
from custody.bundle.format import layout
from custody.bundle.read.reader import scan_bundle
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.evaluate import evaluate
from custody.bundle.verify.evidence import Evidence
from custody.io.ledger_store import Ledger
from custody.ops.ledger.repeats import earlier_ingests
from custody.ops.recovery import abandoned_in_case, interrupted_ingests, recover_interrupted_ingests
from custody.ops.resume import find_resumable
from custody.ops.trust import load_trust_policy
from custody.policy import TrustPolicy

if TYPE_CHECKING:
    from custody.ops.audit import AuditResult


def create_key(*, home: Path, name: str, passphrase: bytes | None) -> KeyPair:
    """Generate a key (see keys.generate_key) and record it in the ledger."""
    pair, private_key = generate_key(home=home, name=name, passphrase=passphrase)
    with Ledger.open(home) as ledger:
        ledger.append(
            action="keygen",
            subject={"name": pair.name, "fingerprint": pair.fingerprint},
            signer=private_key,
            signer_name=pair.name,
            time=utc_now_text(),
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
                time=utc_now_text(),
            )
    return stored, added


@dataclass(frozen=True)
class IngestRequest:
    """What to ingest and how: the command line's ingest options as one value
    (one per job of a batch list). A new option touches this value, the CLI that
    fills it and the step that reads it, nothing in between."""

    source: Path
    case: str
    exhibit: str | None = None
    out: Path | None = None
    """Where the bundle goes: a folder to create, or a folder to put it in."""
    note: str | None = None
    extract_metadata: bool = True
    expand_archives: bool = False
    analyse_similar: bool = True
    tsa_urls: tuple[str, ...] = ()
    tsa_timeout: float | None = None
    witnesses: tuple[str, ...] = ()
    """Witness URLs that cosign the ledger entry's checkpoint before the bundle is finished."""
    again: bool = False
    """Make another bundle of content already ingested under this case and exhibit."""
    resume: bool = False
    """--resume: continue a stopped ingest (as the same command does by itself), and
    on Ctrl-C keep the partial copy to be continued."""


def ingest_evidence(
    *,
    home: Path,
    request: IngestRequest,
    signer: Signer,
    on_progress: ProgressCallback | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> IngestResult:
    """Ingest `request.source` into a signed bundle recorded in the ledger under
    `home`, stamped by each TSA of `tsa_urls` that answers. With `witnesses`, the
    entry's checkpoint is cosigned before the bundle is finished (an
    unreachable witness is a warning).

    Content already ingested under the same case and exhibit (the same
    manifest) raises AlreadyIngested once it is hashed, before anything is
    signed or kept; with `again` it makes another bundle, whose ledger entry
    names the earlier one (`repeat_of`)."""
    # Imported here: the writer brings the metadata parsers, which verify,
    # transfer and the ledger commands never need.
    from custody.ops.witnessing import ingest_cosigner
    from custody.ops.writer import ingest

    r = request
    with Ledger.open(home) as ledger:
        ledger.ensure_intact()  # before anything is copied
        found = find_resumable(
            home=home,
            ledger=ledger,
            source=r.source,
            case=r.case,
            exhibit=r.exhibit,
            out=r.out,
            asked=r.resume,
        )
        explained = found.lines + recover_interrupted_ingests(
            home=home, ledger=ledger, signer=signer, keep=found.kept
        )
        cosigner = (
            ingest_cosigner(
                home=home,
                ledger=ledger,
                policy=load_trust_policy(home=home),
                urls=r.witnesses,
                warn=on_warning or (lambda _: None),
            )
            if r.witnesses
            else None
        )
        result = ingest(
            source=r.source,
            case=r.case,
            exhibit=r.exhibit,
            signing_key=signer.key,
            officer=signer.name,
            out=r.out,
            note=r.note,
            ledger=ledger,
            pending=pending_dir(home),
            extract_metadata=r.extract_metadata,
            expand_archives=r.expand_archives,
            analyse_similar=r.analyse_similar,
            on_progress=on_progress,
            tsa_urls=r.tsa_urls,
            tsa_timeout=r.tsa_timeout,
            on_appended=cosigner,
            on_manifest=_repeat_check(ledger, source=r.source, again=r.again),
            resume=found.point,
            keep_on_interrupt=r.resume or found.point is not None,
        )
    return replace(result, warnings=(*explained, *result.warnings))


def _repeat_check(
    ledger: Ledger, *, source: Path, again: bool
) -> Callable[[str, str | None, str], dict[str, Any]]:
    """The ingest's check for content already ingested (ops/ledger/repeats.py)."""

    def check(case: str, exhibit: str | None, manifest_sha256: str) -> dict[str, Any]:
        earlier = earlier_ingests(
            ledger, case=case, exhibit=exhibit, manifest_sha256=manifest_sha256
        )
        if not earlier:
            return {}
        if again:
            return {"repeat_of": earlier[0].bundle_id}
        raise AlreadyIngested(
            earlier[0].line(len(earlier)) + ": use --again to make another bundle",
            path=str(source),
        )

    return check


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
        report = evaluate(
            Evidence(scan, local_ledger=ledger, pending_ok_for=pending_ok_for),
            policy,
            now=datetime.now(UTC),
        )
        if ledger is not None and report.ledger and report.ledger["local_ledger"] == "consistent":
            abandoned = abandoned_in_case(ledger, (report.statement or {}).get("case"))
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
    from custody.bundle.verify.manifest import ListedManifest
    from custody.ops.audit import audit_folder

    # Streamed from the bytes the scan hashed (bundle/verify/manifest.py).
    manifest = ListedManifest(scan.tag_bytes.open(layout.MANIFEST), scan.spill)
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
            time=utc_now_text(),
        )
    return appended.index


__all__ = [
    "EnvironmentFailure",
    "Signer",
    "add_trusted_key",
    "audit_against_bundle",
    "create_key",
    "evaluate_with_home",
    "ingest_evidence",
    "interrupted_ingests",
    "record_verification",
    "verify_with_home",
]
