"""Bundles in S3 object storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.render._base import Output, _human_bytes, json_form

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.io.s3.listing import StoreListing
    from custody.ops.store_pull import PullResult
    from custody.ops.store_push import PushResult


class StoreViews(Output):
    """Bundles in S3 object storage."""

    @json_form(lambda self, result: result.to_json())
    def store_push(self, result: PushResult) -> None:
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

    @json_form(lambda self, listing: listing.to_json())
    def store_list(self, listing: StoreListing) -> None:
        if not listing.bundles:
            self.info(f"No bundles under {listing.location}")
            return
        rows = []
        for b in listing.bundles:
            until = b.retain_until or "not locked"
            if not b.complete:
                until += " (INCOMPLETE push)"
            rows.append((b.name, b.case or "-", b.exhibit or "-", b.bundle_id or "-", until))
        self._rich_table(
            ("Bundle", "Case", "Exhibit", "Bundle id", "Retained until"),
            rows,
            title=listing.location,
            title_justify="left",
        )

    @json_form(lambda self, result: result.to_json())
    def store_pull(self, result: PullResult) -> None:
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
