"""An ingest of content already ingested under the same case and exhibit.

Running the same list of sources twice would otherwise make a second signed
bundle of every source. The ledger's `ingests` table finds the earlier ingest
entries with the same case, exhibit and manifest digest (an index, so the cost
does not grow with the ledger); each is then read and parsed, and only an entry
whose own signed subject says so counts: an edited lookup table can hide a repeat
(a second bundle, as before this check) but never invent one.
"""

from __future__ import annotations

from dataclasses import dataclass

from custody.io.ledger_store import Ledger
from custody.tlog.entries import EntryError, parse_entry


@dataclass(frozen=True)
class EarlierIngest:
    """An ingest entry of the same case, exhibit and content."""

    index: int
    bundle_id: str
    time: str

    def line(self, repeats: int) -> str:
        more = f", and {repeats - 1} more time(s) since" if repeats > 1 else ""
        return (
            f"already ingested as {self.bundle_id} (ledger entry {self.index}, {self.time}{more})"
        )


def earlier_ingests(
    ledger: Ledger, *, case: str, exhibit: str | None, manifest_sha256: str
) -> list[EarlierIngest]:
    """The ingests of this content under this case and exhibit, oldest first
    (an ingest recorded as `abandoned` never made a bundle and is left out)."""
    found = []
    for index in ledger.ingests_with_content(
        case=case, exhibit=exhibit, manifest_sha256=manifest_sha256
    ):
        data = ledger.entry_bytes(index)
        if data is None:
            continue
        try:
            entry = parse_entry(data)
        except EntryError:
            continue
        subject = entry.subject
        if (
            entry.action == "ingest"
            and entry.index == index
            and subject.get("case") == case
            and subject.get("exhibit") == exhibit
            and subject.get("manifest_sha256") == manifest_sha256
            and isinstance(subject.get("bundle_id"), str)
        ):
            found.append(EarlierIngest(index, subject["bundle_id"], entry.time))
    return found
