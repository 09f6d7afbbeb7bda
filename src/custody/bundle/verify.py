"""Verifying a bundle: every check, every problem, then one verdict.

`verify_bundle` returns a VerifyReport and never raises for a bad bundle;
`check_bundle` raises VerificationFailed. `evaluate` is the pure part: it
judges a scan against the keys the verifier chose to trust.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import __version__
from ..errors import KeyFileError, VerificationFailed
from ..hashing import sha256_bytes
from ..keys import PublicKeyInfo, fingerprint_of, parse_public_key_file
from ..ledger.proof import PROOF_PATH, check_proof
from ..models import Problem, SignerInfo, VerifyReport
from ..progress import ProgressCallback
from ..signing import signature_is_valid
from . import layout
from .chain import is_chain_path, verify_chain
from .reader import BundleScan, scan_bundle
from .statement import StatementError, parse_statement


class LocalLedger(Protocol):
    """What verification needs from the verifier's own ledger."""

    @property
    def origin(self) -> str: ...

    def size(self) -> int: ...

    def root(self, size: int) -> bytes: ...

    def entry_bytes(self, index: int) -> bytes | None: ...


def verify_bundle(
    *,
    bundle: Path,
    trusted: Sequence[PublicKeyInfo],
    trusted_fingerprints: Collection[str] = (),
    local_ledger: LocalLedger | None = None,
    pending_ok_for: str | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Check a bundle (folder or archive) completely against the trusted keys.

    `trusted` are public keys the verifier chose; `trusted_fingerprints` are
    key fingerprints the verifier chose, which make the bundle's own copy of
    the signer's key acceptable only when its fingerprint is one of them.
    Returns a VerifyReport listing every problem. Raises NotABundleError or
    InputError only when `bundle` is not a bundle at all.
    """
    scan = scan_bundle(bundle, on_progress=on_progress, workers=workers)
    return evaluate(
        scan,
        trusted,
        trusted_fingerprints,
        local_ledger=local_ledger,
        pending_ok_for=pending_ok_for,
    )


def check_bundle(*, bundle: Path, trusted: Sequence[PublicKeyInfo]) -> VerifyReport:
    """Like verify_bundle, but raises VerificationFailed when not verified."""
    report = verify_bundle(bundle=bundle, trusted=trusted)
    if not report.verified:
        raise VerificationFailed(
            "; ".join(p.line() for p in report.problems) or "not verified", path=report.bundle
        )
    return report


def _check_bagit_txt(scan: BundleScan, problems: list[Problem]) -> None:
    data = scan.tag_bytes.get(layout.BAGIT_TXT)
    if data is None:
        problems.append(Problem("missing", layout.BAGIT_TXT, "required tag file is missing"))
        return
    fields = dict(layout.parse_bag_info(data))
    if fields.get("BagIt-Version") != "1.0" or fields.get("Tag-File-Character-Encoding") != "UTF-8":
        problems.append(
            Problem("bad_bagit", layout.BAGIT_TXT, "not 'BagIt-Version: 1.0' with UTF-8 encoding")
        )


def _check_payload(scan: BundleScan, manifest: dict[str, str], problems: list[Problem]) -> None:
    missing: dict[str, str] = {}
    for path, digest in manifest.items():
        if not path.startswith(layout.PAYLOAD_DIR + "/"):
            problems.append(
                Problem("bad_manifest", path, "payload manifest lists a path outside data/")
            )
            continue
        found = scan.files.get(path)
        if found is None:
            if path not in scan.odd_paths:
                missing[path] = digest
            continue
        if found.sha256 != digest:
            problems.append(
                Problem("changed", path, f"SHA-256 is {found.sha256}, manifest says {digest}")
            )
    by_digest: dict[str, list[str]] = {}
    for path, digest in missing.items():
        by_digest.setdefault(digest, []).append(path)
    unlisted = sorted(p for p in scan.files if not layout.is_tag_path(p) and p not in manifest)
    for path in unlisted:
        found = scan.files[path]
        twins = by_digest.get(found.sha256 or "", [])
        if twins:
            original = twins.pop(0)
            del missing[original]
            problems.append(
                Problem("renamed", path, f"not in the manifest; same content as missing {original}")
            )
        else:
            problems.append(Problem("extra", path, "payload file not in the manifest"))
    for path in missing:
        problems.append(Problem("missing", path, "listed in the manifest but not in the bundle"))


def _check_oxum(scan: BundleScan, bag_info: dict[str, str], problems: list[Problem]) -> None:
    oxum = bag_info.get("Payload-Oxum")
    if oxum is None:
        problems.append(Problem("bad_bag_info", layout.BAG_INFO, "no Payload-Oxum"))
        return
    payload = [f for p, f in scan.files.items() if not layout.is_tag_path(p)]
    actual = f"{sum(f.size for f in payload)}.{len(payload)}"
    if oxum != actual:
        problems.append(
            Problem(
                "oxum_mismatch", layout.BAG_INFO, f"Payload-Oxum is {oxum}, payload is {actual}"
            )
        )


def _check_tag_manifest(scan: BundleScan, problems: list[Problem]) -> None:
    data = scan.tag_bytes.get(layout.TAG_MANIFEST)
    if data is None:
        problems.append(Problem("missing", layout.TAG_MANIFEST, "required tag file is missing"))
        listed: dict[str, str] = {}
    else:
        listed, errors = layout.parse_manifest(data)
        for err in errors:
            problems.append(Problem("bad_manifest", layout.TAG_MANIFEST, err.detail))
    for path, digest in listed.items():
        found = scan.files.get(path)
        if not layout.is_tag_path(path):
            problems.append(Problem("bad_manifest", path, "tag manifest lists a payload file"))
        elif found is None:
            if path not in scan.odd_paths:
                problems.append(Problem("missing", path, "listed in the tag manifest but missing"))
        elif found.sha256 != digest:
            problems.append(
                Problem("changed", path, f"SHA-256 is {found.sha256}, tag manifest says {digest}")
            )
    for path in sorted(scan.files):
        if layout.is_tag_path(path) and path != layout.TAG_MANIFEST and path not in listed:
            if data is None and path in layout.REQUIRED_TAG_FILES:
                continue
            if is_chain_path(path):
                # Hand-over records authenticate themselves (signatures, and the
                # chain walk reports any file that does not belong): one written
                # just before a crash, not yet listed, is not an intruder.
                continue
            problems.append(Problem("extra", path, "tag file not in the tag manifest"))
    for required in layout.REQUIRED_TAG_FILES:
        if required not in scan.files and required not in scan.odd_paths and required not in listed:
            problems.append(Problem("missing", required, "required tag file is missing"))


def _trusted_by_fingerprint(trusted: Sequence[PublicKeyInfo]) -> dict[str, PublicKeyInfo]:
    return {k.fingerprint: k for k in trusted}


def _check_signature(
    scan: BundleScan,
    statement: dict[str, Any] | None,
    stmt_bytes: bytes | None,
    trusted: Sequence[PublicKeyInfo],
    trusted_fingerprints: Collection[str],
    problems: list[Problem],
) -> tuple[SignerInfo, Ed25519PublicKey | None]:
    claimed = statement.get("key_fingerprint") if statement else None
    name = statement.get("officer") if statement else None
    sig = scan.tag_bytes.get(layout.SIGNATURE)
    bundled_key: Ed25519PublicKey | None = None
    key_bytes = scan.tag_bytes.get(layout.SIGNER_KEY)
    if key_bytes is not None:
        try:
            bundled_key = parse_public_key_file(key_bytes).public_key
        except KeyFileError:
            problems.append(
                Problem("bad_signer_key", layout.SIGNER_KEY, "not an Ed25519 public key")
            )
    if stmt_bytes is None or statement is None or sig is None:
        return SignerInfo(name, claimed, False, False), None
    trusted_key = _trusted_by_fingerprint(trusted).get(str(claimed))
    if (
        trusted_key is None
        and claimed in trusted_fingerprints
        and bundled_key is not None
        and fingerprint_of(bundled_key) == claimed
    ):
        trusted_key = PublicKeyInfo(f"fingerprint {claimed[:16]}", claimed, bundled_key)
    if trusted_key is not None:
        valid = signature_is_valid(trusted_key.public_key, sig, stmt_bytes)
        if not valid:
            problems.append(
                Problem(
                    "bad_signature",
                    layout.SIGNATURE,
                    f"signature does not verify with trusted key {trusted_key.name}",
                )
            )
        signer = SignerInfo(name, claimed, True, valid, trusted_as=trusted_key.name)
        return signer, trusted_key.public_key if valid else None
    # Not trusted: say whether the signature is at least valid, using the
    # bundled key only when it is the key the statement names.
    valid = False
    if bundled_key is not None and fingerprint_of(bundled_key) == claimed:
        valid = signature_is_valid(bundled_key, sig, stmt_bytes)
    if not valid:
        problems.append(
            Problem(
                "bad_signature",
                layout.SIGNATURE,
                "signature does not verify with the key the statement names",
            )
        )
    problems.append(
        Problem(
            "untrusted_signer",
            layout.STATEMENT,
            f"signed by key {claimed} ({name}), which is not in your trust store or --trust",
        )
    )
    return SignerInfo(name, claimed, False, valid), None


def _check_statement(
    scan: BundleScan, listed: int, bag_info: dict[str, str], problems: list[Problem]
) -> dict[str, Any] | None:
    stmt_bytes = scan.tag_bytes.get(layout.STATEMENT)
    if stmt_bytes is None:
        return None
    try:
        statement = parse_statement(stmt_bytes)
    except StatementError as e:
        problems.append(Problem("bad_statement", layout.STATEMENT, str(e)))
        return None
    for path, field_name in (
        (layout.MANIFEST, "manifest_sha256"),
        (layout.BAG_INFO, "bag_info_sha256"),
        (layout.METADATA, "metadata_sha256"),
    ):
        found = scan.files.get(path)
        if found is not None and found.sha256 != statement[field_name]:
            problems.append(
                Problem("statement_mismatch", path, "differs from the version the statement signed")
            )
    if statement["file_count"] != listed:
        problems.append(
            Problem(
                "statement_mismatch",
                layout.MANIFEST,
                f"lists {listed} files, the statement signed {statement['file_count']}",
            )
        )
    oxum = bag_info.get("Payload-Oxum", "")
    if oxum and oxum.split(".")[0] != str(statement["total_bytes"]):
        problems.append(
            Problem(
                "statement_mismatch",
                layout.BAG_INFO,
                f"Payload-Oxum {oxum} disagrees with the signed total of "
                f"{statement['total_bytes']} bytes",
            )
        )
    return statement


def _check_ledger(
    scan: BundleScan,
    statement: dict[str, Any],
    stmt_sha: str,
    signer_key: Ed25519PublicKey | None,
    local_ledger: LocalLedger | None,
    problems: list[Problem],
    warnings: list[str],
) -> dict[str, Any] | None:
    data = scan.tag_bytes.get(PROOF_PATH)
    if data is None:
        warnings.append("the bundle carries no ledger proof (made without a ledger)")
        return None
    check = check_proof(
        data,
        statement_sha256=stmt_sha,
        bundle_id=str(statement.get("bundle_id")),
        signer_key=signer_key,
    )
    problems.extend(check.problems)
    info = check.to_json()
    info["proof_valid"] = not check.problems
    info["local_ledger"] = None
    if check.problems or local_ledger is None or check.leaf_index is None:
        return info
    if local_ledger.origin != check.origin:
        info["local_ledger"] = "other"
        return info
    assert check.tree_size is not None
    local_size = local_ledger.size()
    if local_size < check.tree_size:
        problems.append(
            Problem(
                "ledger_mismatch",
                PROOF_PATH,
                f"your ledger holds {local_size} entries, fewer than the {check.tree_size} "
                "this bundle's checkpoint signed: entries were removed or it was rolled back",
            )
        )
    elif local_ledger.entry_bytes(check.leaf_index) != check.entry:
        problems.append(
            Problem(
                "ledger_mismatch",
                PROOF_PATH,
                f"entry {check.leaf_index} in your ledger differs from the bundle's",
            )
        )
    elif local_ledger.root(check.tree_size) != check.root:
        problems.append(
            Problem(
                "ledger_mismatch",
                PROOF_PATH,
                "your ledger does not extend the checkpoint in the bundle",
            )
        )
    else:
        info["local_ledger"] = "consistent"
    return info


def evaluate(
    scan: BundleScan,
    trusted: Sequence[PublicKeyInfo],
    trusted_fingerprints: Collection[str] = (),
    *,
    local_ledger: LocalLedger | None = None,
    pending_ok_for: str | None = None,
    payload_checked: bool = False,
) -> VerifyReport:
    """Judge a scanned bundle: every check, every problem. Reads nothing but
    the scan (and the verifier's ledger, when given)."""
    problems: list[Problem] = list(scan.problems)
    _check_bagit_txt(scan, problems)
    manifest_bytes = scan.tag_bytes.get(layout.MANIFEST)
    manifest: dict[str, str] = {}
    listed = 0
    if payload_checked:
        # The caller compared the payload itself (a bundle just written): only
        # the count matters here, and a 100,000-entry dictionary is not built.
        listed = manifest_bytes.count(b"\n") if manifest_bytes is not None else 0
    else:
        if manifest_bytes is not None:
            manifest, errors = layout.parse_manifest(manifest_bytes)
            for err in errors:
                problems.append(Problem("bad_manifest", layout.MANIFEST, err.detail))
        listed = len(manifest)
        _check_payload(scan, manifest, problems)
    bag_info_bytes = scan.tag_bytes.get(layout.BAG_INFO)
    bag_info = dict(layout.parse_bag_info(bag_info_bytes)) if bag_info_bytes is not None else {}
    if bag_info_bytes is not None and not payload_checked:
        _check_oxum(scan, bag_info, problems)
    _check_tag_manifest(scan, problems)
    statement = _check_statement(scan, listed, bag_info, problems)
    stmt_bytes = scan.tag_bytes.get(layout.STATEMENT)
    signer, signer_key = _check_signature(
        scan, statement, stmt_bytes, trusted, trusted_fingerprints, problems
    )
    warnings: list[str] = []
    chain: tuple[dict[str, Any], ...] = ()
    ledger_info = None
    if statement is not None and stmt_bytes is not None:
        stmt_sha = sha256_bytes(stmt_bytes)
        ledger_info = _check_ledger(
            scan, statement, stmt_sha, signer_key, local_ledger, problems, warnings
        )
        state = verify_chain(scan.tag_bytes, statement=statement, statement_sha256=stmt_sha)
        chain = state.timeline
        for p in state.problems:
            pending_is_ok = (
                p.kind == "unreceived_transfer"
                and pending_ok_for is not None
                and state.pending_to == pending_ok_for
            )
            if not pending_is_ok:
                problems.append(p)
    payload = [f for p, f in scan.files.items() if not layout.is_tag_path(p)]
    return VerifyReport(
        bundle=scan.location,
        verified=not problems,
        signer=signer,
        problems=tuple(_dedupe(problems)),
        statement=statement,
        statement_sha256=sha256_bytes(stmt_bytes) if stmt_bytes is not None else None,
        files_checked=len(payload),
        bytes_checked=sum(f.size for f in payload),
        custody_chain=chain,
        ledger=ledger_info,
        warnings=tuple(warnings),
        file_table=lambda: _file_table(scan, manifest, statement, problems),
        verified_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool=f"custody {__version__}",
    )


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


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def check_fresh_bundle(
    root: Path, payload_sizes: dict[str, int], public_key: Ed25519PublicKey
) -> list[Problem]:
    """Check a bundle just written by ingest, without re-reading its payload:
    every tag file, hash, signature and proof must check out, and data/ must
    hold exactly the files and sizes that were copied."""
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
                size = payload_sizes.get(rel)
                if size is None or not entry.is_file(follow_symlinks=False):
                    problems.append(Problem("extra", rel, "not copied by this ingest"))
                elif entry.stat(follow_symlinks=False).st_size != size:
                    problems.append(Problem("changed", rel, "size differs from the copy"))
                seen += 1
    if seen != len(payload_sizes):
        problems.append(Problem("missing", layout.PAYLOAD_DIR, "copied files are missing"))
    scan = scan_bundle(root, hash_payload=False, tag_files_only=True)
    key = PublicKeyInfo("self", fingerprint_of(public_key), public_key)
    problems.extend(evaluate(scan, [key], payload_checked=True).problems)
    return problems
