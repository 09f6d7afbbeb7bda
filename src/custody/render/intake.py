"""The witness web intake: invitations, submissions and receipts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.render._base import Output, _human_bytes, json_form

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.intake.receipt import ReceiptReport
    from custody.ops.intake.finish import FinishResult
    from custody.ops.intake.manage import IntakeList, InviteResult, RevokeResult


class IntakeViews(Output):
    """The witness web intake: invitations, submissions and receipts."""

    @json_form(lambda self, result: result.to_json())
    def intake_invite(self, result: InviteResult) -> None:
        if self.quiet:
            self._line(result.link)
            return
        inv = result.invitation
        rows = [
            ("Link", result.link),
            ("Ref", inv.ref),
            ("Expires", inv.expires),
            ("Limits", f"{_human_bytes(inv.max_bytes)}, {inv.max_files} files"),
            ("Receipt", "kept by the unit only (opaque)" if inv.opaque else "given to the witness"),
        ]
        if result.qr_png:
            rows.append(("QR code", f"{result.qr_png}, {result.qr_svg}"))
        self._fields(rows)
        self.note("Give the link only to the witness: it is the only key to this upload.")

    @json_form(lambda self, result: result.to_json())
    def intake_revoke(self, result: RevokeResult) -> None:
        inv = result.invitation
        if result.already:
            self._line(f"Invitation {inv.ref} was already revoked ({inv.revoked}).")
        else:
            self._line(f"Invitation {inv.ref} revoked: its link uploads nothing more.")

    @json_form(lambda self, listing: listing.to_json())
    def intake_list(self, listing: IntakeList) -> None:
        rows = [
            [r.ref, r.state, str(r.files), _human_bytes(r.bytes), r.expires[:10], r.code or "-"]
            for r in listing.rows
        ]
        self._table(
            ["ref", "state", "files", "bytes", "expires", "code"],
            rows,
            title=f"Intake for case {listing.case}",
        )

    @json_form(lambda self, result: result.to_json())
    def intake_finish(self, result: FinishResult) -> None:
        self._fields(
            [
                ("Bundle", result.bundle),
                ("Files", f"{result.files} ({_human_bytes(result.bytes)})"),
                ("Receipt", result.receipt),
                ("Code", result.code),
                ("Timestamp", "yes" if result.timestamped else "none"),
            ]
        )

    @json_form(lambda self, report: report.to_json())
    def receipt_report(self, report: ReceiptReport) -> None:
        s = report.summary
        self._line("VERIFIED" if report.verified else "NOT VERIFIED")
        if self.quiet and report.verified:
            return
        signer = report.signer
        rows = [
            ("Code", str(report.code)),
            ("Case", str(s.get("case"))),
            ("Received", str(s.get("received"))),
            ("Files", f"{s.get('file_count')} ({_human_bytes(int(s.get('bytes') or 0))})"),
            ("Merkle root", str(s.get("merkle_root"))),
            ("Signed by", f"{signer.get('name')} ({str(signer.get('fingerprint'))[:16]}…)"),
            ("Key", str(signer.get("decided_by") or signer.get("key_status") or "not trusted")),
        ]
        stamp = report.timestamp
        rows.append(
            (
                "Timestamp",
                f"{stamp.get('status')}: {stamp.get('gen_time')} ({stamp.get('tsa')})"
                if stamp
                else "none",
            )
        )
        ledger = report.ledger
        rows.append(
            (
                "Ledger",
                f"entry {ledger.get('leaf_index')} of {ledger.get('tree_size')}"
                + (", included" if ledger.get("included") else ", NOT proven"),
            )
        )
        if report.files is not None:
            f = report.files
            rows.append(
                (
                    "Files found",
                    f"{f['matching']} matching, {f['missing']} missing, "
                    f"{f['extra']} not in the receipt",
                )
            )
        if report.later is not None:
            later = report.later
            rows.append(
                (
                    "Later checkpoint",
                    f"size {later.get('tree_size')}: "
                    + ("still contains it" if later.get("contains") else "does NOT contain it"),
                )
            )
        self._fields(rows)
        for p in report.problems:
            self.error(p.line())
