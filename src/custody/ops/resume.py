"""Continuing a stopped ingest: the leftover of an ingest of the same source, case,
exhibit and out, found through its pending marker (base/pending.py), whose journal
(bundle/write/journal.py) says what it had finished (docs/ledger.md, "Interrupted
ingests continue")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from custody.base.home import pending_dir
from custody.base.pending import Leftover, find_leftovers
from custody.bundle.write.journal import JOURNAL_NAME, ResumePoint, read_journal
from custody.io.ledger_store import Ledger
from custody.ops.recovery import ingest_entry_index


@dataclass(frozen=True)
class Found:
    """What the look for a stopped ingest found: one to continue (with its marker,
    which recovery must leave alone), and lines to tell the officer."""

    point: ResumePoint | None
    marker: Path | None
    lines: tuple[str, ...]


def _same_place(leftover: Leftover, out: Path | None) -> bool:
    bundle = leftover.ingest.bundle
    where = Path(os.path.abspath(Path.cwd() if out is None else out))
    return bundle == where or bundle.parent == where


def find_resumable(
    *,
    home: Path,
    ledger: Ledger,
    source: Path,
    case: str,
    exhibit: str | None,
    out: Path | None,
    asked: bool,
) -> Found:
    """The stopped ingest this one continues, if there is one it can trust.

    `asked` (--resume): say so in one line when there is nothing to continue."""
    src = os.path.abspath(source)
    case, exhibit = case.strip(), None if exhibit is None else exhibit.strip()
    for leftover in find_leftovers(pending_dir(home)):
        ing = leftover.ingest
        if leftover.completed or ing.case != case or ing.exhibit != exhibit:
            continue
        if not _same_place(leftover, out) or len(leftover.partial_copies) != 1:
            continue
        [partial] = leftover.partial_copies
        journal = read_journal(partial / JOURNAL_NAME)
        if journal is not None and journal[0].source != src:
            continue  # another source's ingest: recovery explains it as before
        if journal is None or journal[0].bundle_id != ing.bundle_id:
            return Found(
                None,
                None,
                (
                    f"{partial}: the stopped ingest's journal cannot be trusted; "
                    "starting over (its partial copy is removed)",
                ),
            )
        if ingest_entry_index(ledger, ing.bundle_id) is not None:
            return Found(
                None,
                None,
                (
                    f"{partial}: the stopped ingest was already recorded in the ledger; "
                    "starting over under a new bundle id",
                ),
            )
        head, entries = journal
        line = (
            f"continuing the ingest of case {case} started {head.created} "
            f"(bundle id {head.bundle_id}): {len(entries)} finished copies to check"
        )
        return Found(ResumePoint(partial, ing.bundle, head, entries), leftover.marker, (line,))
    nothing = (f"{src}: no stopped ingest of this source to continue; starting it",)
    return Found(None, None, nothing if asked else ())
