"""Frozen result types shared between the library and the command line."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle: what kind, which file, and the details."""

    kind: str
    path: str | None
    detail: str

    def line(self) -> str:
        """One line for a person."""
        where = f"{self.path}: " if self.path else ""
        return f"{self.kind}: {where}{self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "detail": self.detail}


@dataclass(frozen=True)
class SignerInfo:
    """Who signed a bundle, and whether this verifier trusts that key."""

    name: str | None
    fingerprint: str | None
    trusted: bool
    signature_valid: bool
    trusted_as: str | None = None
    register: dict[str, Any] | None = None
    """The trusted register that lists the key: unit, unit_fingerprint, version."""
    key_status: str | None = None
    """What the registers say about the key (register/rule.py); None without one."""
    decided_by: str | None = None
    """The rule that decided, as a sentence."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "trusted": self.trusted,
            "trusted_as": self.trusted_as,
            "signature_valid": self.signature_valid,
            "register": self.register,
            "key_status": self.key_status,
            "decided_by": self.decided_by,
        }


def _seconds(value: float | None) -> float | int | None:
    """Whole seconds as an integer in JSON (3600, not 3600.0)."""
    return int(value) if value is not None and value.is_integer() else value


def timestamp_when(gen_time: object, accuracy_seconds: object) -> str:
    """A token's time for people: '2026-11-25T12:00:03Z ± 1 s', or the genTime
    alone when the token states no accuracy ('?' without a genTime)."""
    when = str(gen_time) if gen_time else "?"
    if isinstance(accuracy_seconds, int | float) and not isinstance(accuracy_seconds, bool):
        return f"{when} ± {_seconds(float(accuracy_seconds))} s"
    return when


@dataclass(frozen=True)
class TimestampStatus:
    """One RFC 3161 token in a bundle or beside a checkpoint, as checked."""

    file: str
    tsa: str | None
    gen_time: str | None
    """The TSA's time, ISO 8601 UTC."""
    serial: str | None
    policy: str | None
    status: str
    """trusted, untrusted or invalid (docs/format.md)."""
    detail: str
    accuracy_s: float | None = None
    """The token's stated accuracy in seconds (RFC 3161 places the real time
    within gen_time ± accuracy); None when the token states none."""

    def when(self) -> str:
        """genTime ± accuracy, for people."""
        return timestamp_when(self.gen_time, self.accuracy_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "tsa": self.tsa,
            "gen_time": self.gen_time,
            "accuracy_seconds": _seconds(self.accuracy_s),
            "serial": self.serial,
            "policy": self.policy,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class VerifyReport:
    """Everything `custody verify` found. `verified` is true only when nothing is wrong."""

    bundle: str
    verified: bool
    signer: SignerInfo
    problems: tuple[Problem, ...]
    statement: dict[str, Any] | None
    statement_sha256: str | None
    files_checked: int
    bytes_checked: int
    custody_chain: tuple[dict[str, Any], ...] = ()
    open_handover: dict[str, Any] | None = None
    """The last hand-over, when its receipt is not in this copy (bundle/format/chain.py):
    the bundle may still verify; the chain of custody is open, not broken."""
    ledger: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    file_table: Callable[[], Sequence[dict[str, Any]]] | None = field(
        default=None, compare=False, repr=False
    )
    verified_at: str | None = None
    tool: str | None = None
    timestamps: tuple[TimestampStatus, ...] = ()
    signed_no_later_than: str | None = None
    """The earliest trusted genTime (ISO 8601 UTC): the signature existed by then."""
    signed_no_later_than_tsa: str | None = None
    """The TSA whose token proves signed_no_later_than."""
    storage: dict[str, Any] | None = None
    """For a bundle verified in object storage: where, and each object's lock."""
    team: dict[str, Any] | None = None
    original_names: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    """{stored manifest path: original path bytes under data/} from the signed
    custody/names.json, for files stored under another name (bundle/format/names.py)."""
    os_leftovers: tuple[Problem, ...] = ()
    """Files an operating system added (bundle/read/leftovers.py): set aside, never
    evidence, shown beside the verdict."""

    @property
    def files(self) -> Sequence[dict[str, Any]]:
        """Every listed file with its state and signed metadata, built on demand
        (only --json and --report need it); from a verification, a StreamedList
        read back from disk row by row."""
        return self.file_table() if self.file_table is not None else ()

    def to_json(self) -> dict[str, Any]:
        st = self.statement or {}
        digest = self.statement_sha256
        files = self.files
        return {
            "bundle": self.bundle,
            "verified": self.verified,
            "verified_at": self.verified_at,
            "verified_with": self.tool,
            "bundle_id": st.get("bundle_id"),
            "bundle_fingerprint": short_digest(digest) if digest else None,
            "statement_sha256": self.statement_sha256,
            "case": st.get("case"),
            "exhibit": st.get("exhibit"),
            "officer": st.get("officer"),
            "note": st.get("note"),
            "created": st.get("created"),
            "made_with": st.get("tool"),
            "file_count": st.get("file_count"),
            "total_bytes": st.get("total_bytes"),
            "signer": self.signer.to_json(),
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "problems": [p.to_json() for p in self.problems],
            "warnings": list(self.warnings),
            "os_leftovers": [p.to_json() for p in self.os_leftovers],
            "custody_chain": list(self.custody_chain),
            "open_handover": self.open_handover,
            "ledger": self.ledger,
            "team": self.team,
            "files": files if isinstance(files, list) else list(files),
            "timestamps": [t.to_json() for t in self.timestamps],
            "signed_no_later_than": self.signed_no_later_than,
            "signed_no_later_than_tsa": self.signed_no_later_than_tsa,
            "storage": self.storage,
        }


def short_digest(digest: str) -> str:
    """The first 16 hex digits of a digest in groups of four: fits on a paper form."""
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4)).upper()


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """A source entry that was not copied, and why (symlink, FIFO, socket...)."""

    path: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class CopiedFile:
    """One evidence file as copied into a bundle, with the type its first bytes show."""

    path: str  # relative POSIX path inside the source folder
    size: int
    sha256: str
    mime: str | None


@dataclass(frozen=True)
class IngestResult:
    """What `custody ingest` made."""

    bundle: str
    bundle_id: str
    statement_sha256: str
    case: str
    exhibit: str | None
    officer: str
    fingerprint: str
    files: int
    bytes: int
    skipped: tuple[SkippedEntry, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = field(default_factory=tuple)
    timestamps: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """One per TSA asked: tsa (URL), status (granted / failed), gen_time, detail, file."""

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "bundle_id": self.bundle_id,
            "statement_sha256": self.statement_sha256,
            "case": self.case,
            "exhibit": self.exhibit,
            "officer": self.officer,
            "fingerprint": self.fingerprint,
            "files": self.files,
            "bytes": self.bytes,
            "skipped": [s.to_json() for s in self.skipped],
            "warnings": list(self.warnings),
            "timestamps": list(self.timestamps),
        }


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of a long operation, reported to the on_progress callback."""

    phase: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
