"""Verifying a bundle: every check, every problem, then one verdict.

`verify_bundle` returns a VerifyReport and never raises for a bad bundle;
`check_bundle` raises VerificationFailed. `evaluate` is the pure part: it runs
the checks of bundle/verify/pipeline.py over the Evidence and the verifier's
TrustPolicy, and turns what they found into the report.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody import __version__
from custody.base.errors import VerificationFailed
from custody.base.keys import PublicKeyInfo, fingerprint_of
from custody.base.models import Problem, VerifyReport
from custody.base.progress import ProgressCallback
from custody.base.spill import SortedSpill, SpillDir
from custody.base.streamed import StreamedList
from custody.base.utc import utc_text
from custody.bundle.format import layout
from custody.bundle.read.reader import scan_bundle
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_commitments import with_committed_note
from custody.bundle.verify.check_ledger import LocalLedger
from custody.bundle.verify.evidence import Evidence
from custody.bundle.verify.manifest import ListedManifest, join, sorted_listing
from custody.bundle.verify.pipeline import run_checks
from custody.metadata.lines import metadata_records
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
) -> StreamedList:
    """Every file the manifest lists: its state, and the signed metadata about it
    (only when the metadata is the one the statement signed), in the UTF-8 order
    of the paths. Built in one pass into a spill and read back one row at a time
    (a million rows are not held: --json writes them as they are read)."""
    spill = scan.spill
    records = _signed_records(scan, statement, spill)
    state = {
        p.path: p.kind
        for p in problems
        if p.path and p.kind in ("changed", "missing", "not_regular_file")
    }
    rows = SortedSpill(spill)
    prefix = layout.PAYLOAD_DIR + "/"
    # One merge join of the manifest and the payload, both in path order.
    listed = ((p, d) for p, d, _ in sorted_listing(manifest))
    # The records in path order too: a third stream, advanced with the rows.
    signed = iter(records)
    record: tuple[str, str] | None = next(signed, None)
    for path, digest, found in join(listed, scan.files.payload()):
        if digest is None:
            continue
        if found is None and layout.is_tag_path(path):
            found = scan.files.tags().get(path)  # a manifest naming a tag file
        held: str | None = None
        if path.startswith(prefix):
            name = path[len(prefix) :]
            while record is not None and record[0] < name:
                record = next(signed, None)
            if record is not None and record[0] == name:
                held = record[1]
        else:  # a manifest listing a path outside data/ (a problem of its own)
            held = records.lookup(path)
        md = json.loads(held) if held is not None else {}
        row = {
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
        # Keyed by the path's bytes in hex: sorted as the paths' UTF-8 bytes,
        # names that are not UTF-8 (surrogates) included.
        rows.add(path.encode("utf-8", "surrogateescape").hex(), json.dumps(row))
    return StreamedList(len(rows), lambda: (json.loads(row) for _, row in rows))


_FIELDS = ("mime", "captured_at", "gps", "device", "duration_s")


def _signed_records(
    scan: BundleScan, statement: dict[str, Any] | None, spill: SpillDir
) -> SortedSpill:
    """{payload path: the fields of its metadata record the table shows}, from
    custody/metadata.json read once as a stream and hashed as it is read: empty
    unless it is the file the statement signed, and in the one-record-a-line
    layout custody writes. A record given twice counts as its last."""
    records = SortedSpill(spill)
    if statement is None or layout.METADATA not in scan.files:
        return records
    digest = hashlib.sha256()

    def lines() -> Iterator[bytes]:
        for line in _tag_lines(scan, layout.METADATA):
            digest.update(line)
            yield line

    kept = SortedSpill(spill)
    try:
        for record in metadata_records(lines()):
            if not isinstance(record, dict):
                raise ValueError("a metadata record is not an object")
            kept.add(str(record.get("path")), json.dumps({k: record.get(k) for k in _FIELDS}))
    except (UnicodeDecodeError, ValueError, OSError):
        return records
    if digest.hexdigest() != statement.get("metadata_sha256"):
        return records
    # The last record of each path, as a dict built from them would keep it
    # (a spill gives records of one path in the order they were added).
    held: tuple[str, str] | None = None
    for path, value in kept:
        if held is not None and held[0] != path:
            records.add(*held)
        held = (path, value)
    if held is not None:
        records.add(*held)
    return records


def _tag_lines(scan: BundleScan, rel: str) -> Iterator[bytes]:
    """A tag file's lines: read from the bundle folder as a stream, or from the
    bytes the scan gives for an archive or object storage."""
    folder = Path(scan.location)
    if scan.fetch is None and folder.is_dir():
        with open(folder / (scan.root_prefix + rel), "rb") as f:
            yield from f
        return
    data = scan.read_tag(rel)
    if data is None:
        raise OSError(f"{rel} cannot be read")
    yield from io.BytesIO(data)


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
