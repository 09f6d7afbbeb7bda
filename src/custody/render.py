"""Everything a person or a script sees: tables, progress bars, JSON.

The only module that imports rich, and only when it is needed: on a terminal,
and for the few wide tables. Lines and label/value lists going to a pipe or a
file are written as plain text: no padding to a guessed width, and none of
rich's start-up cost on every scripted run. Rich's consoles have markup and
highlighting off so a file named '[red]x' prints as itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from .keys import format_fingerprint, short_fingerprint

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from rich.console import Console

    from .actions import HandOverResult
    from .audit import AuditResult
    from .bundle.chat import ChatView
    from .bundle.recheck import C2paRecheck
    from .bundle.show import BundleMetadata
    from .bundle.stamp import TimestampResult
    from .bundle.staple import StapleResult
    from .keys import KeyPair, PublicKeyInfo
    from .ledger.audit import LedgerReport
    from .ledger.consistency import ConsistencyResult
    from .models import IngestResult, ProgressEvent, VerifyReport
    from .progress import ProgressCallback
    from .register.authority import AuthorityResult
    from .register.store import TrustRegisterResult
    from .store.listing import StoreListing
    from .store.pull import PullResult
    from .store.push import PushResult
    from .team.audit import TeamReport
    from .team.log import PublishResult, TeamInfo
    from .team.query import TeamProofResult
    from .tsa.roots import TsaRootInfo
    from .verifier_page import VerifierPage
    from .witness.submit import WitnessRun


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Renderer:
    """Writes results to stdout and everything else to stderr."""

    def __init__(self, *, json_output: bool = False, quiet: bool = False) -> None:
        self.json_output = json_output
        self.quiet = quiet

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(markup=False, highlight=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, markup=False, highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return _is_terminal(sys.stderr) and not self.json_output and not self.quiet

    # --- plain lines -----------------------------------------------------------------

    def _line(self, text: str, *, style: str | None = None, err: bool = False) -> None:
        """One line: styled by rich on a terminal, plain text anywhere else."""
        stream = sys.stderr if err else sys.stdout
        if _is_terminal(stream):
            (self.err if err else self.out).print(text, style=style)
        else:
            stream.write(text + "\n")
            stream.flush()

    def _fields(self, rows: Sequence[tuple[str, str]]) -> None:
        """Labels and values in two columns."""
        if _is_terminal(sys.stdout):
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold")
            table.add_column()
            for label, value in rows:
                table.add_row(label, value)
            self.out.print(table)
            return
        width = max((len(label) for label, _ in rows), default=0)
        for label, value in rows:
            self._line(f"{label:<{width}}  {value}")

    def _table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        whole: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """A table: drawn by rich on a terminal; in a pipe or a file, tab-separated
        lines (a '# title' line, a header, then one line a row) with every field
        whole (`whole`, when given, holds the rows' full values) and never cut."""
        if _is_terminal(sys.stdout):
            from rich.table import Table

            table = Table(title=title, title_justify="left")
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in rows:
                table.add_row(*row)
            self.out.print(table)
            return
        if title:
            self._line(f"# {title}")
        self._line("\t".join(columns))
        for row in whole if whole is not None else rows:
            self._line("\t".join(_tsv_field(v) for v in row))

    def error(self, line: str) -> None:
        self._line(f"custody: error: {line}", style="bold red", err=True)

    def warning(self, line: str) -> None:
        if not self.quiet:
            self._line(f"custody: warning: {line}", style="yellow", err=True)

    def note(self, line: str) -> None:
        """A remark for the person at the terminal, on stderr."""
        self._line(line, err=True)

    def info(self, line: str) -> None:
        if not self.quiet and not self.json_output:
            self._line(line)

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

    def tsa_roots(self, roots: Sequence[TsaRootInfo], *, verb: str | None) -> None:
        if self.json_output:
            self.json({"tsa_roots": [r.to_json() for r in roots]})
            return
        if not roots:
            self._line("No TSA roots trusted yet (custody tsa trust ROOT.pem).")
        for r in roots:
            prefix = f"{verb} " if verb else ""
            self._line(f"{prefix}{r.name}  SHA-256 {r.sha256}  (until {r.not_after})")

    def ingest_result(self, result: IngestResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
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

    def verify_report(self, report: VerifyReport) -> None:
        if self.json_output:
            self.json(report.to_json())
            return
        st = report.statement or {}
        if report.verified:
            self._line(f"VERIFIED: {report.bundle}", style="bold green")
        else:
            self._line(f"NOT VERIFIED: {report.bundle}", style="bold red")
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
            rows.append(("Witnessed", _cosignatures_line(ledger["cosignatures"])))
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
        self._fields(rows)
        for t in report.timestamps:
            self._line(
                f"  timestamp {t.file}: {t.status.upper()}, {t.gen_time or '?'} ({t.detail})"
            )
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

    def store_push(self, result: PushResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        if self.quiet:
            self._line(result.location)
            return
        retention = result.retention.to_json()
        lock = (
            f"{retention['mode']} until {retention['retain_until']} ({retention['source']})"
            if retention["mode"]
            else "none (--no-lock): objects can be deleted or written over"
        )
        self._line("Pushed.")
        self._fields(
            [
                ("Location", result.location),
                ("Case", str(result.case or "-")),
                ("Exhibit", str(result.exhibit or "-")),
                ("Bundle id", str(result.bundle_id or "-")),
                (
                    "Objects",
                    f"{result.objects} ({result.uploaded} sent, "
                    f"{result.already_stored} already stored and checked; "
                    f"{_human_bytes(result.bytes_uploaded)} sent)",
                ),
                ("Object Lock", lock),
                ("Ledger", f"entry {result.ledger_index}"),
            ]
        )

    def store_list(self, listing: StoreListing) -> None:
        if self.json_output:
            self.json(listing.to_json())
            return
        if not listing.bundles:
            self.info(f"No bundles under {listing.location}")
            return
        from rich.table import Table

        table = Table(title=listing.location, title_justify="left")
        for column in ("Bundle", "Case", "Exhibit", "Bundle id", "Retained until"):
            table.add_column(column, overflow="fold")
        for b in listing.bundles:
            until = b.retain_until or "not locked"
            if not b.complete:
                until += " (INCOMPLETE push)"
            table.add_row(b.name, b.case or "-", b.exhibit or "-", b.bundle_id or "-", until)
        self.out.print(table)

    def store_pull(self, result: PullResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        for p in result.problems:
            self._line(f"  {p.line()}")
        if result.intact:
            self.info(
                f"Restored {result.bundle} ({result.objects} objects, "
                f"{_human_bytes(result.bytes)}); every file matches its manifest"
            )
        else:
            self._line(
                f"Restored {result.bundle}, but {len(result.problems)} file(s) do not match "
                "the bundle's manifests (listed above)"
            )

    def key_pairs(
        self,
        pairs: Sequence[KeyPair],
        trusted: Sequence[PublicKeyInfo],
        *,
        registers: Sequence[dict[str, Any]] = (),
        listed: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        """Your keys and trusted keys, each with what the trusted registers say
        about it (`listed(fingerprint)`), and the trusted registers themselves."""

        def said(fp: str) -> list[dict[str, Any]]:
            return listed(fp) if listed is not None else []

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
                            "registers": said(p.fingerprint),
                        }
                        for p in pairs
                    ],
                    "trusted": [
                        {
                            "name": t.name,
                            "fingerprint": t.fingerprint,
                            "registers": said(t.fingerprint),
                        }
                        for t in trusted
                    ],
                    "registers": list(registers),
                }
            )
            return

        def status(fp: str) -> tuple[str, ...]:
            # The column is there only when the verifier trusts a register.
            if not registers:
                return ()
            return ("; ".join(str(r["summary"]) for r in said(fp)) or "-",)

        extra = ("register says",) if registers else ()
        self._table(
            ("id", "name", "fingerprint", "encrypted", *extra),
            [
                (
                    p.key_id,
                    p.name,
                    short_fingerprint(p.fingerprint),
                    "yes" if p.encrypted else "NO",
                    *status(p.fingerprint),
                )
                for p in pairs
            ],
            title="Your keys",
            whole=[
                (
                    p.key_id,
                    p.name,
                    p.fingerprint,
                    "yes" if p.encrypted else "NO",
                    *status(p.fingerprint),
                )
                for p in pairs
            ],
        )
        if not _is_terminal(sys.stdout):
            self._line("")
        self._table(
            ("name", "fingerprint", *extra),
            [(t.name, format_fingerprint(t.fingerprint), *status(t.fingerprint)) for t in trusted],
            title="Trusted keys",
            whole=[(t.name, t.fingerprint, *status(t.fingerprint)) for t in trusted],
        )
        if registers:
            if not _is_terminal(sys.stdout):
                self._line("")
            self._table(
                ("unit", "unit key", "version", "keys"),
                [
                    (
                        str(r["unit"]),
                        format_fingerprint(str(r["unit_fingerprint"])),
                        str(r["version"]),
                        str(r["keys"]),
                    )
                    for r in registers
                ],
                title="Trusted registers",
                whole=[
                    (str(r["unit"]), str(r["unit_fingerprint"]), str(r["version"]), str(r["keys"]))
                    for r in registers
                ],
            )

    def authority(self, result: AuthorityResult) -> None:
        """The outcome of a `custody authority` command."""
        data = result.to_json()
        if self.json_output:
            self.json(data)
            return
        r = result.register
        lines = {
            "init": f"Created the unit key of {r.unit.name}",
            "add": f"Certified {data.get('name')}: valid from {data.get('valid_from')} "
            f"until {data.get('valid_until')}",
            "revoke": f"Revoked {data.get('name')} ({data.get('reason')}, "
            f"effective {data.get('since')})",
            "rotate": f"New unit key for {r.unit.name}, announced and signed by the old one",
            "export": f"Exported {r.label()} ({data.get('keys')} keys)"
            + (f" to {data.get('output')}" if data.get("output") else ""),
        }
        self.info(lines[result.action])
        rows = [
            ("Unit key", format_fingerprint(r.unit.fingerprint)),
            ("Register", f"version {r.version}"),
            ("Ledger", f"entry {result.ledger_index}"),
        ]
        if data.get("fingerprint"):
            rows.insert(0, ("Officer key", format_fingerprint(str(data["fingerprint"]))))
        if data.get("public_key_file"):
            rows.append(("Public key", str(data["public_key_file"])))
        if not self.quiet:
            self._fields(rows)

    def trust_register(self, result: TrustRegisterResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        r = result.register
        if result.outcome == "added":
            head = f"Now trusting the key register of {r.unit.name}, version {r.version}"
        elif result.outcome == "updated":
            head = (
                f"Updated the key register of {r.unit.name} from version "
                f"{result.previous_version} to {r.version}"
            )
        else:
            head = f"Already trusting the key register of {r.unit.name}, version {r.version}"
        self.info(head)
        self._fields(
            [
                ("Unit key", format_fingerprint(r.unit.fingerprint)),
                ("Keys listed", str(len(r.keys))),
                ("Stored as", str(result.path)),
            ]
        )

    def audit(self, result: AuditResult, report: VerifyReport) -> None:
        if self.json_output:
            self.json({**result.to_json(), "verify": report.to_json()})
            return
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

    def metadata(self, result: BundleMetadata) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        if not result.matches_statement:
            self.warning("the metadata does not match the signed statement: run custody verify")
        rows = []
        for r in _with_members(result.files):
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
            rows.append(
                (
                    str(r.get("path")),
                    mime,
                    str(r.get("captured_at") or ""),
                    place,
                    who,
                    f"{duration:.1f} s" if isinstance(duration, (int, float)) else "",
                    _c2pa_cell(r.get("c2pa")),
                )
            )
        self._table(("path", "type", "captured at", "place", "device", "duration", "C2PA"), rows)
        for r in _with_members(result.files):
            c2pa = r.get("c2pa")
            if isinstance(c2pa, dict) and c2pa.get("trust_list"):
                trust = c2pa["trust_list"]
                self.note(  # stderr: stdout stays one table row per line in a pipe
                    f"C2PA checked with {c2pa.get('sdk')} against the trust list of "
                    f"{trust.get('date')} (SHA-256 {trust.get('sha256')})"
                )
                break

    def c2pa_recheck(self, result: C2paRecheck) -> None:
        self._line("")
        self._line(
            f"C2PA rechecked today with {result.sdk} against the trust list of "
            f"{result.trust_list.get('date')}: {len(result.files)} file(s), "
            f"{result.changed} changed"
        )
        for f in result.files:
            if f["error"]:
                self._line(f"  {f['path']}: {f['error']}")
            elif f["changed"]:
                self._line(
                    f"  {f['path']}: {f['recorded_state']} at ingest, {f['state']} now"
                    + (f" ({', '.join(f['failures'])})" if f["failures"] else "")
                )
            else:
                self._line(f"  {f['path']}: {f['state']}, unchanged")

    def chat(self, view: ChatView) -> None:
        if self.json_output:
            self.json(view.to_json())
            return
        self._line(f"{view.path}: {view.dialect}, {len(view.messages)} message(s)")
        if view.assumption:
            self._line(f"Times: {view.assumption}")
        line_based = view.dialect.startswith(("whatsapp", "signal"))
        for m in view.messages:
            if line_based:  # the raw lines already say when and who: print them as they are
                self._line(m["text"])
            else:
                raw = " ".join(m["text"].split())
                self._line(f"[{m.get('time_as_written')}] {m.get('sender') or '(service)'}")
                self._line(f"    {raw[:300]}{'...' if len(raw) > 300 else ''}")
            if m.get("location"):
                self._line(f"    location {m['location']['lat']}, {m['location']['lon']}")
            for a in m.get("attachments") or []:
                if a.get("sha256"):
                    self._line(f"    attachment {a['name']} -> {a['path']} sha256 {a['sha256']}")
                else:
                    self._line(f"    attachment {a['name']}: {a['status']}")

    def hand_over(self, result: HandOverResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        other = result.counterpart
        who = other.get("name") or other.get("fingerprint")
        if result.action == "transfer":
            self._line(f"Handed over to {who} (hand-over {result.sequence}).")
            self._line("The receiver completes it with: custody receive BUNDLE")
        else:
            self._line(f"Received from {who} (hand-over {result.sequence}), countersigned.")
        self._line(f"Record: {result.record}; ledger entry {result.ledger_index}.")

    def verifier_page(self, page: VerifierPage) -> None:
        """The page written: `sha256  path` on stdout (sha256sum -c reads it)."""
        if self.json_output:
            self.json(page.to_json())
            return
        sys.stdout.write(f"{page.sha256}  {page.path}\n")
        sys.stdout.flush()
        self.note(f"Verifier page written ({page.size:,} bytes); open it in any browser, offline.")

    def ledger_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        if self.json_output:
            self.json({"entries": list(rows)})
            return
        columns = ("#", "time (UTC)", "action", "who", "bundle", "case", "detail")
        short, whole = [], []
        for r in rows:
            fields = (
                str(r["index"]),
                str(r["time"] or "?"),
                str(r["action"]),
                str(r["who"] or "?"),
                str(r["bundle_id"] or ""),
                str(r["case"] or ""),
                str(r["detail"] or ""),
            )
            whole.append(fields)
            time = fields[1].replace("T", " ")[:16]
            short.append((fields[0], time, fields[2], fields[3], fields[4][:8], *fields[5:]))
        self._table(columns, short, whole=whole)

    def ledger_report(self, report: LedgerReport, *, interrupted: Sequence[str] = ()) -> None:
        if self.json_output:
            self.json({**report.to_json(), "interrupted_ingests": list(interrupted)})
            return
        if report.valid:
            self._line(f"LEDGER INTACT: {report.size} entries, {report.origin}", style="bold green")
        else:
            self._line(f"LEDGER DAMAGED: {report.path}", style="bold red")
            for p in report.problems:
                self._line(f"  {p.line()}")

    def consistency(self, result: ConsistencyResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        if result.consistent:
            self._line(
                f"CONSISTENT: the ledger ({result.new_size} entries) extends the checkpoint "
                f"of {result.old_size} entries",
                style="bold green",
            )
        else:
            self._line("NOT CONSISTENT:", style="bold red")
            for line in result.problems:
                self._line(f"  {line}")
        stamped = result.checkpoint_time
        if stamped is not None:
            if stamped.no_later_than is not None:
                self._line(
                    f"Checkpoint timestamped: its {result.old_size} entries existed no later "
                    f"than {stamped.no_later_than} ({stamped.tsa})"
                )
            else:
                self._line("Checkpoint time not proven (no timestamp from a TSA you trust)")
            for t in stamped.tokens:
                self._line(f"  {t.file}: {t.status.upper()}, {t.gen_time or '?'} ({t.detail})")
        if result.cosignatures:
            where = f" (checkpoint of {result.witnessed_size})" if result.witnessed_size else ""
            self._line(f"Witnessed{where}: {_cosignatures_line(result.cosignatures)}")

    def witness_run(self, run: WitnessRun) -> None:
        if self.json_output:
            self.json(run.to_json())
            for o in run.outcomes:  # the one line a fork deserves, on stderr, also for scripts
                if o.status == "fork":
                    self.error(o.message)
            return
        for o in run.outcomes:
            if o.status == "cosigned":
                self._line(f"{o.url}: cosigned checkpoint of {run.size} entries")
            elif o.status == "fork":
                self.error(o.message)
            else:
                self.error(f"{o.url}: {o.status}: {o.message}")

    def staple_result(self, result: StapleResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        if result.changed:
            self._line(
                f"Stapled: the proof now leads to the checkpoint of {result.tree_size} entries "
                f"with {result.cosignatures} cosignature(s); ledger entry {result.ledger_index}."
            )
        else:
            self._line(
                f"Up to date: the proof already leads to the checkpoint of {result.tree_size} "
                f"entries ({result.cosignatures} cosignature(s))."
            )

    def team_info(self, info: TeamInfo, *, joined: bool) -> None:
        if self.json_output:
            self.json(info.to_json())
            return
        verb = "Joined" if joined else "Created"
        self._line(f"{verb} the team log '{info.name}' ({info.origin}).", style="bold green")
        self._fields(
            [
                ("Team key", format_fingerprint(info.fingerprint)),
                ("Verifier key", info.verifier_key),
                ("Leaves", str(info.tree_size)),
            ]
        )
        if joined:
            self.note("Compare the team key with the fingerprint your team lead gives you.")
        self.note("Publish your ledger with: custody ledger publish")

    def team_published(self, result: PublishResult) -> None:
        for w in result.warnings:
            self.warning(w)
        if self.json_output:
            self.json(result.to_json())
            return
        if result.refused is not None:
            self._line(f"REFUSED ({result.refused}): {result.refusal_detail}", style="bold red")
            self._line("The refusal is recorded in the team log.")
        elif not result.online:
            self._line(f"Not published: {result.pending} entries wait in your ledger.")
        elif result.published_entries:
            self._line(
                f"Published {result.published_entries} entries ({result.published_leaves} "
                f"leaves); the team log holds {result.tree_size}.",
                style="bold green",
            )
        elif result.tree_size is None:
            self._line("Nothing to publish: this home has no ledger yet.")
        else:
            self._line(f"Nothing new to publish; the team log holds {result.tree_size}.")

    def team_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        if self.json_output:
            self.json({"entries": list(rows)})
            return
        from rich.table import Table

        table = Table()
        for name in ("leaf", "time (UTC)", "action", "who", "bundle", "exhibit", "detail"):
            table.add_column(name, no_wrap=name in ("leaf", "time (UTC)", "action", "bundle"))
        for r in rows:
            table.add_row(
                str(r["leaf"]),
                str(r["time"] or "?").replace("T", " ")[:16],
                str(r["action"]),
                str(r["who"] or "?"),
                str(r["bundle_id"] or "")[:8],
                str(r["exhibit"] or ""),
                str(r["detail"] or ""),
            )
        self.out.print(table)

    def team_report(self, report: TeamReport) -> None:
        if self.json_output:
            self.json(report.to_json())
            return
        if report.valid:
            self._line(
                f"TEAM LOG INTACT: {report.size} leaves from {len(report.ledgers)} officer "
                f"ledger(s), {report.name} ({report.origin})",
                style="bold green",
            )
        else:
            self._line(f"TEAM LOG DAMAGED: {report.name} ({report.origin})", style="bold red")
            for p in report.problems:
                self._line(f"  {p.line()}")
        for r in report.refusals:
            self._line(f"  refusal at leaf {r['leaf']}: {r['ledger']} {r['reason']}: {r['detail']}")
        if report.checkpoint is not None:
            self._line("Current checkpoint:")
            self.out_text(report.checkpoint)

    def out_text(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def team_proof(self, result: TeamProofResult) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        self._line(
            f"Stapled {result.path}: leaf {result.leaf_index} of {result.tree_size} in "
            f"{result.origin}."
        )


def _cosignatures_line(cosignatures: Sequence[dict[str, Any]]) -> str:
    valid = sum(1 for c in cosignatures if c.get("status") == "valid")
    names = ", ".join(f"{c.get('witness')} {c.get('status')}" for c in cosignatures)
    return f"{valid} valid cosignature(s) of {len(cosignatures)}: {names}"


def _tsv_field(value: str) -> str:
    """A field of a tab-separated line: whole, with tabs and line breaks escaped."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
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


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


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


def _with_members(files: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each record, then the members of an archive handed over, shown under it."""
    for r in files:
        yield r
        archive = (r.get("details") or {}).get("archive") or {}
        for m in archive.get("members") or []:
            if isinstance(m, dict):
                yield {**m, "path": f"{r.get('path')}/{m.get('path')}"}


def _c2pa_cell(c2pa: Any) -> str:
    if not isinstance(c2pa, dict):
        return ""
    state = str(c2pa.get("state"))
    if state == "remote, not fetched":
        return f"{state}: {c2pa.get('remote_url')}"
    failures = [f for f in c2pa.get("failures") or [] if f != "signingCredential.untrusted"]
    if state == "invalid" and failures:
        return f"invalid ({', '.join(failures)})"
    if state == "valid":
        return "valid (signer not on the trust list)"
    return state
