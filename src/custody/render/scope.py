"""Views of scope records: the one `custody select` writes, and the check
`custody verify --scope` makes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.render._base import Output, json_form

if TYPE_CHECKING:
    from custody.ops.select import SelectResult
    from custody.scope.check import ScopeReport


class ScopeViews(Output):
    @json_form(lambda self, result: result.to_json())
    def scope_selected(self, result: SelectResult) -> None:
        self._line("Scope recorded and signed.")
        self._fields(
            [
                ("Record", result.record),
                ("Scope id", result.scope_id),
                ("Bundle id", result.bundle_id),
                ("Filter", result.where),
                ("Selected", f"{result.selected} of {result.considered} items"),
                ("Merkle root", result.merkle_root or "-"),
                ("Ledger", f"entry {result.ledger_index}"),
            ]
        )

    def scope_report(self, report: ScopeReport) -> None:
        """After the bundle's own report (text only; JSON merges it there)."""
        verdict = "SCOPE VALID" if report.valid else "SCOPE NOT VALID"
        self._line("")
        self._line(
            f"{verdict}: {report.record}", style="bold green" if report.valid else "bold red"
        )
        self._fields(
            [
                ("Filter", report.where or "-"),
                ("Reason", report.reason or "-"),
                ("Signed by", report.signer or "-"),
                ("Selected", str(report.selected if report.selected is not None else "-")),
            ]
        )
        for problem in report.problems:
            self._line(f"  {problem}")
        if not report.filter_checked and report.valid:
            self._line("  (filter not evaluated again: that needs the whole bundle)")
        use = report.use or {}
        for problem in use.get("problems") or []:
            self._line(f"  {problem}", style="bold red")
        if use.get("kind") == "package" and use.get("scope_sha256") is None:
            self._line("  The package names no scope record (made without --scope).")
        if report.used is not None:
            if report.outside:
                self._line(
                    f"OUTSIDE SCOPE: {len(report.outside)} of {report.used} item(s) used",
                    style="bold red",
                )
                for (bundle_path, member), problem in zip(
                    report.outside, report.outside_problems, strict=False
                ):
                    self._line(f"  {bundle_path}" + (f" :: {member}" if member else ""))
                    self._line(f"    {problem}")
            else:
                self._line(f"All {report.used} item(s) used are inside the scope.")
