"""Everything a person or a script sees: tables, progress bars, JSON.

The only module that imports rich. One Console per stream, with markup and
highlighting off so a file named '[red]x' prints as itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from .keys import KeyPair, PublicKeyInfo, format_fingerprint, short_fingerprint
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
        self.out.print(table)
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


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
