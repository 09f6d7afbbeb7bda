"""Interrupted ingests: found from their markers (custody.base.pending), explained in one
line, and recorded as `abandoned` in the ledger (docs/ledger.md)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.home import pending_dir
from custody.base.keys import Signer
from custody.base.pending import Leftover, clear, find_leftovers
from custody.base.utc import utc_now_text
from custody.io.ledger_store import Ledger
from custody.tlog.entries import EntryError, parse_entry

if TYPE_CHECKING:
    pass


def ingest_entry_index(ledger: Ledger, bundle_id: str) -> int | None:
    """The index of the ledger entry that recorded the ingest of `bundle_id`."""
    for stored in ledger.entries():
        try:
            entry = parse_entry(stored.entry)
        except EntryError:
            continue
        if entry.action == "ingest" and entry.subject.get("bundle_id") == bundle_id:
            return entry.index
    return None


def abandoned_in_case(ledger: Ledger, case: object) -> list[dict[str, Any]]:
    """The `abandoned` entries of one case: bundle ids that never became bundles."""
    found = []
    for stored in ledger.entries():
        try:
            entry = parse_entry(stored.entry)
        except EntryError:
            continue
        if entry.action == "abandoned" and entry.subject.get("case") == case:
            found.append(
                {
                    "index": entry.index,
                    "time": entry.time,
                    "bundle_id": entry.subject.get("bundle_id"),
                    "ingest_entry": entry.subject.get("ingest_entry"),
                    "exhibit": entry.subject.get("exhibit"),
                }
            )
    return found


def describe_leftover(leftover: Leftover, recorded_as: int | None) -> str:
    """One line for a person: which ingest was interrupted, and what that left."""
    ing = leftover.ingest
    what = f"an ingest of case {ing.case} started {ing.started} (bundle id {ing.bundle_id})"
    if leftover.completed:
        return f"{ing.bundle}: {what} was interrupted after the bundle was in place; it is whole"
    copies = ", ".join(str(p) for p in leftover.partial_copies) or "no partial copy"
    if recorded_as is None:
        return f"{ing.bundle}: {what} was interrupted before it was recorded; left {copies}"
    return (
        f"{ing.bundle}: {what} was interrupted after ledger entry {recorded_as} recorded it, "
        f"and the bundle never appeared; left {copies}"
    )


def interrupted_ingests(*, home: Path, ledger: Ledger | None) -> tuple[str, ...]:
    """Lines describing every ingest that was killed and not yet explained (read only)."""
    lines = []
    for leftover in find_leftovers(pending_dir(home)):
        index = (
            None
            if leftover.completed or ledger is None
            else ingest_entry_index(ledger, leftover.ingest.bundle_id)
        )
        line = describe_leftover(leftover, index)
        if (
            ledger is not None
            and index is None
            and not leftover.completed
            and _journalled(leftover)
        ):
            line += (
                "; the same ingest run again (or with --resume) continues it, "
                f"custody ingest --discard {leftover.ingest.bundle_id} removes it"
            )
        lines.append(line)
    return tuple(lines)


def _journalled(leftover: Leftover) -> bool:
    """Whether the partial copy holds a journal to continue from (ops/resume.py)."""
    from custody.bundle.write.journal import JOURNAL_NAME

    return any((p / JOURNAL_NAME).is_file() for p in leftover.partial_copies)


def recover_interrupted_ingests(
    *, home: Path, ledger: Ledger, signer: Signer, keep: Collection[Path] = ()
) -> tuple[str, ...]:
    """Explain and tidy up every ingest that was killed: an ingest the ledger
    recorded but whose bundle never appeared gets an `abandoned` entry (the
    earlier entry is never altered); the partial copies are removed (they are
    copies; the source was never touched). Returns one line per leftover.
    `keep`: the markers of stopped ingests that can be continued (ops/resume.py):
    left alone, and named by the caller."""
    lines = []
    for leftover in find_leftovers(pending_dir(home)):
        if leftover.marker in keep:
            continue
        ing = leftover.ingest
        index = None if leftover.completed else ingest_entry_index(ledger, ing.bundle_id)
        line = describe_leftover(leftover, index)
        if index is not None:
            appended = ledger.append(
                action="abandoned",
                subject={
                    "bundle_id": ing.bundle_id,
                    "case": ing.case,
                    "exhibit": ing.exhibit,
                    "ingest_entry": index,
                    "bundle": str(ing.bundle),
                    "started": ing.started,
                    "reason": "the ingest was interrupted before the bundle was made visible; "
                    "no bundle with this id exists, and its partial copy was removed",
                },
                signer=signer.key,
                signer_name=signer.name,
                time=utc_now_text(),
            )
            line += f"; recorded as abandoned in ledger entry {appended.index}"
        if leftover.partial_copies:
            line += "; the partial copy was removed"
        clear(leftover)
        lines.append(line)
    return tuple(lines)
