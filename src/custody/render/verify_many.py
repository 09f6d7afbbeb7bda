"""`custody verify` over many bundles: one verdict line per bundle, then a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.render._base import Output

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.ops.disclosure.verify import PackageReport
    from custody.ops.verify_many import VerifyOutcome, VerifyTally

VERDICT_WIDTH = len("NOT VERIFIED  ")
"""The verdicts line up, so that the bundles form one column a person can scan."""


class VerifyManyViews(Output):
    """`custody verify B1 B2 ...` and `--from LIST`."""

    def verify_outcome(self, outcome: VerifyOutcome) -> None:
        """One bundle: a JSON line, or one verdict line (with -q, only a bundle that
        did not verify). The report's warnings go to stderr, naming the bundle."""
        if self.json_output:
            self.json_line(outcome.to_json())
            return
        report, error, package = outcome.report, outcome.error, outcome.package
        if package is not None:
            self._package_line(package)
            return
        if report is not None and report.verified:
            if not self.quiet:
                open_ = " (hand-over open)" if report.open_handover is not None else ""
                set_aside = len(report.os_leftovers)
                note = f" ({set_aside} added by macOS or Windows, set aside)" if set_aside else ""
                self._line(
                    f"{'VERIFIED':<{VERDICT_WIDTH}}{report.bundle}{open_}{note}", style="green"
                )
        elif report is not None:
            first, more = report.problems[0].kind if report.problems else "?", ""
            if len(report.problems) > 1:
                more = f" (+{len(report.problems) - 1} more)"
            line = f"{'NOT VERIFIED':<{VERDICT_WIDTH}}{report.bundle}: {first}{more}"
            self._line(line, style="bold red")
        elif error is not None:
            where = f"{error.path}: " if error.path and error.path != outcome.ref.target else ""
            line = f"{'UNUSABLE':<{VERDICT_WIDTH}}{outcome.ref.target}: {where}{error.message}"
            self._line(line, style="bold red")
        if report is not None:
            for w in report.warnings:
                self.warning(f"{report.bundle}: {w}")

    def _package_line(self, package: PackageReport) -> None:
        """A disclosure package among bundles: its verdict and what it discloses."""
        if package.verified:
            if not self.quiet:
                self._line(
                    f"{'VERIFIED':<{VERDICT_WIDTH}}{package.package} (disclosure package: "
                    f"{package.sentence})",
                    style="green",
                )
            return
        first = package.problems[0].kind if package.problems else "?"
        more = f" (+{len(package.problems) - 1} more)" if len(package.problems) > 1 else ""
        self._line(
            f"{'NOT VERIFIED':<{VERDICT_WIDTH}}{package.package} (disclosure package): "
            f"{first}{more}",
            style="bold red",
        )

    def verify_summary(self, tally: VerifyTally) -> None:
        """The last line: how many verified, did not, and could not be verified."""
        if self.json_output:
            self.json_line(tally.to_json())
            return
        if self.quiet:
            return
        noun = "bundle" if tally.bundles == 1 else "bundles"
        self._line(
            f"{tally.bundles} {noun}: {tally.verified} verified, "
            f"{tally.not_verified} not verified, {tally.unusable} unusable"
        )
