"""Verifying a bundle: every check, every problem, then one verdict.

`verify_bundle` returns a VerifyReport and never raises for a bad bundle;
`check_bundle` raises VerificationFailed. `evaluate` is the pure part: it runs
the checks of bundle/verify/pipeline.py over the Evidence and the verifier's
TrustPolicy, and turns what they found into the report.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody import __version__
from custody.base.errors import VerificationFailed
from custody.base.hashing import sha256_bytes
from custody.base.keys import PublicKeyInfo, fingerprint_of
from custody.base.models import Problem, VerifyReport
from custody.base.progress import ProgressCallback
from custody.base.utc import utc_text
from custody.bundle.format import layout
from custody.bundle.read.reader import scan_bundle
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_commitments import with_committed_note
from custody.bundle.verify.check_ledger import LocalLedger
from custody.bundle.verify.evidence import Evidence
from custody.bundle.verify.manifest import ListedManifest, join, sorted_listing
from custody.bundle.verify.pipeline import run_checks
from custody.policy import TrustPolicy


def verify_bundle(
    *,
    bundle: Path,
    policy: TrustPolicy,
    local_ledger: LocalLedger | None = None,
    pending_ok_for: str | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Check a bundle (folder or archive) completely against the verifier's
    trust policy. Returns a VerifyReport listing every problem. Raises NotABundleError or
    InputError only when `bundle` is not a bundle at all.
    """
    scan = scan_bundle(bundle, on_progress=on_progress, workers=workers)
    return evaluate(
        Evidence(scan, local_ledger=local_ledger, pending_ok_for=pending_ok_for),
        policy,
        now=datetime.now(UTC),
    )


def check_bundle(*, bundle: Path, policy: TrustPolicy) -> VerifyReport:
    """Like verify_bundle, but raises VerificationFailed when not verified."""
    report = verify_bundle(bundle=bundle, policy=policy)
    if not report.verified:
        raise VerificationFailed(
            "; ".join(p.line() for p in report.problems) or "not verified", path=report.bundle
        )
    return report


def evaluate(evidence: Evidence, policy: TrustPolicy, *, now: datetime) -> VerifyReport:
    """Judge the evidence: every check of bundle/verify/pipeline.py's CHECKS, in
    order, then one verdict. Reads nothing but the evidence and the policy; `now`
    is the time of verification (the operation reads the clock, once)."""
    now = now.astimezone(UTC).replace(microsecond=0)
    outcome = run_checks(evidence, policy, now=now)
    facts = outcome.facts
    scan = facts.scanned()
    problems = list(_dedupe(outcome.problems))
    time, signer = facts.time, facts.signer
    assert time is not None and signer is not None, "every check has run"
    manifest = facts.manifest
    return VerifyReport(
        bundle=scan.location,
        verified=not problems,
        signer=signer,
        problems=tuple(problems),
        statement=with_committed_note(facts.statement, facts.committed_note),
        statement_sha256=facts.statement_sha256,
        files_checked=scan.files.payload_count,
        bytes_checked=scan.files.payload_bytes,
        custody_chain=facts.chain,
        open_handover=dict(facts.open_handover) if facts.open_handover is not None else None,
        ledger=dict(facts.ledger) if facts.ledger is not None else None,
        team=dict(facts.team) if facts.team is not None else None,
        warnings=outcome.warnings,
        file_table=lambda: _file_table(scan, manifest, facts.statement, problems),
        original_names=dict(facts.original_names),
        os_leftovers=facts.os_leftovers,
        verified_at=utc_text(now),
        tool=f"custody {__version__}",
        **time.report_fields(),
    )


def _file_table(
    scan: BundleScan,
    manifest: ListedManifest | Mapping[str, str],
    statement: dict[str, Any] | None,
    problems: list[Problem],
) -> tuple[dict[str, Any], ...]:
    """Every file the manifest lists: its state, and the signed metadata about it
    (only when the metadata is the one the statement signed)."""
    records: dict[str, dict[str, Any]] = {}
    data = scan.read_tag(layout.METADATA)
    if (
        data is not None
        and statement is not None
        and sha256_bytes(data) == statement.get("metadata_sha256")
    ):
        from custody.metadata import iter_metadata_records  # only the file table reads it

        try:
            records = {str(r.get("path")): r for r in iter_metadata_records(data)}
        except (UnicodeDecodeError, ValueError):
            records = {}
    state = {
        p.path: p.kind
        for p in problems
        if p.path and p.kind in ("changed", "missing", "not_regular_file")
    }
    rows = []
    prefix = layout.PAYLOAD_DIR + "/"
    # One merge join of the manifest and the payload, both in path order.
    listed = ((p, d) for p, d, _ in sorted_listing(manifest))
    for path, digest, found in join(listed, scan.files.payload()):
        if digest is None:
            continue
        if found is None and layout.is_tag_path(path):
            found = scan.files.tags().get(path)  # a manifest naming a tag file
        md = records.get(path[len(prefix) :] if path.startswith(prefix) else path, {})
        rows.append(
            {
                "path": path,
                "sha256": digest,
                "size": found.size if found is not None else None,
                "state": state.get(path, "intact" if found is not None else "missing"),
                "mime": md.get("mime"),
                "captured_at": md.get("captured_at"),
                "gps": md.get("gps"),
                "device": md.get("device"),
                "duration_s": md.get("duration_s"),
            }
        )
    rows.sort(key=lambda r: r["path"].encode("utf-8", "surrogateescape"))
    return tuple(rows)


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def check_fresh_bundle(
    root: Path, payload: Mapping[str, tuple[int, str]], public_key: Ed25519PublicKey
) -> list[Problem]:
    """Check a bundle just written by ingest, reading back every tag file and
    name with the verifier's own parsers but without re-reading its payload:
    `payload` is {manifest path: (size, SHA-256)} as copied. Every tag file,
    hash, signature, proof and the names map must check out, the manifest must
    read back as exactly the files copied, and data/ must hold them at their
    sizes."""
    problems: list[Problem] = []
    seen = 0
    stack = [root / layout.PAYLOAD_DIR]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                rel = Path(entry.path).relative_to(root).as_posix()
                copy = payload.get(rel)
                if copy is None or not entry.is_file(follow_symlinks=False):
                    problems.append(Problem("extra", rel, "not copied by this ingest"))
                elif entry.stat(follow_symlinks=False).st_size != copy[0]:
                    problems.append(Problem("changed", rel, "size differs from the copy"))
                seen += 1
    if seen != len(payload):
        problems.append(Problem("missing", layout.PAYLOAD_DIR, "copied files are missing"))
    scan = scan_bundle(root, hash_payload=False, tag_files_only=True)
    key = PublicKeyInfo("self", fingerprint_of(public_key), public_key)
    policy = TrustPolicy(keys=(key,))
    fresh = Evidence(scan, copied=payload)
    problems.extend(evaluate(fresh, policy, now=datetime.now(UTC)).problems)
    return problems
