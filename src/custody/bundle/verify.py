"""Verifying a bundle: every check, every problem, then one verdict.

`verify_bundle` returns a VerifyReport and never raises for a bad bundle;
`check_bundle` raises VerificationFailed. `evaluate` is the pure part: it
judges a scan against the keys the verifier chose to trust.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import __version__
from ..disclosure.check_bundle import check_commitments, with_committed_note
from ..errors import VerificationFailed
from ..hashing import sha256_bytes
from ..keys import PublicKeyInfo, fingerprint_of
from ..ledger.proof import PROOF_PATH
from ..models import Problem, VerifyReport
from ..policy import TrustPolicy
from ..progress import ProgressCallback
from . import layout, leftovers
from .chain import label, verify_chain
from .check_c2pa import check_c2pa
from .check_ledger import LocalLedger, check_ledger
from .check_names import check_names
from .check_payload import (
    check_bagit_txt,
    check_oxum,
    check_payload,
    check_read_back,
    check_tag_manifest,
)
from .check_register import check_chain_keys, judge_signer, proven_time
from .check_statement import check_signature, check_statement
from .check_team import check_team
from .check_time import check_checkpoint_time, check_time
from .check_witness import check_quorum
from .reader import BundleScan, scan_bundle


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
        scan,
        policy,
        local_ledger=local_ledger,
        pending_ok_for=pending_ok_for,
    )


def check_bundle(*, bundle: Path, policy: TrustPolicy) -> VerifyReport:
    """Like verify_bundle, but raises VerificationFailed when not verified."""
    report = verify_bundle(bundle=bundle, policy=policy)
    if not report.verified:
        raise VerificationFailed(
            "; ".join(p.line() for p in report.problems) or "not verified", path=report.bundle
        )
    return report


def evaluate(
    scan: BundleScan,
    policy: TrustPolicy,
    *,
    local_ledger: LocalLedger | None = None,
    pending_ok_for: str | None = None,
    copied: Mapping[str, tuple[int, str]] | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    """Judge a scanned bundle: every check, every problem. Reads nothing but
    the scan, the policy (and the verifier's ledger, when given). `now` is the
    time of verification (default: the clock, read once here). `copied`, for
    a bundle just written, is {manifest path: (size, SHA-256)} as taken while
    copying: the manifest as read back is compared with it, and the payload is
    not hashed again."""
    os_leftovers: tuple[Problem, ...] = ()
    if copied is None:
        scan, os_leftovers = set_aside_leftovers(scan)
    problems: list[Problem] = list(scan.problems)
    check_bagit_txt(scan, problems)
    manifest_bytes = scan.tag_bytes.get(layout.MANIFEST)
    manifest: dict[str, str] = {}
    if copied is None:
        if manifest_bytes is not None:
            manifest, errors = layout.parse_manifest(manifest_bytes)
            for err in errors:
                problems.append(Problem("bad_manifest", layout.MANIFEST, err.detail))
        listed = len(manifest)
        check_payload(scan, manifest, problems)
    else:
        # A bundle just written: its manifest is read back line by line against
        # the copies; their paths stand for the listing in the checks below.
        listed = check_read_back(manifest_bytes or b"", copied, problems)
    bag_info_bytes = scan.tag_bytes.get(layout.BAG_INFO)
    bag_info = dict(layout.parse_bag_info(bag_info_bytes)) if bag_info_bytes is not None else {}
    if bag_info_bytes is not None and copied is None:
        check_oxum(scan, bag_info, problems)
    check_tag_manifest(scan, problems)
    statement = check_statement(scan, listed, bag_info, problems)
    original_names = check_names(
        scan, manifest if copied is None else copied.keys(), statement, problems
    )
    check_c2pa(scan, bag_info, statement, problems)
    committed_note = check_commitments(
        scan, statement, manifest if copied is None else copied, problems
    )
    stmt_bytes = scan.tag_bytes.get(layout.STATEMENT)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    time_check = check_time(scan.tag_bytes, statement, policy)
    judgement = judge_signer(policy, statement, proven=proven_time(time_check), now=now)
    signer, signer_key = check_signature(scan, statement, stmt_bytes, policy, problems, judgement)
    warnings: list[str] = []
    chain: tuple[dict[str, Any], ...] = ()
    open_handover: dict[str, Any] | None = None
    ledger_info = team_info = None
    if statement is not None and stmt_bytes is not None:
        stmt_sha = sha256_bytes(stmt_bytes)
        ledger_info = check_ledger(
            scan,
            statement,
            stmt_sha,
            signer_key,
            local_ledger,
            problems,
            warnings,
            policy,
            int(now.timestamp()),
        )
        check_checkpoint_time(ledger_info, local_ledger, policy, problems)
        _explain_interrupted_staple(ledger_info, problems)
        team_info = check_team(
            scan, statement, stmt_sha, signer_key, policy, problems, warnings, int(now.timestamp())
        )
        state = verify_chain(scan.tag_bytes, statement=statement, statement_sha256=stmt_sha)
        chain = check_chain_keys(state.timeline, policy, now=now, problems=problems)
        problems.extend(state.problems)
        open_handover = state.open_handover
        if (
            open_handover is not None
            and policy.require_closed_chain
            and state.pending_to != pending_ok_for
        ):
            # An open hand-over is not damage; only a verifier who asked for a
            # closed chain (--require-closed-chain) is refused it.
            problems.append(
                Problem(
                    "unreceived_transfer",
                    open_handover["record"],
                    f"handed over to {label(open_handover['to'])}, but its receipt is not "
                    "in this copy (--require-closed-chain)",
                )
            )
    check_quorum(policy, ledger_info, team_info, problems)
    problems.extend(time_check.problems)
    warnings.extend(time_check.warnings)
    payload = [f for p, f in scan.files.items() if not layout.is_tag_path(p)]
    return VerifyReport(
        bundle=scan.location,
        verified=not problems,
        signer=signer,
        problems=tuple(_dedupe(problems)),
        statement=with_committed_note(statement, committed_note),
        statement_sha256=sha256_bytes(stmt_bytes) if stmt_bytes is not None else None,
        files_checked=len(payload),
        bytes_checked=sum(f.size for f in payload),
        custody_chain=chain,
        open_handover=open_handover,
        ledger=ledger_info,
        team=team_info,
        warnings=tuple(warnings),
        file_table=lambda: _file_table(scan, manifest, statement, problems),
        original_names=original_names,
        os_leftovers=os_leftovers,
        verified_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool=f"custody {__version__}",
        **time_check.report_fields(),
    )


def set_aside_leftovers(scan: BundleScan) -> tuple[BundleScan, tuple[Problem, ...]]:
    """The scan without the files an operating system added that neither
    manifest lists (bundle/leftovers.py), and those files."""
    listed: set[str] = set()
    for name in (layout.MANIFEST, layout.TAG_MANIFEST):
        data = scan.tag_bytes.get(name)
        if data is not None:
            listed.update(layout.parse_manifest(data)[0])
    return leftovers.set_aside(scan, listed, scan.read_tag)


def _file_table(
    scan: BundleScan,
    manifest: dict[str, str],
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
        from ..metadata import iter_metadata_records  # only the file table reads it

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
    for path in sorted(manifest, key=lambda p: p.encode("utf-8", "surrogateescape")):
        found = scan.files.get(path)
        md = records.get(path[len(prefix) :] if path.startswith(prefix) else path, {})
        rows.append(
            {
                "path": path,
                "sha256": manifest[path],
                "size": found.size if found is not None else None,
                "state": state.get(path, "intact" if found is not None else "missing"),
                "mime": md.get("mime"),
                "captured_at": md.get("captured_at"),
                "gps": md.get("gps"),
                "device": md.get("device"),
                "duration_s": md.get("duration_s"),
            }
        )
    return tuple(rows)


def _explain_interrupted_staple(
    ledger_info: dict[str, Any] | None, problems: list[Problem]
) -> None:
    """A staple replaces the proof, then the tag manifest (bundle/staple.py): a kill
    between the two leaves a valid proof the tag manifest does not list yet. Still a
    problem (the bytes are not the listed ones), but one that says what happened."""
    if not ledger_info or not ledger_info.get("proof_valid"):
        return
    for i, p in enumerate(problems):
        if p.kind == "changed" and p.path == PROOF_PATH:
            problems[i] = Problem(
                p.kind,
                p.path,
                f"{p.detail}; the proof itself checks out, as an interrupted "
                "'custody ledger staple' leaves it: run it again to list the new proof",
            )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def check_fresh_bundle(
    root: Path, payload: dict[str, tuple[int, str]], public_key: Ed25519PublicKey
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
    problems.extend(evaluate(scan, TrustPolicy(keys=(key,)), copied=payload).problems)
    return problems
