"""custody: a chain of custody for digital evidence.

The public Python API is the names below (docs/architecture.md, "The public
Python API"): the operations the command line calls, each a keyword-only
function returning a frozen result, the trust choices, the results, and the
errors. Everything else is internal and may move.

    import custody
    report = custody.verify_with_home(bundle=Path("bundle.zip"))
    if not report.verified:
        for problem in report.problems:
            print(problem.line())

The names are loaded when first used, so that `import custody` stays cheap for
the command line, which needs only a few of them per run.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> the module that defines it
_API: dict[str, str] = {
    # keys and trust
    "create_key": "custody.ops.actions",
    "add_trusted_key": "custody.ops.actions",
    "TrustOptions": "custody.ops.trust",
    "load_trust_policy": "custody.ops.trust",
    "TrustPolicy": "custody.policy",
    # ingest and verify
    "ingest_evidence": "custody.ops.actions",
    "IngestRequest": "custody.ops.actions",
    "verify_with_home": "custody.ops.actions",
    "evaluate_with_home": "custody.ops.actions",
    "record_verification": "custody.ops.actions",
    "audit_against_bundle": "custody.ops.actions",
    "verify_many": "custody.ops.verify_many",
    "parse_bundle_list": "custody.ops.verify_many",
    "BundleRef": "custody.ops.verify_many",
    # hand-overs
    "transfer_custody": "custody.ops.handover",
    "receive_custody": "custody.ops.handover",
    "close_handover": "custody.ops.handover_close",
    # disclosure
    "disclose_with_home": "custody.ops.disclosure.disclose",
    "verify_package": "custody.ops.disclosure.verify",
    # witness intake and receipts
    "invite_witness": "custody.ops.intake.manage",
    "revoke_invitation": "custody.ops.intake.manage",
    "list_intake": "custody.ops.intake.manage",
    "verify_receipt": "custody.ops.intake.receipts",
    # perceptual matching
    "find_similar": "custody.ops.similar",
    "decide_pair": "custody.ops.similar",
    # results
    "VerifyReport": "custody.base.models",
    "IngestResult": "custody.base.models",
    "Problem": "custody.base.models",
    # errors (each carries its exit code: docs/exit-codes.md)
    "CustodyError": "custody.base.errors",
    "InputError": "custody.base.errors",
    "NotABundleError": "custody.base.errors",
    "VerificationFailed": "custody.base.errors",
    "EnvironmentFailure": "custody.base.errors",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'custody' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
