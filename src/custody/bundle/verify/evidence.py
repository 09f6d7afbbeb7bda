"""The values verification passes along: the Evidence read from disk, the Facts
earlier checks established, the Step each check returns, and the Outcome of all
of them (bundle/verify/pipeline.py runs the checks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.models import Problem, SignerInfo
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_ledger import LocalLedger
from custody.bundle.verify.check_time import TimeCheck
from custody.bundle.verify.manifest import ListedManifest
from custody.policy import TrustPolicy


@dataclass(frozen=True)
class Evidence:
    """Everything verification reads, as the operation read it: the scan of the
    bundle, the verifier's own ledger (a read-only view, or None), and for a
    bundle just written, what was copied into it."""

    scan: BundleScan
    local_ledger: LocalLedger | None = None
    copied: Mapping[str, tuple[int, str]] | None = None
    """{manifest path: (size, SHA-256)} as taken while copying, for a bundle just
    written: its manifest is read back against these and its payload is not
    hashed again. None for every other bundle."""
    pending_ok_for: str | None = None
    """The receiver whose receipt is the one being made (custody receive): the
    hand-over awaiting it is not 'open' for --require-closed-chain."""


@dataclass(frozen=True)
class Facts:
    """What the steps so far established, for the steps after them."""

    scan: BundleScan | None = None
    """The scan without the files an operating system added (OS leftovers)."""
    os_leftovers: tuple[Problem, ...] = ()
    manifest: ListedManifest | Mapping[str, str] = field(default_factory=dict)
    """The payload manifest (streamed, bundle/verify/manifest.py); {} for a
    bundle just written, whose manifest is read back against the copies."""
    listed: int = 0
    """How many payload files the manifest lists."""
    bag_info: Mapping[str, str] = field(default_factory=dict)
    statement: dict[str, Any] | None = None
    statement_bytes: bytes | None = None
    statement_sha256: str | None = None
    original_names: Mapping[str, bytes] = field(default_factory=dict)
    time: TimeCheck | None = None
    signer: SignerInfo | None = None
    signer_key: Ed25519PublicKey | None = None
    ledger: Mapping[str, Any] | None = None
    team: Mapping[str, Any] | None = None
    chain: tuple[dict[str, Any], ...] = ()
    open_handover: Mapping[str, Any] | None = None
    committed_note: str | None = None
    """The officer's note as its salted commitment holds it (the statement holds none)."""

    def scanned(self) -> BundleScan:
        """The scan, once the first step has set OS leftovers aside."""
        assert self.scan is not None, "set_aside_os_leftovers runs first"
        return self.scan


@dataclass(frozen=True)
class Step:
    """What one step found, and the facts as they stand after it."""

    facts: Facts
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()


class Check(Protocol):
    def __call__(
        self, evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
    ) -> Step: ...


def collect(run: Callable[[list[Problem]], Any]) -> tuple[Any, tuple[Problem, ...]]:
    """Call a check written against a problem list; return its result and what it added."""
    found: list[Problem] = []
    result = run(found)
    return result, tuple(found)


@dataclass(frozen=True)
class Outcome:
    """Every step run: the facts, and every problem and warning in order."""

    facts: Facts
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
