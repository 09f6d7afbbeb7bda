"""The journal of a resumable ingest: one line per finished copy, so that an ingest
stopped at any moment (kill -9, power loss, Ctrl-C) continues without copying again
what it had finished (docs/ledger.md, "Interrupted ingests continue").

The journal lives inside the partial copy's hidden folder, as `.custody-journal`: a
first line naming the ingest (bundle id, case, exhibit, source, start time), then one
JSON line per copied file (path, size, SHA-256, the source's mtime, the sniffed type),
appended in one write each, in the order files finish. It is flushed to the disk at
most once a second: a line that did not reach the disk only costs a copy again, and a
torn last line is ignored. It is never trusted blindly: a resume hashes each
journalled copy again and compares it with its line, and the source file's size and
mtime with the ones it had when copied. The journal is removed before the bundle is
checked and made visible; it is never part of a bundle.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base import faults
from custody.base.fsutil import remove_tree
from custody.base.models import CopiedFile
from custody.bundle.format import layout
from custody.bundle.read.source import SourceFile

JOURNAL_NAME = ".custody-journal"
JOURNAL_FORMAT = "custody/ingest-journal/v1"
_SYNC_EVERY = 1.0  # seconds


@dataclass(frozen=True)
class JournalHead:
    """Which ingest a journal belongs to."""

    bundle_id: str
    case: str
    exhibit: str | None
    source: str
    created: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "bundle_id": self.bundle_id,
            "case": self.case,
            "exhibit": self.exhibit,
            "source": self.source,
            "created": self.created,
        }


@dataclass(frozen=True)
class Journalled:
    """One finished copy, as its journal line says."""

    path: str
    size: int
    sha256: str
    mtime_ns: int
    mime: str | None


@dataclass(frozen=True)
class ResumePoint:
    """A stopped ingest to continue: its partial copy, final path, the journal's
    head and how many finished copies it lists (read again, streamed, to reuse them)."""

    partial: Path
    bundle: Path
    head: JournalHead
    finished: int

    @property
    def journal(self) -> Path:
        return self.partial / JOURNAL_NAME


class Journal:
    """Appends finished copies (thread-safe: the copy workers share it)."""

    def __init__(self, path: Path, head: JournalHead | None, *, resumed: str | None = None) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if head is None:
            # Continuing: a torn last line is cut off, so that the next one starts whole.
            os.ftruncate(self._fd, _end_of_last_line(self._fd))
        self._synced = time.monotonic()
        if head is not None:
            self._write(head.to_json())
            os.fsync(self._fd)
        if resumed is not None:
            # When each run continued it: the ledger entry names these (ADR 0024).
            self._write({"resumed": resumed})
            os.fsync(self._fd)

    def _write(self, doc: dict[str, Any]) -> None:
        os.write(self._fd, json.dumps(doc, sort_keys=True, ensure_ascii=True).encode() + b"\n")

    def copied(self, f: SourceFile, c: CopiedFile, mtime_ns: int) -> None:
        line: dict[str, Any] = {"path": c.path, "size": c.size, "sha256": c.sha256}
        line.update(mtime_ns=mtime_ns, mime=c.mime)
        with self._lock:
            self._write(line)
            self._count += 1
            faults.file_copied(c.path, self._count)
            now = time.monotonic()
            if now - self._synced >= _SYNC_EVERY:
                os.fdatasync(self._fd)
                self._synced = now

    def close(self) -> None:
        os.close(self._fd)


def _end_of_last_line(fd: int) -> int:
    """The offset just after the journal's last newline (reading from the end)."""
    end = os.fstat(fd).st_size
    pos = end
    while pos > 0:
        start = max(0, pos - (1 << 16))
        found = os.pread(fd, pos - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        pos = start
    return 0


def _parse_head(line: bytes) -> JournalHead | None:
    try:
        doc = json.loads(line)
        if not isinstance(doc, dict) or doc.get("format") != JOURNAL_FORMAT:
            return None
        return JournalHead(
            bundle_id=str(doc["bundle_id"]),
            case=str(doc["case"]),
            exhibit=None if doc.get("exhibit") is None else str(doc["exhibit"]),
            source=str(doc["source"]),
            created=str(doc["created"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _parse_entry(line: bytes) -> Journalled:
    d = json.loads(line)
    mime = d.get("mime")
    return Journalled(
        path=str(d["path"]),
        size=int(d["size"]),
        sha256=str(d["sha256"]),
        mtime_ns=int(d["mtime_ns"]),
        mime=None if mime is None else str(mime),
    )


def _whole_lines(path: Path) -> Iterator[bytes]:
    """The journal's lines that end with a newline (a torn last one is ignored)."""
    with open(path, "rb") as f:
        for line in f:
            if line.endswith(b"\n"):
                yield line[:-1]


class UntrustedJournal(ValueError):
    """A journal line other than a torn last one is damaged."""


def journal_entries(path: Path) -> Iterator[Journalled]:
    """The journal's finished copies, streamed in the order written (a file
    copied twice appears twice: the later line is the one that counts).
    Raises OSError, or UntrustedJournal for a damaged line."""
    lines = _whole_lines(path)
    next(lines, None)  # the head
    for line in lines:
        if line.startswith(b'{"resumed":'):
            continue  # a run that continued the ingest (journal_resumes)
        try:
            yield _parse_entry(line)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UntrustedJournal(str(e)) from e


def journal_resumes(path: Path) -> list[str]:
    """The times at which runs continued this ingest, in order (UTC text).
    Raises OSError."""
    found = []
    for line in _whole_lines(path):
        if line.startswith(b'{"resumed":'):
            try:
                found.append(str(json.loads(line)["resumed"]))
            except (ValueError, KeyError, TypeError):
                continue
    return found


def check_journal(path: Path) -> tuple[JournalHead, int] | None:
    """The journal's head and the number of its lines, read through once without
    holding them; None when it cannot be trusted (missing, not a journal, a
    damaged line other than a torn last one)."""
    try:
        lines = _whole_lines(path)
        first = next(lines, None)
        head = None if first is None else _parse_head(first)
        if head is None:
            return None
        count = sum(1 for _ in journal_entries(path))
    except (OSError, UntrustedJournal):
        return None
    return head, count


def read_journal(path: Path) -> tuple[JournalHead, dict[str, Journalled]] | None:
    """The journal's head and its lines by path, in memory (for tests and small
    journals; ingest streams check_journal and journal_entries)."""
    checked = check_journal(path)
    if checked is None:
        return None
    return checked[0], {e.path: e for e in journal_entries(path)}


def clear_for_resume(partial: Path) -> None:
    """Everything the stopped ingest wrote after its copies (the custody/ folder,
    tag files) goes: it is all made again from the copies."""
    for entry in os.scandir(partial):
        if entry.name in (layout.PAYLOAD_DIR, JOURNAL_NAME):
            continue
        if entry.is_dir(follow_symlinks=False):
            remove_tree(Path(entry.path))
        else:
            os.unlink(entry.path)


def disk_full(e: BaseException) -> bool:
    """Whether `e` (or what it was raised from) is a full disk or quota."""
    for cause in (e, e.__cause__):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
    return False


@contextlib.contextmanager
def working_folder(
    bundle_path: Path, existing: Path | None, keep_on_interrupt: bool
) -> Iterator[Path]:
    """The hidden folder the bundle is built in: `existing` (a stopped ingest's,
    to continue) or a fresh one. Removed on failure, except when the ingest can
    be continued: on Ctrl-C when it is resumable, and on a full disk (ENOSPC,
    EDQUOT), always: then it stays, with its journal, to be continued once
    space is freed (nothing in it is lost)."""
    if existing is None:
        bundle_path.parent.mkdir(parents=True, exist_ok=True)
        existing = Path(
            tempfile.mkdtemp(
                dir=bundle_path.parent, prefix=f".{bundle_path.name}.", suffix=".partial"
            )
        )
    try:
        yield existing
    except KeyboardInterrupt:
        if not keep_on_interrupt:
            with contextlib.suppress(OSError):
                remove_tree(existing)
        raise
    except BaseException as e:
        if not disk_full(e):
            with contextlib.suppress(OSError):
                remove_tree(existing)
        raise
