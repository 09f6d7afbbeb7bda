"""Everything a person or a script sees: tables, progress bars, JSON.

The only module that imports rich. One Console per stream, with markup and
highlighting off so a file named '[red]x' prints as itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from .keys import format_fingerprint, short_fingerprint

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from .actions import HandOverResult
    from .audit import AuditResult
    from .bundle.show import BundleMetadata
    from .keys import KeyPair, PublicKeyInfo
    from .ledger.audit import LedgerReport
    from .ledger.consistency import ConsistencyResult
    from .models import IngestResult, ProgressEvent, VerifyReport
    from .progress import ProgressCallback


class Renderer:
    """Writes results to stdout and everything else to stderr."""

    def __init__(self, *, json_output: bool = False, quiet: bool = False) -> None:
        self.json_output = json_output
        self.quiet = quiet
        self.out = Console(markup=False, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal and not self.json_output and not self.quiet

    # --- plain lines -----------------------------------------------------------------

    def error(self, line: str) -> None:
        self.err.print(f"custody: error: {line}", style="bold red")

    def warning(self, line: str) -> None:
        if not self.quiet:
            self.err.print(f"custody: warning: {line}", style="yellow")

    def info(self, line: str) -> None:
        if not self.quiet and not self.json_output:
            self.out.print(line)

    def json_line(self, obj: Any) -> None:
        """One JSON Lines record on stdout."""
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def json(self, obj: Any) -> None:
        sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    # --- progress ----------------------------------------------------------------------

    @contextmanager
    def progress(self, description: str) -> Iterator[ProgressCallback | None]:
        """A progress callback that drives a bar on a terminal; None in a pipe."""
        if not self.interactive:
            yield None
            return
        # Only a terminal shows a bar: pipes and scripts never pay for importing it.
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.err,
            transient=True,
        )
        task: TaskID | None = None

        def update(event: ProgressEvent) -> None:
            nonlocal task
            files = f"{event.files_done}/{event.files_total} files"
            if task is None:
                task = bar.add_task(description, total=event.bytes_total or None, files=files)
            bar.update(
                task, completed=event.bytes_done, total=event.bytes_total or None, files=files
            )

        with bar:
            yield update

    # --- results -------------------------------------------------------------------------

    def ingest_result(self, result: IngestResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        for s in result.skipped:
            self.warning(f"skipped {s.path}: {s.reason}")
        for w in result.warnings:
            self.warning(w)
        if self.quiet:
            self.out.print(result.bundle)
            return
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("Bundle", result.bundle)
        table.add_row("Case", result.case)
        table.add_row("Exhibit", result.exhibit or "-")
        table.add_row("Officer", result.officer)
        table.add_row("Key", format_fingerprint(result.fingerprint))
        table.add_row("Files", f"{result.files} ({_human_bytes(result.bytes)})")
        table.add_row("Statement", result.statement_sha256)
        if result.skipped:
            table.add_row("Skipped", f"{len(result.skipped)} (see warnings above)")
        self.out.print("Ingested and signed.")
        self.out.print(table)

    def verify_report(self, report: VerifyReport) -> None:
        if self.json_output:
            self.json(report.to_json())
            return
        st = report.statement or {}
        if report.verified:
            self.out.print(f"VERIFIED: {report.bundle}", style="bold green")
        else:
            self.out.print(f"NOT VERIFIED: {report.bundle}", style="bold red")
        if self.quiet:
            for p in report.problems:
                self.out.print(p.line())
            return
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("Case", str(st.get("case", "?")))
        table.add_row("Exhibit", str(st.get("exhibit") or "-"))
        table.add_row("Bundle id", str(st.get("bundle_id", "?")))
        table.add_row("Created", str(st.get("created", "?")))
        signer = report.signer
        who = signer.name or "?"
        trust = f"trusted as {signer.trusted_as}" if signer.trusted else "NOT TRUSTED"
        sig = "valid signature" if signer.signature_valid else "signature NOT valid"
        table.add_row("Signed by", f"{who} ({sig}, {trust})")
        if signer.fingerprint:
            table.add_row("Key", format_fingerprint(signer.fingerprint))
        table.add_row(
            "Files", f"{report.files_checked} checked ({_human_bytes(report.bytes_checked)})"
        )
        ledger = report.ledger
        if ledger is not None:
            where = {
                "consistent": "; matches your ledger",
                "other": "; recorded in another ledger than yours",
            }.get(str(ledger.get("local_ledger")), "")
            state = "valid" if ledger.get("proof_valid") else "NOT valid"
            table.add_row(
                "Ledger",
                f"entry {ledger.get('leaf_index')} of {ledger.get('tree_size')} in "
                f"{ledger.get('origin')} (proof {state}{where})",
            )
        self.out.print(table)
        if len(report.custody_chain) > 1:
            self.out.print("Chain of custody:")
            for step in report.custody_chain:
                self.out.print("  " + _chain_line(step))
        for w in report.warnings:
            self.warning(w)
        if report.problems:
            self.out.print(f"{len(report.problems)} problem(s):")
            for p in report.problems:
                self.out.print(f"  {p.line()}")

    def key_pairs(self, pairs: Sequence[KeyPair], trusted: Sequence[PublicKeyInfo]) -> None:
        if self.json_output:
            self.json(
                {
                    "keys": [
                        {
                            "id": p.key_id,
                            "name": p.name,
                            "fingerprint": p.fingerprint,
                            "encrypted": p.encrypted,
                            "private_key": str(p.private_key_path),
                            "public_key": str(p.public_key_path),
                        }
                        for p in pairs
                    ],
                    "trusted": [{"name": t.name, "fingerprint": t.fingerprint} for t in trusted],
                }
            )
            return
        mine = Table(title="Your keys", title_justify="left")
        for col in ("id", "name", "fingerprint", "encrypted"):
            mine.add_column(col)
        for p in pairs:
            mine.add_row(
                p.key_id, p.name, short_fingerprint(p.fingerprint), "yes" if p.encrypted else "NO"
            )
        self.out.print(mine)
        theirs = Table(title="Trusted keys", title_justify="left")
        theirs.add_column("name")
        theirs.add_column("fingerprint")
        for t in trusted:
            theirs.add_row(t.name, format_fingerprint(t.fingerprint))
        self.out.print(theirs)

    def audit(self, result: AuditResult, report: VerifyReport) -> None:
        if self.json_output:
            self.json({**result.to_json(), "verify": report.to_json()})
            return
        if not report.verified:
            self.out.print(f"The bundle does NOT verify: {report.bundle}", style="bold red")
            for p in report.problems:
                self.out.print(f"  {p.line()}")
        verdict = "MATCHES" if result.identical else "DIFFERS"
        style = "bold green" if result.identical else "bold red"
        self.out.print(f"{verdict}: {result.folder} against {result.bundle}", style=style)
        counts = result.to_json()["counts"]
        self.out.print(", ".join(f"{n} {k}" for k, n in counts.items()))
        for a, b in result.moved:
            self.out.print(f"  moved: {a} -> {b}")
        for label, paths in (
            ("modified", result.modified),
            ("new", result.new),
            ("missing", result.missing),
            ("skipped", result.skipped),
        ):
            for path in paths:
                self.out.print(f"  {label}: {path}")

    def metadata(self, result: BundleMetadata) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        if not result.matches_statement:
            self.warning("the metadata does not match the signed statement: run custody verify")
        table = Table()
        table.add_column("path", overflow="fold")
        table.add_column("type")
        table.add_column("captured at")
        table.add_column("place")
        table.add_column("device")
        table.add_column("duration", justify="right")
        for r in result.files:
            gps = r.get("gps") or {}
            place = f"{gps['lat']:.5f}, {gps['lon']:.5f}" if gps.get("lat") is not None else ""
            device = r.get("device") or {}
            who = " ".join(str(v) for v in (device.get("make"), device.get("model")) if v)
            mime = str(r.get("mime") or "?")
            if r.get("extension_mismatch"):
                mime += " (name says otherwise)"
            if r.get("errors"):
                mime += f" [{len(r['errors'])} error(s)]"
            duration = r.get("duration_s")
            table.add_row(
                str(r.get("path")),
                mime,
                str(r.get("captured_at") or ""),
                place,
                who,
                f"{duration:.1f} s" if isinstance(duration, (int, float)) else "",
            )
        self.out.print(table)

    def hand_over(self, result: HandOverResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        other = result.counterpart
        who = other.get("name") or other.get("fingerprint")
        if result.action == "transfer":
            self.out.print(f"Handed over to {who} (hand-over {result.sequence}).")
            self.out.print("The receiver completes it with: custody receive BUNDLE")
        else:
            self.out.print(f"Received from {who} (hand-over {result.sequence}), countersigned.")
        self.out.print(f"Record: {result.record}; ledger entry {result.ledger_index}.")

    def ledger_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        if self.json_output:
            self.json({"entries": list(rows)})
            return
        table = Table()
        table.add_column("#", no_wrap=True, justify="right")
        table.add_column("time (UTC)", no_wrap=True, min_width=16)
        table.add_column("action", no_wrap=True, min_width=8)
        table.add_column("who", min_width=8)
        table.add_column("bundle", no_wrap=True, min_width=8)
        table.add_column("case", min_width=6)
        table.add_column("detail", min_width=10)
        for r in rows:
            time = str(r["time"] or "?").replace("T", " ")[:16]
            table.add_row(
                str(r["index"]),
                time,
                str(r["action"]),
                str(r["who"] or "?"),
                str(r["bundle_id"] or "")[:8],
                str(r["case"] or ""),
                str(r["detail"] or ""),
            )
        self.out.print(table)

    def ledger_report(self, report: LedgerReport) -> None:
        if self.json_output:
            self.json(report.to_json())
            return
        if report.valid:
            self.out.print(
                f"LEDGER INTACT: {report.size} entries, {report.origin}", style="bold green"
            )
        else:
            self.out.print(f"LEDGER DAMAGED: {report.path}", style="bold red")
            for p in report.problems:
                self.out.print(f"  {p.line()}")

    def consistency(self, result: ConsistencyResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        if result.consistent:
            self.out.print(
                f"CONSISTENT: the ledger ({result.new_size} entries) extends the checkpoint "
                f"of {result.old_size} entries",
                style="bold green",
            )
        else:
            self.out.print("NOT CONSISTENT:", style="bold red")
            for line in result.problems:
                self.out.print(f"  {line}")


def _chain_line(step: dict[str, Any]) -> str:
    def who(p: Any) -> str:
        p = p or {}
        return f"{p.get('name') or '?'} ({str(p.get('fingerprint'))[:16]})"

    ok = "" if step.get("signature_valid") else "  [SIGNATURE NOT VALID]"
    if step["event"] == "ingest":
        return f"{step.get('time')}  ingested and signed by {who(step.get('by'))}{ok}"
    if step["event"] == "transfer":
        return (
            f"{step.get('time')}  handed over by {who(step.get('by'))} to "
            f"{who(step.get('to'))}: {step.get('reason')}{ok}"
        )
    return f"{step.get('time')}  received by {who(step.get('by'))}{ok}"


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
