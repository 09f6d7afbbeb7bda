"""The officer's witness operations: cosign the ledger's checkpoint, and staple
cosigned checkpoints into bundles. Composed from ops/witness_submit.py and
ops/staple.py; the CLI calls these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from custody.base.errors import CustodyError
from custody.base.keys import Signer
from custody.base.utc import utc_now_text
from custody.io.ledger_store import Ledger
from custody.ledger.rows import Appended
from custody.ops.staple import StapleResult, staple, with_newest_cosigned
from custody.ops.witness_submit import WitnessRun, warn_about, witness_ledger
from custody.policy import TrustPolicy

Warn = Callable[[str], None]


def witness_checkpoint(
    *, home: Path, policy: TrustPolicy, urls: Sequence[str], timeout: float = 10.0
) -> WitnessRun:
    """Submit the latest checkpoint of the ledger under `home` to `urls`.
    Raises InputError when there is no ledger or checkpoint yet."""
    with Ledger.open(home, create=False) as ledger:
        return witness_ledger(
            home=home, ledger=ledger, urls=urls, known=policy.witness_keys, timeout=timeout
        )


def witness_quietly(
    *, home: Path, ledger: Ledger, policy: TrustPolicy, urls: Sequence[str], warn: Warn
) -> None:
    """Automatic witnessing ($CUSTODY_WITNESS): never fails the operation;
    one warning line per witness that did not cosign."""
    if not urls:
        return
    try:
        run = witness_ledger(home=home, ledger=ledger, urls=urls, known=policy.witness_keys)
    except CustodyError as e:
        warn(f"witnessing skipped: {e.diagnostics()}")
        return
    warn_about(run, warn)


def ingest_cosigner(
    *, home: Path, ledger: Ledger, policy: TrustPolicy, urls: Sequence[str], warn: Warn
) -> Callable[[Appended], Appended] | None:
    """For ingest: after the entry is appended, have it witnessed, and let the
    bundle carry the cosigned checkpoint."""
    if not urls:
        return None

    def cosigned(appended: Appended) -> Appended:
        witness_quietly(home=home, ledger=ledger, policy=policy, urls=urls, warn=warn)
        return with_newest_cosigned(ledger, appended, witnesses=policy.witness_keys)

    return cosigned


def staple_bundle(
    *,
    home: Path,
    bundle: Path,
    policy: TrustPolicy,
    signer: Signer | None,
    urls: Sequence[str] = (),
    warn: Warn | None = None,
) -> StapleResult:
    """Refresh a bundle folder's ledger proof to the newest cosigned checkpoint
    (witnessing first when `urls` are given), recorded in the ledger as a
    'staple' entry signed by `signer` (None: not recorded, as in transfer).
    Raises InputError."""
    with Ledger.open(home, create=False) as ledger:
        if signer is not None:
            ledger.ensure_intact()  # before the witnesses are asked
        witness_quietly(
            home=home, ledger=ledger, policy=policy, urls=urls, warn=warn or (lambda _: None)
        )

        def record(subject: dict[str, object]) -> int:
            assert signer is not None
            return ledger.append(
                action="staple",
                subject=subject,
                signer=signer.key,
                signer_name=signer.name,
                time=utc_now_text(),
            ).index

        return staple(
            bundle=bundle,
            ledger=ledger,
            record=record if signer is not None else None,
            witnesses=policy.witness_keys,
        )
