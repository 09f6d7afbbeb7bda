"""Ingest, verify, audit, hand-over and timestamp results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from custody.base.keys import format_fingerprint
from custody.bundle.format.chain import open_handover_words
from custody.render._base import Output, _human_bytes, json_form

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.base.models import IngestResult, VerifyReport
    from custody.ops.audit import AuditResult
    from custody.ops.handover import HandOverResult
    from custody.ops.stamp import TimestampResult
    from custody.ops.verifier_page import VerifierPage
    from custody.tsa.roots import TsaRootInfo


class BundlesViews(Output):
    """Ingest, verify, audit, hand-over and timestamp results."""

    def timestamp_result(self, result: TimestampResult) -> None:
        for attempt in result.attempts:
            if attempt.status != "granted":
                self.warning(attempt.warning())
        if self.json_output:
            self.json(result.to_json())
            return
        for token in result.stored:
            self._line(f"Added {token.file}: {token.attempt.detail}")
        for rel in result.relisted:
            self._line(f"Listed {rel} (left unlisted by an interrupted run)")
        if not result.stored:
            self._line(f"No timestamp added to {result.bundle}.")

    @json_form(lambda self, roots, *, verb: {"tsa_roots": [r.to_json() for r in roots]})
    def tsa_roots(self, roots: Sequence[TsaRootInfo], *, verb: str | None) -> None:
        if not roots:
            self._line("No TSA roots trusted yet (custody tsa trust ROOT.pem).")
        for r in roots:
            prefix = f"{verb} " if verb else ""
            self._line(f"{prefix}{r.name}  SHA-256 {r.sha256}  (until {r.not_after})")

    @json_form(lambda self, result: result.to_json())
    def ingest_result(self, result: IngestResult) -> None:
        for s in result.skipped:
            self.warning(f"skipped {s.path}: {s.reason}")
        for w in result.warnings:
            self.warning(w)
        if self.quiet:
            self._line(result.bundle)
            return
        rows = [
            ("Bundle", result.bundle),
            ("Case", result.case),
            ("Exhibit", result.exhibit or "-"),
            ("Officer", result.officer),
            ("Key", format_fingerprint(result.fingerprint)),
            ("Files", f"{result.files} ({_human_bytes(result.bytes)})"),
            ("Statement", result.statement_sha256),
        ]
        if result.skipped:
            rows.append(("Skipped", f"{len(result.skipped)} (see warnings above)"))
        self._line("Ingested and signed.")
        self._fields(rows)

    @json_form(lambda self, report: report.to_json())
    def verify_report(self, report: VerifyReport) -> None:
        st = report.statement or {}
        if report.verified and report.open_handover is not None:
            self._line(f"VERIFIED — hand-over open: {report.bundle}", style="bold green")
            self._line(f"Hand-over open: {open_handover_words(report.open_handover)}.")
        elif report.verified:
            self._line(f"VERIFIED: {report.bundle}", style="bold green")
        else:
            self._line(f"NOT VERIFIED: {report.bundle}", style="bold red")
        if report.os_leftovers:
            self._line(_leftovers_line(len(report.os_leftovers)))
            for p in report.os_leftovers:
                self._line(f"  {p.line()}")
        if self.quiet:
            for p in report.problems:
                self._line(p.line())
            return
        rows = [
            ("Case", str(st.get("case", "?"))),
            ("Exhibit", str(st.get("exhibit") or "-")),
            ("Bundle id", str(st.get("bundle_id", "?"))),
            ("Created", str(st.get("created", "?"))),
        ]
        signer = report.signer
        who = signer.name or "?"
        trust = f"trusted as {signer.trusted_as}" if signer.trusted else "NOT TRUSTED"
        sig = "valid signature" if signer.signature_valid else "signature NOT valid"
        rows.append(("Signed by", f"{who} ({sig}, {trust})"))
        if signer.fingerprint:
            rows.append(("Key", format_fingerprint(signer.fingerprint)))
        if signer.key_status:
            reg = signer.register or {}
            where = f" ({reg.get('unit')} register v{reg.get('version')})" if reg else ""
            rows.append(("Key status", f"{signer.key_status}{where}"))
            rows.append(("Decided by", str(signer.decided_by)))
        rows.append(
            ("Files", f"{report.files_checked} checked ({_human_bytes(report.bytes_checked)})")
        )
        ledger = report.ledger
        if ledger is not None:
            where = {
                "consistent": "; matches your ledger",
                "other": "; recorded in another ledger than yours",
            }.get(str(ledger.get("local_ledger")), "")
            state = "valid" if ledger.get("proof_valid") else "NOT valid"
            rows.append(
                (
                    "Ledger",
                    f"entry {ledger.get('leaf_index')} of {ledger.get('tree_size')} in "
                    f"{ledger.get('origin')} (proof {state}{where})",
                )
            )
            for gone in ledger.get("abandoned_in_case") or ():
                rows.append(
                    (
                        "Abandoned",
                        f"ingest {gone['bundle_id']} (entry {gone['ingest_entry']}) of this case "
                        f"was interrupted; no such bundle exists (entry {gone['index']})",
                    )
                )
            if ledger.get("checkpoint_no_later_than"):
                rows.append(
                    (
                        "Checkpoint",
                        f"timestamped no later than {ledger['checkpoint_no_later_than']} "
                        f"({ledger.get('checkpoint_no_later_than_tsa')})",
                    )
                )
        rows.append(("Signed", _signing_time_line(report)))
        if ledger is not None and ledger.get("cosignatures"):
            rows.append(("Witnessed", cosignatures_line(ledger["cosignatures"])))
        if report.storage is not None:
            rows.append(("Storage", _storage_line(report.storage)))
        team = report.team
        if team is not None:
            state = "valid" if team.get("proof_valid") else "NOT valid"
            by = team.get("trusted_team") or "no team key you trust"
            rows.append(
                (
                    "Team log",
                    f"leaf {team.get('leaf_index')} of {team.get('tree_size')} in "
                    f"{team.get('origin')} (proof {state}, signed by {by})",
                )
            )
            if team.get("cosignatures"):
                rows.append(("Team witnessed", cosignatures_line(team["cosignatures"])))
        self._fields(rows)
        for t in report.timestamps:
            self._line(f"  timestamp {t.file}: {t.status.upper()}, {t.when()} ({t.detail})")
        if len(report.custody_chain) > 1:
            self._line("Chain of custody:")
            for step in report.custody_chain:
                self._line("  " + _chain_line(step))
        for w in report.warnings:
            self.warning(w)
        if report.problems:
            self._line(f"{len(report.problems)} problem(s):")
            for p in report.problems:
                self._line(f"  {p.line()}")

    @json_form(lambda self, result, report: {**result.to_json(), "verify": report.to_json()})
    def audit(self, result: AuditResult, report: VerifyReport) -> None:
        if not report.verified:
            self._line(f"The bundle does NOT verify: {report.bundle}", style="bold red")
            for p in report.problems:
                self._line(f"  {p.line()}")
        verdict = "MATCHES" if result.identical else "DIFFERS"
        style = "bold green" if result.identical else "bold red"
        self._line(f"{verdict}: {result.folder} against {result.bundle}", style=style)
        counts = result.to_json()["counts"]
        self._line(", ".join(f"{n} {k}" for k, n in counts.items()))
        for a, b in result.moved:
            self._line(f"  moved: {a} -> {b}")
        for label, paths in (
            ("modified", result.modified),
            ("new", result.new),
            ("missing", result.missing),
            ("skipped", result.skipped),
        ):
            for path in paths:
                self._line(f"  {label}: {path}")

    @json_form(lambda self, result: result.to_json())
    def hand_over(self, result: HandOverResult) -> None:
        other = result.counterpart
        who = other.get("name") or other.get("fingerprint")
        if result.action == "transfer":
            self._line(f"Handed over to {who} (hand-over {result.sequence}).")
            self._line(
                "The receiver completes it with: custody receive BUNDLE --export-receipt FILE"
            )
            self._line("You close it with: custody transfer --close BUNDLE --receipt FILE")
        elif result.action == "close":
            self._line(f"Hand-over {result.sequence} closed: the receipt of {who} is brought back.")
        elif result.action == "export":
            self._line(f"Receipt of hand-over {result.sequence} exported (received earlier).")
        else:
            self._line(f"Received from {who} (hand-over {result.sequence}), countersigned.")
        if result.ledger_index is not None:
            self._line(f"Record: {result.record}; ledger entry {result.ledger_index}.")
        if result.receipt_file is not None and result.action != "close":
            self._line(f"Receipt file: {result.receipt_file} (for the sender's copy).")

    @json_form(lambda self, page: page.to_json())
    def verifier_page(self, page: VerifierPage) -> None:
        """The page written: `sha256  path` on stdout (sha256sum -c reads it)."""
        self._line(f"{page.sha256}  {page.path}")
        self.note(f"Verifier page written ({page.size:,} bytes); open it in any browser, offline.")


def _leftovers_line(n: int) -> str:
    """Said beside the verdict: what the leftovers are, and that the verdict is
    about the evidence without them (bundle/read/leftovers.py)."""
    files, are = ("file", "is") if n == 1 else ("files", "are")
    return (
        f"{n} {files} added by macOS Finder or Windows Explorer (listed below) {are} "
        "not part of the evidence; the verdict is about the evidence without them"
    )


def _chain_line(step: dict[str, Any]) -> str:
    def who(p: Any) -> str:
        p = p or {}
        return f"{p.get('name') or '?'} ({str(p.get('fingerprint'))[:16]})"

    ok = "" if step.get("signature_valid") else "  [SIGNATURE NOT VALID]"
    if step.get("key_status") not in (None, "valid"):
        ok += f"  [key {step['key_status']}]"
    if step["event"] == "ingest":
        return f"{step.get('time')}  ingested and signed by {who(step.get('by'))}{ok}"
    if step["event"] == "transfer":
        return (
            f"{step.get('time')}  handed over by {who(step.get('by'))} to "
            f"{who(step.get('to'))}: {step.get('reason')}{ok}"
        )
    return f"{step.get('time')}  received by {who(step.get('by'))}{ok}"


def _signing_time_line(report: VerifyReport) -> str:
    """ "signed no later than ..." or "signing time not proven"."""
    if report.signed_no_later_than is None:
        return "signing time not proven (no timestamp from a TSA you trust)"
    return f"no later than {report.signed_no_later_than} ({report.signed_no_later_than_tsa})"


def _storage_line(storage: dict[str, Any]) -> str:
    """Where a stored bundle is and how it is locked, in one line."""
    count = storage.get("object_count", 0)
    if storage.get("all_locked"):
        lock = f"all {count} objects locked until at least {storage.get('retain_until_earliest')}"
    else:
        lock = f"NOT every object is locked ({count} objects)"
    holds = storage.get("legal_holds") or 0
    if holds:
        lock += f"; legal hold on {holds}"
    return f"{storage.get('location')} ({lock})"


def cosignatures_line(cosignatures: Sequence[dict[str, Any]]) -> str:
    valid = sum(1 for c in cosignatures if c.get("status") == "valid")
    names = ", ".join(f"{c.get('witness')} {c.get('status')}" for c in cosignatures)
    return f"{valid} valid cosignature(s) of {len(cosignatures)}: {names}"
