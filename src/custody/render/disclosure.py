"""Disclosure results: what `custody disclose` did, and a package's verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.base.keys import format_fingerprint
from custody.render._base import Output, json_form

if TYPE_CHECKING:
    from custody.ops.disclosure.disclose import DisclosureResult
    from custody.ops.disclosure.verify import PackageReport


class DisclosureViews(Output):
    """custody disclose, and custody verify on a disclosure package."""

    def disclosure_result(self, result: DisclosureResult) -> None:
        for note in result.notes:
            self.warning(note)
        if self.json_output:
            self.json(result.to_json())
            return
        from custody.disclosure.summary import sentence

        self._line(f"Disclosure package written: {result.package}", style="bold green")
        rows = [
            ("Disclosure id", result.disclosure_id),
            ("Bundle id", result.bundle_id),
            ("Disclosed", sentence({**result.summary, "attested_by": None, **_attested(result)})),
        ]
        if result.zip:
            rows.append(("Zip", result.zip))
        if result.ledger_index is not None:
            rows.append(("Ledger", f"entry {result.ledger_index}"))
        self._fields(rows)

    @json_form(lambda self, report: report.to_json())
    def package_report(self, report: PackageReport) -> None:
        if report.verified:
            self._line(f"VERIFIED DISCLOSURE: {report.package}", style="bold green")
        else:
            self._line(f"NOT VERIFIED: {report.package}", style="bold red")
        if self.quiet:
            for p in report.problems:
                self._line(p.line())
            return
        st = report.statement or {}
        signer = report.signer
        d = report.disclosure
        trust = f"trusted as {signer.trusted_as}" if signer.trusted else "NOT TRUSTED"
        sig = "valid signature" if signer.signature_valid else "signature NOT valid"
        who = report.discloser
        dtrust = f"trusted as {who.get('trusted_as')}" if who.get("trusted") else "NOT TRUSTED"
        dsig = "valid signature" if who.get("signature_valid") else "signature NOT valid"
        rows = [
            ("Case", str(st.get("case", "?"))),
            ("Exhibit", str(st.get("exhibit") or "-")),
            ("Bundle id", str(st.get("bundle_id", "?"))),
            ("Signed by", f"{signer.name or '?'} ({sig}, {trust})"),
            ("Key", format_fingerprint(signer.fingerprint or "")),
            ("Disclosed to", str(d.get("to") or "?")),
            ("Disclosed by", f"{who.get('name') or '?'} ({dsig}, {dtrust})"),
            ("Disclosed on", str(d.get("created") or "?")),
            ("Contents", report.sentence),
            ("Officer's note", str(d.get("note"))),
        ]
        if d.get("withheld_fields"):
            rows.append(("Fields", f"{d['withheld_fields']} metadata fields withheld"))
        proven = report.time.get("disclosed_no_later_than")
        tokens = report.time.get("timestamps") or []
        if proven:
            rows.append(
                (
                    "Disclosed no later than",
                    f"{proven} ({report.time.get('disclosed_no_later_than_tsa')})",
                )
            )
        elif tokens:
            rows.append(("Disclosure time", "not proven (no timestamp from a TSA you trust)"))
        if report.ledger is not None:
            rows.append(
                (
                    "Ledger",
                    f"entry {report.ledger['leaf_index']} of "
                    f"{report.ledger['tree_size']} (proof valid)",
                )
            )
        self._fields(rows)
        for p in report.problems:
            self._line(f"  {p.line()}")


def _attested(result: DisclosureResult) -> dict[str, object]:
    return {"derived": [{**x, "attested_by": "you"} for x in result.summary.get("derived", [])]}
