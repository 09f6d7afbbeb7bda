"""The bundle's ledger proof: checked offline, then against the verifier's own
ledger when it is the same ledger."""

from __future__ import annotations

from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.models import Problem
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_witness import check_witnesses
from custody.ledger.proof import PROOF_PATH, check_proof
from custody.policy import TrustPolicy


class LocalLedger(Protocol):
    """What verification needs from the verifier's own ledger."""

    @property
    def origin(self) -> str: ...

    def size(self) -> int: ...

    def root(self, size: int) -> bytes: ...

    def entry_bytes(self, index: int) -> bytes | None: ...

    def checkpoint_tokens(self, note: bytes) -> tuple[tuple[str, bytes], ...]:
        """The timestamps this ledger keeps of checkpoint `note`: (name, bytes)."""
        ...


def check_ledger(
    scan: BundleScan,
    statement: dict[str, Any],
    stmt_sha: str,
    signer_key: Ed25519PublicKey | None,
    local_ledger: LocalLedger | None,
    problems: list[Problem],
    warnings: list[str],
    policy: TrustPolicy,
    now: int,
) -> dict[str, Any] | None:
    data = scan.tag_bytes.get(PROOF_PATH)
    if data is None:
        warnings.append("the bundle carries no ledger proof (made without a ledger)")
        check_witnesses(None, policy, now, path=PROOF_PATH, problems=problems, warnings=warnings)
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
    note = check.checkpoint.encode("utf-8") if check.checkpoint is not None else None
    info["cosignatures"] = check_witnesses(
        note, policy, now, path=PROOF_PATH, problems=problems, warnings=warnings
    )
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
