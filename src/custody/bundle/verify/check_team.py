"""The bundle's team inclusion proof (custody/team-proof.json), checked offline
against the team keys the verifier chose. See docs/team.md."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.models import Problem
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_witness import check_witnesses
from custody.bundle.verify.team_proof import TEAM_PROOF_PATH, check_team_proof
from custody.policy import TrustPolicy


def check_team(
    scan: BundleScan,
    statement: dict[str, Any],
    stmt_sha: str,
    signer_key: Ed25519PublicKey | None,
    policy: TrustPolicy,
    problems: list[Problem],
    warnings: list[str],
    now: int = 0,
) -> dict[str, Any] | None:
    """None when the bundle carries no team proof (nothing is required of it);
    otherwise what the proof shows. A proof that fails is a problem; one signed
    by no team key the verifier trusts is a warning, and counts for nothing.
    Cosignatures on its checkpoint are checked as on the ledger proof's."""
    data = scan.tag_bytes.get(TEAM_PROOF_PATH)
    if data is None:
        return None
    check = check_team_proof(
        data,
        statement_sha256=stmt_sha,
        bundle_id=str(statement.get("bundle_id")),
        signer_key=signer_key,
        team_keys=policy.team_keys,
    )
    problems.extend(check.problems)
    warnings.extend(check.warnings)
    info = check.info
    if "checkpoint" in info:
        info["cosignatures"] = check_witnesses(
            str(info["checkpoint"]).encode("utf-8"),
            policy,
            now,
            path=TEAM_PROOF_PATH,
            problems=problems,
            warnings=warnings,
        )
    return info
