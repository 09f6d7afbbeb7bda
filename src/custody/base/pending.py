"""Ingests under way, so that one killed midway is found and explained, never silent.

An ingest writes a marker, `$CUSTODY_HOME/pending/<bundle_id>.json`, before it builds
anything, and holds an exclusive lock on it while it runs (the kernel drops the lock when the
process dies, however it dies). It removes the marker once the bundle is in place, or once a
failed or interrupted ingest has removed its partial copy and the ledger cannot hold its entry.
A marker that nobody holds locked is therefore the trace of an ingest that was killed, or
interrupted with something left to explain: the next ingest and `custody ledger verify` find
it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import Interrupted
from custody.base.fsutil import fsync_dir, remove_tree

MARKER_FORMAT = "custody/pending-ingest/v1"


@dataclass(frozen=True)
class PendingIngest:
    """What an ingest under way is making."""

    bundle_id: str
    case: str
    exhibit: str | None
    bundle: Path
    started: str

    def partial_copies(self) -> list[Path]:
        """The hidden folders this ingest builds in (fsutil.temporary_directory_beside)."""
        parent = self.bundle.parent
        if not parent.is_dir():
            return []
        prefix = f".{self.bundle.name}."
        return sorted(
            p
            for p in parent.iterdir()
            if p.name.startswith(prefix) and p.name.endswith(".partial") and not p.is_symlink()
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MARKER_FORMAT,
            "bundle_id": self.bundle_id,
            "case": self.case,
            "exhibit": self.exhibit,
            "bundle": str(self.bundle),
            "started": self.started,
        }


class Progress:
    """What the ingest inside `track` tells its marker: whether the ledger may
    hold its entry. The marker outlives an interrupted ingest the ledger may
    have recorded, so that the next ingest records it as abandoned."""

    def __init__(self) -> None:
        self.recording = False
        self.recorded_as: int | None = None

    def will_record(self) -> None:
        """Called just before the ledger append: from here on it may be there."""
        self.recording = True

    def recorded(self, index: int) -> None:
        self.recorded_as = index


@contextlib.contextmanager
def track(directory: Path, ingest: PendingIngest) -> Iterator[Progress]:
    """Mark `ingest` as under way for as long as the block runs.

    The marker is written durably before the block starts (before the partial
    copy's folder exists), and removed when the block ends, unless what the
    ingest leaves still needs explaining: a partial copy that could not be
    removed, or an entry the ledger may hold for a bundle that never appeared.
    Then the marker stays, unlocked, for the next ingest and `ledger verify`.

    Ctrl-C or SIGTERM (a KeyboardInterrupt) inside the block becomes
    `Interrupted`, whose message says what was left and where."""
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / f"{ingest.bundle_id}.json"
    data = json.dumps(ingest.to_json(), indent=2, sort_keys=True).encode() + b"\n"
    # Locked before it is visible under its name: a concurrent look for
    # leftovers can never take a running ingest for a dead one.
    tmp = directory / f".{ingest.bundle_id}.json.tmp"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    progress = Progress()
    keep = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, data)
        os.fsync(fd)
        os.replace(tmp, marker)
        fsync_dir(directory)
        try:
            yield progress
        except BaseException as e:
            keep = True  # until it is known that nothing needs explaining
            in_place = _bundle_is(ingest.bundle, ingest.bundle_id)
            left = ingest.partial_copies()
            keep = bool(left) or (progress.recording and not in_place)
            if isinstance(e, KeyboardInterrupt) and not isinstance(e, Interrupted):
                raise Interrupted(
                    _interrupted_line(ingest, progress, in_place, left, marker if keep else None)
                ) from e
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
        os.close(fd)
        with contextlib.suppress(OSError):
            fsync_dir(directory)


def _interrupted_line(
    ingest: PendingIngest,
    progress: Progress,
    in_place: bool,
    left: list[Path],
    marker: Path | None,
) -> str:
    """What an interrupted ingest left, for the one line the CLI prints."""
    what = f"the ingest of case {ingest.case} (bundle id {ingest.bundle_id})"
    if in_place:
        return f"{what} had finished: the bundle {ingest.bundle} is in place and whole"
    if progress.recorded_as is not None:
        recorded = f"; ledger entry {progress.recorded_as} recorded it"
    elif progress.recording:
        recorded = "; the ledger may have recorded it"
    else:
        recorded = "; nothing was recorded in the ledger"
    copy = (
        f"its partial copy was left at {', '.join(map(str, left))}"
        if left
        else "its partial copy was removed"
    )
    if marker is None:
        return f"{what} was stopped; {copy}{recorded}"
    return (
        f"{what} was stopped; {copy}{recorded}; noted in {marker}: the next ingest "
        "and 'custody ledger verify' name it"
    )


@dataclass(frozen=True)
class Leftover:
    """An ingest that was killed: its marker, and what it had made."""

    marker: Path
    ingest: PendingIngest
    partial_copies: tuple[Path, ...]
    completed: bool
    """True when the bundle did appear (killed after the rename): nothing is lost."""


def find_leftovers(directory: Path) -> list[Leftover]:
    """Markers of ingests that are not running any more (nobody holds their lock)."""
    if not directory.is_dir():
        return []
    found = []
    for marker in sorted(directory.glob("*.json")):
        try:
            fd = os.open(marker, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # finished while we looked
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # an ingest is running right now
            ingest = _read_marker(marker)
        finally:
            os.close(fd)
        if ingest is None:
            continue
        found.append(
            Leftover(
                marker,
                ingest,
                tuple(ingest.partial_copies()),
                _bundle_is(ingest.bundle, ingest.bundle_id),
            )
        )
    return found


def clear(leftover: Leftover) -> None:
    """Remove a leftover's partial copies (they are only copies: the source was
    never touched) and its marker."""
    for partial in leftover.partial_copies:
        with contextlib.suppress(FileNotFoundError):  # another ingest cleared it first
            remove_tree(partial)
    with contextlib.suppress(FileNotFoundError):
        leftover.marker.unlink()
    fsync_dir(leftover.marker.parent)


def _read_marker(marker: Path) -> PendingIngest | None:
    try:
        doc = json.loads(marker.read_bytes().decode("utf-8"))
        if doc.get("format") != MARKER_FORMAT:
            return None
        return PendingIngest(
            bundle_id=str(doc["bundle_id"]),
            case=str(doc["case"]),
            exhibit=doc.get("exhibit"),
            bundle=Path(doc["bundle"]),
            started=str(doc["started"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _bundle_is(path: Path, bundle_id: str) -> bool:
    try:
        doc = json.loads((path / "custody" / "statement.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("bundle_id") == bundle_id
