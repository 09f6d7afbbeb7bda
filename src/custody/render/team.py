"""The team log on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from custody.base.keys import format_fingerprint
from custody.render._base import Output, json_form
from custody.render.bundles import cosignatures_line

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.io.team.log import TeamInfo
    from custody.io.team.publish import PublishResult
    from custody.ops.team_query import TeamProofResult
    from custody.team.audit import TeamReport


class TeamViews(Output):
    """The team log on PostgreSQL."""

    @json_form(lambda self, info, *, joined: info.to_json())
    def team_info(self, info: TeamInfo, *, joined: bool) -> None:
        verb = "Joined" if joined else "Created"
        self._line(f"{verb} the team log '{info.name}' ({info.origin}).", style="bold green")
        self._fields(
            [
                ("Team key", format_fingerprint(info.fingerprint)),
                ("Verifier key", info.verifier_key),
                ("Leaves", str(info.tree_size)),
            ]
        )
        if joined and not info.key_checked:
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
            waits = "entry waits" if result.pending == 1 else "entries wait"
            self._line(f"Not published: {result.pending} {waits} in your ledger.")
        elif result.published_entries:
            entries = "entry" if result.published_entries == 1 else "entries"
            self._line(
                f"Published {result.published_entries} {entries} ({result.published_leaves} "
                f"leaves); the team log holds {result.tree_size}.",
                style="bold green",
            )
        elif result.tree_size is None:
            self._line("Nothing to publish: this home has no ledger yet.")
        else:
            self._line(f"Nothing new to publish; the team log holds {result.tree_size}.")

    @json_form(lambda self, rows: {"entries": list(rows)})
    def team_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self._rich_table(
            ("leaf", "time (UTC)", "action", "who", "bundle", "exhibit", "detail"),
            [
                (
                    str(r["leaf"]),
                    str(r["time"] or "?").replace("T", " ")[:16],
                    str(r["action"]),
                    str(r["who"] or "?"),
                    str(r["bundle_id"] or "")[:8],
                    str(r["exhibit"] or ""),
                    str(r["detail"] or ""),
                )
                for r in rows
            ],
            no_wrap=("leaf", "time (UTC)", "action", "bundle"),
        )

    @json_form(lambda self, report: report.to_json())
    def team_report(self, report: TeamReport) -> None:
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
        if report.witnessed is not None:
            line = cosignatures_line(report.witnessed["cosignatures"])
            self._line(f"Witnessed (checkpoint of {report.witnessed['size']} leaves): {line}")
        else:
            self._line("Witnessed: no cosigned team checkpoint yet (custody team witness)")
        if report.checkpoint is not None:
            self._line("Current checkpoint:")
            self.out_lines(report.checkpoint)

    @json_form(lambda self, result: result.to_json())
    def team_proof(self, result: TeamProofResult) -> None:
        self._line(
            f"Stapled {result.path}: leaf {result.leaf_index} of {result.tree_size} in "
            f"{result.origin}, checkpoint with {result.cosignatures} cosignature(s)."
        )
