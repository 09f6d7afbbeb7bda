"""The signed statement against the files it names, and its signature
against the keys the verifier chose (the trust policy)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.bytediff import describe_difference
from custody.base.errors import KeyFileError
from custody.base.keys import (
    PublicKeyInfo,
    fingerprint_of,
    parse_public_key_file,
    public_key_file_bytes,
)
from custody.base.models import Problem, SignerInfo
from custody.base.signing import signature_is_valid
from custody.bundle.format import layout
from custody.bundle.format.statement import StatementError, parse_statement
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_register import refused_signer, registered_key, with_register
from custody.policy import TrustPolicy
from custody.register.rule import Judgement


def check_statement(
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


def check_signature(
    scan: BundleScan,
    statement: dict[str, Any] | None,
    stmt_bytes: bytes | None,
    policy: TrustPolicy,
    problems: list[Problem],
    judgement: Judgement | None = None,
) -> tuple[SignerInfo, Ed25519PublicKey | None]:
    """Check the statement's signature with the key the policy trusts for the
    fingerprint it names. Returns who signed and, when the signature is valid
    and trusted, the key (later checks use it). A key a trusted register lists
    is judged by the register (`judgement`), whatever else trusts it."""
    signer, key = _check_signature(scan, statement, stmt_bytes, policy, problems, judgement)
    return with_register(signer, judgement, policy=policy), key


def _check_signature(
    scan: BundleScan,
    statement: dict[str, Any] | None,
    stmt_bytes: bytes | None,
    policy: TrustPolicy,
    problems: list[Problem],
    judgement: Judgement | None,
) -> tuple[SignerInfo, Ed25519PublicKey | None]:
    claimed = statement.get("key_fingerprint") if statement else None
    name = statement.get("officer") if statement else None
    sig = scan.tag_bytes.get(layout.SIGNATURE)
    bundled_key: Ed25519PublicKey | None = None
    key_bytes = scan.tag_bytes.get(layout.SIGNER_KEY)
    if key_bytes is not None:
        try:
            bundled_key = parse_public_key_file(key_bytes).public_key
        except KeyFileError as e:
            problems.append(Problem("bad_signer_key", layout.SIGNER_KEY, e.message))
        if bundled_key is not None and claimed is not None:
            _check_bundled_key(key_bytes, bundled_key, str(claimed), str(name), problems)
    if stmt_bytes is None or statement is None or sig is None:
        return SignerInfo(name, claimed, False, False), None
    if judgement is not None and not judgement.decision.accepted:
        signer = refused_signer(
            judgement,
            name=name,
            claimed=claimed,
            signature=sig,
            stmt_bytes=stmt_bytes,
            problems=problems,
        )
        return signer, None
    trusted_key = registered_key(judgement) if judgement else policy.key_for(claimed)
    if (
        trusted_key is None
        and claimed in policy.fingerprints
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


def _check_bundled_key(
    data: bytes, key: Ed25519PublicKey, claimed: str, name: str, problems: list[Problem]
) -> None:
    """custody/signer.pub must be exactly the key file custody writes for the
    key the statement names, whether or not the verifier needed it."""
    found = fingerprint_of(key)
    if found != claimed:
        problems.append(
            Problem(
                "signer_key_mismatch",
                layout.SIGNER_KEY,
                f"holds key {found}, not the key {claimed} the statement names",
            )
        )
        return
    difference = describe_difference(data, public_key_file_bytes(name, key))
    if difference is not None:
        problems.append(
            Problem(
                "bad_tag_format",
                layout.SIGNER_KEY,
                f"not the key file custody writes for this key: {difference}",
            )
        )
