"""Continuing a stopped ingest: the leftover of an ingest of the same source, case,
exhibit and out, found through its pending marker (base/pending.py), whose journal
(bundle/write/journal.py) says what it had finished (docs/ledger.md, "Interrupted
ingests continue"; ADR 0024).

A stopped ingest stays where it is until it is continued or discarded explicitly
(`custody ingest --discard BUNDLE_ID`): another ingest run in between names it and
leaves it alone. Its copies are checked and reused here, streamed, on every core."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from custody.base.errors import InputError
from custody.base.home import pending_dir
from custody.base.pending import Leftover, clear, find_leftovers
from custody.base.progress import ProgressTracker
from custody.bundle.format import layout
from custody.bundle.read.source import SourceFile
from custody.bundle.write.copying import copy_stream
from custody.bundle.write.journal import (
    JOURNAL_NAME,
    Journal,
    JournalHead,
    ResumePoint,
    check_journal,
    clear_for_resume,
)
from custody.bundle.write.listing import SpilledListing
from custody.bundle.write.reuse import reuse_copies
from custody.bundle.write.spill import SortedIndex
from custody.io.ledger_store import Ledger
from custody.ops.recovery import ingest_entry_index


@dataclass(frozen=True)
class Found:
    """What the look for a stopped ingest found: one to continue (with its marker),
    the markers of every stopped ingest that must be left alone for a later resume
    (recovery must not clear them), and lines to tell the officer."""

    point: ResumePoint | None
    marker: Path | None
    lines: tuple[str, ...]
    kept: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Stopped:
    """A stopped ingest that can be continued."""

    leftover: Leftover
    partial: Path
    head: JournalHead
    finished: int

    def line(self) -> str:
        ing = self.leftover.ingest
        exhibit = "" if ing.exhibit is None else f" exhibit {ing.exhibit}"
        return (
            f"{ing.bundle}: the ingest of {self.head.source} (case {ing.case}{exhibit}, "
            f"bundle id {ing.bundle_id}) started {self.head.created} was stopped after "
            f"{self.finished} finished copies; it is kept: the same ingest run again (or "
            f"with --resume) continues it, 'custody ingest --discard {ing.bundle_id}' "
            "removes its partial copy"
        )


def _same_place(leftover: Leftover, out: Path | None) -> bool:
    bundle = leftover.ingest.bundle
    where = Path(os.path.abspath(Path.cwd() if out is None else out))
    return bundle == where or bundle.parent == where


def stopped_ingests(*, home: Path, ledger: Ledger) -> list[Stopped]:
    """Every stopped ingest that can be continued: not finished, not recorded in
    the ledger, one partial copy whose journal can be trusted."""
    found = []
    for leftover in find_leftovers(pending_dir(home)):
        if leftover.completed or len(leftover.partial_copies) != 1:
            continue
        [partial] = leftover.partial_copies
        checked = check_journal(partial / JOURNAL_NAME)
        if checked is None or checked[0].bundle_id != leftover.ingest.bundle_id:
            continue
        if ingest_entry_index(ledger, leftover.ingest.bundle_id) is not None:
            continue
        found.append(Stopped(leftover, partial, checked[0], checked[1]))
    return found


def discard_stopped(*, home: Path, ledger: Ledger, bundle_id: str) -> str:
    """Remove a stopped ingest's partial copy and marker (only copies: the source
    was never touched). Returns the line saying so; raises InputError when no
    stopped ingest has that bundle id."""
    for stopped in stopped_ingests(home=home, ledger=ledger):
        if stopped.leftover.ingest.bundle_id == bundle_id.strip():
            clear(stopped.leftover)
            return (
                f"{stopped.partial}: the stopped ingest of {stopped.head.source} "
                f"(bundle id {bundle_id.strip()}) was discarded; its partial copy was removed"
            )
    raise InputError(f"no stopped ingest with bundle id {bundle_id.strip()} to discard")


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
    """The stopped ingest this one continues, if there is one it can trust, and the
    other stopped ingests to keep for later.

    `asked` (--resume): say so in one line when there is nothing to continue."""
    src = os.path.abspath(source)
    case, exhibit = case.strip(), None if exhibit is None else exhibit.strip()
    stopped = stopped_ingests(home=home, ledger=ledger)
    kept = tuple(s.leftover.marker for s in stopped)
    others = tuple(s.line() for s in stopped)
    for leftover in find_leftovers(pending_dir(home)):
        ing = leftover.ingest
        if leftover.completed or ing.case != case or ing.exhibit != exhibit:
            continue
        if not _same_place(leftover, out) or len(leftover.partial_copies) != 1:
            continue
        [partial] = leftover.partial_copies
        checked = check_journal(partial / JOURNAL_NAME)
        if checked is not None and checked[0].source != src:
            continue  # another source's ingest: kept for its own resume
        if checked is None or checked[0].bundle_id != ing.bundle_id:
            return Found(
                None,
                None,
                (
                    f"{partial}: the stopped ingest's journal cannot be trusted; "
                    "starting over (its partial copy is removed)",
                    *others,
                ),
                kept,
            )
        if ingest_entry_index(ledger, ing.bundle_id) is not None:
            return Found(
                None,
                None,
                (
                    f"{partial}: the stopped ingest was already recorded in the ledger; "
                    "starting over under a new bundle id",
                    *others,
                ),
                kept,
            )
        head, finished = checked
        line = (
            f"continuing the ingest of case {case} started {head.created} "
            f"(bundle id {head.bundle_id}): {finished} finished copies to check"
        )
        rest = tuple(s.line() for s in stopped if s.leftover.marker != leftover.marker)
        return Found(
            ResumePoint(partial, ing.bundle, head, finished), leftover.marker, (line, *rest), kept
        )
    nothing = (f"{src}: no stopped ingest of this source to continue; starting it",)
    return Found(None, None, (*(nothing if asked else ()), *others), kept)


def copy_resumably(
    *,
    listing: SpilledListing,
    tmp: Path,
    tracker: ProgressTracker,
    workers: int | None,
    resume: ResumePoint | None,
    head: JournalHead | None,
    resumed_at: str,
) -> SortedIndex:
    """The copies, journalled, as {rel: (size, SHA-256, sniffed type)} on disk; when
    resuming, the good ones of the stopped ingest checked and kept, and only the
    rest copied. Memory holds a batch of files, however many there are."""
    data_dir = tmp / layout.PAYLOAD_DIR
    copies = SortedIndex(tmp)
    if resume is None:
        data_dir.mkdir()
        for d in listing.iter_dirs():
            (data_dir / d.rel).mkdir()
        journal = Journal(tmp / JOURNAL_NAME, head)
        try:
            for c in copy_stream(listing.iter_files(), data_dir, tracker, workers, journal.copied):
                copies.add(c.path, (c.size, c.sha256, c.mime))
        finally:
            journal.close()
        return copies.seal()
    clear_for_resume(tmp)
    data_dir.mkdir(exist_ok=True)
    reused = reuse_copies(listing, data_dir, resume.journal, tracker, workers)
    for d in listing.iter_dirs():
        (data_dir / d.rel).mkdir(exist_ok=True)
    journal = Journal(resume.journal, None, resumed=resumed_at)
    try:
        rest = (SourceFile(*r) for r in reused.rest)
        fresh = copy_stream(rest, data_dir, tracker, workers, journal.copied)
        good: Iterator[tuple[str, tuple[object, ...]]] = reused.good.items_in_order()
        kept = next(good, None)
        for f in listing.iter_files():
            if kept is not None and kept[0] == f.rel:
                copies.add(f.rel, kept[1])
                kept = next(good, None)
            else:
                c = next(fresh)
                copies.add(c.path, (c.size, c.sha256, c.mime))
    finally:
        journal.close()
        reused.good.close()
        reused.rest.close()
    return copies.seal()


def stopped_with_home(*, home: Path) -> tuple[Stopped, ...]:
    """`custody ingest --resume` without a source: the stopped ingests that can be
    continued (read only)."""
    with Ledger.open(home) as ledger:
        return tuple(stopped_ingests(home=home, ledger=ledger))


def discard_with_home(*, home: Path, bundle_id: str) -> str:
    """`custody ingest --discard BUNDLE_ID`: see discard_stopped."""
    with Ledger.open(home) as ledger:
        return discard_stopped(home=home, ledger=ledger, bundle_id=bundle_id)
