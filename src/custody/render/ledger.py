"""The ledger: timelines, audits, consistency, witnesses, staples."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from custody.render._base import Output, _is_terminal, json_form
from custody.render.bundles import cosignatures_line

_LONG_HEX = re.compile(r"\b[0-9a-f]{16,}\b")
"""A fingerprint (or digest) in an entry's detail."""

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.ops.ledger.audit import LedgerReport
    from custody.ops.ledger.consistency import ConsistencyResult
    from custody.ops.staple import StapleResult
    from custody.ops.witness_submit import WitnessRun


class LedgerViews(Output):
    """The ledger: timelines, audits, consistency, witnesses, staples."""

    @json_form(lambda self, rows: {"entries": list(rows)})
    def ledger_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        columns = ("#", "time (UTC)", "action", "who", "bundle", "case", "exhibit", "detail")
        short, whole = [], []
        for r in rows:
            fields = (
                str(r["index"]),
                str(r["time"] or "?"),
                str(r["action"]),
                str(r["who"] or "?"),
                str(r["bundle_id"] or ""),
                str(r["case"] or ""),
                str(r.get("exhibit") or ""),
                (f"DAMAGED ({r['damaged']}): " if r.get("damaged") else "")
                + str(r["detail"] or ""),
            )
            whole.append(fields)
            # On a terminal: the minute ("2026-11-25 12:00"), and a bundle id's and
            # a fingerprint's first 8 characters, so that the usual ledger is a
            # table at 80 columns; the pipe and --json keep every value whole.
            time = fields[1].replace("T", " ")[:16]
            detail = _LONG_HEX.sub(lambda m: m.group(0)[:8], fields[7])
            short.append((*fields[:1], time, *fields[2:4], fields[4][:8], *fields[5:7], detail))
        actors = {r["who"] for r in rows}
        if len(actors) == 1 and _is_terminal(sys.stdout):
            # A personal ledger is mostly one officer's: said once, above the table,
            # it leaves the width to the columns that differ (a pipe keeps them all).
            (who,) = actors
            keep = [i for i in range(len(columns)) if i != 3]
            self._table(
                [columns[i] for i in keep],
                [[row[i] for i in keep] for row in short],
                title=f"Entries by {who or '?'}",
                compact=True,
            )
            return
        self._table(columns, short, whole=whole, compact=True)

    @json_form(
        lambda self, report, *, interrupted=(): {
            **report.to_json(),
            "interrupted_ingests": list(interrupted),
        }
    )
    def ledger_report(self, report: LedgerReport, *, interrupted: Sequence[str] = ()) -> None:
        if report.valid:
            self._line(f"LEDGER INTACT: {report.size} entries, {report.origin}", style="bold green")
        else:
            self._line(f"LEDGER DAMAGED: {report.path}", style="bold red")
            for p in report.problems:
                self._line(f"  {p.line()}")

    @json_form(lambda self, result: result.to_json())
    def consistency(self, result: ConsistencyResult) -> None:
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
                self._line(f"  {t.file}: {t.status.upper()}, {t.when()} ({t.detail})")
        if result.cosignatures:
            where = f" (checkpoint of {result.witnessed_size})" if result.witnessed_size else ""
            self._line(f"Witnessed{where}: {cosignatures_line(result.cosignatures)}")

    def witness_run(self, run: WitnessRun) -> None:
        if self.json_output:
            self.json(run.to_json())
            for o in run.outcomes:  # the one line a fork deserves, on stderr, also for scripts
                if o.status == "fork":
                    self.error(o.message)
            return
        for o in run.outcomes:
            if o.status == "cosigned":
                self._line(f"{o.url}: cosigned checkpoint of {run.size} {run.unit}")
            elif o.status == "fork":
                self.error(o.message)
            else:
                self.error(f"{o.url}: {o.status}: {o.message}")

    @json_form(lambda self, result: result.to_json())
    def staple_result(self, result: StapleResult) -> None:
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
