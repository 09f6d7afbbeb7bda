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
import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base import faults
from custody.base.fsutil import remove_tree, temporary_directory_beside
from custody.base.hashing import CHUNK, HEAD_BYTES
from custody.base.models import CopiedFile
from custody.base.progress import ProgressTracker
from custody.bundle.format import layout
from custody.bundle.read.source import SourceFile, SourceListing
from custody.metadata.sniff import sniff

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
    """A stopped ingest to continue: its partial copy, final path and journal."""

    partial: Path
    bundle: Path
    head: JournalHead
    entries: dict[str, Journalled]


class Journal:
    """Appends finished copies (thread-safe: the copy workers share it)."""

    def __init__(self, path: Path, head: JournalHead | None) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if head is None:
            # Continuing: a torn last line is cut off, so that the next one starts whole.
            with open(path, "rb") as f:
                kept = f.read().rfind(b"\n") + 1
            os.ftruncate(self._fd, kept)
        self._synced = time.monotonic()
        if head is not None:
            self._write(head.to_json())
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


def read_journal(path: Path) -> tuple[JournalHead, dict[str, Journalled]] | None:
    """The journal's head and its lines by path; None when it cannot be trusted
    (missing, not a journal, a damaged line other than a torn last one)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    lines = raw.split(b"\n")
    torn = lines.pop()  # b"" when the journal ends with a newline
    del torn  # a last line without its newline was cut short: ignored
    if not lines:
        return None
    try:
        doc = json.loads(lines[0])
        if doc.get("format") != JOURNAL_FORMAT:
            return None
        head = JournalHead(
            bundle_id=str(doc["bundle_id"]),
            case=str(doc["case"]),
            exhibit=None if doc.get("exhibit") is None else str(doc["exhibit"]),
            source=str(doc["source"]),
            created=str(doc["created"]),
        )
        entries: dict[str, Journalled] = {}
        for line in lines[1:]:
            d = json.loads(line)
            mime = d.get("mime")
            entries[str(d["path"])] = Journalled(
                path=str(d["path"]),
                size=int(d["size"]),
                sha256=str(d["sha256"]),
                mtime_ns=int(d["mtime_ns"]),
                mime=None if mime is None else str(mime),
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return head, entries


def reuse_copies(
    listing: SourceListing,
    data_dir: Path,
    entries: dict[str, Journalled],
    tracker: ProgressTracker,
) -> dict[str, CopiedFile]:
    """The journalled copies that are still good: the copy hashes to its line, and
    the source file has the size and mtime it had when copied. Anything else in
    the payload folder (a copy cut short, a damaged or outdated one, a working
    copy of --expand) is removed, to be made again."""
    wanted = {f.rel: f for f in listing.files}
    good: dict[str, CopiedFile] = {}
    for rel, entry in entries.items():
        f = wanted.get(rel)
        if f is None or f.size != entry.size:
            continue
        try:
            st = os.lstat(f.abs_path)
        except OSError:
            continue
        if st.st_size != entry.size or st.st_mtime_ns != entry.mtime_ns:
            continue
        copy = data_dir / rel
        try:
            kept = os.lstat(copy)
            if not stat.S_ISREG(kept.st_mode) or kept.st_size != entry.size:
                continue
            digest, head = _hash_with_head(copy)
            # Reading may have moved the copy's access time: it keeps the source's.
            os.utime(copy, ns=(kept.st_atime_ns, kept.st_mtime_ns), follow_symlinks=False)
        except OSError:
            continue
        if digest != entry.sha256:
            continue
        good[rel] = CopiedFile(rel, entry.size, digest, sniff(head))
        tracker.add_bytes(entry.size)
        tracker.file_done()
    _remove_all_but(data_dir, set(good))
    return good


def _remove_all_but(data_dir: Path, keep: set[str]) -> None:
    for root, dirs, files in os.walk(data_dir, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            full = os.path.join(root, name)
            if os.path.relpath(full, data_dir).replace(os.sep, "/") not in keep:
                os.unlink(full)


def _hash_with_head(path: Path) -> tuple[str, bytes]:
    h = hashlib.sha256()
    head = b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if not head:
                head = chunk[:HEAD_BYTES]
            h.update(chunk)
    return h.hexdigest(), head


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


@contextlib.contextmanager
def working_folder(
    bundle_path: Path, existing: Path | None, keep_on_interrupt: bool
) -> Iterator[Path]:
    """The hidden folder the bundle is built in: `existing` (a stopped ingest's,
    to continue) or a fresh one. Removed on failure, except on Ctrl-C when the
    ingest is resumable: then it stays, with its journal, to be continued."""
    if existing is None and not keep_on_interrupt:
        with temporary_directory_beside(bundle_path) as tmp:
            yield tmp
        return
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
    except BaseException:
        with contextlib.suppress(OSError):
            remove_tree(existing)
        raise
