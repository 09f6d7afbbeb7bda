"""Copying evidence into a bundle: every byte read once, hashed as it is copied,
on every core, with the source checked for replacement or change around the copy.

Sources are only read (O_NOFOLLOW, O_NOATIME where allowed); each copy is a new
file (O_EXCL) that keeps the source's times. A file that changes while it is
copied fails the ingest (SourceChangedError) rather than being half-recorded.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from custody.base.errors import InputError, SourceChangedError
from custody.base.fsutil import environment_error, open_source_readonly
from custody.base.hashing import PIPELINE_THRESHOLD, copy_and_hash, copy_and_hash_pipelined
from custody.base.models import CopiedFile
from custody.base.progress import ProgressTracker
from custody.base.workers import Cancelled, run_parallel
from custody.bundle.read.source import SourceFile, SourceListing
from custody.metadata.sniff import sniff


def _open_source(f: SourceFile) -> int:
    try:
        # O_NOATIME keeps even the access time of evidence untouched where allowed.
        fd = os.open(
            f.abs_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOATIME", 0)
        )
        os.set_blocking(fd, True)
        return fd
    except PermissionError:
        pass
    except OSError as e:
        if e.errno != errno.EPERM:
            raise
    return open_source_readonly(f.abs_path)


class _Queue:
    """Counts the files not yet started, so that a worker knows when it is
    copying one of the last files and the other cores would otherwise idle."""

    def __init__(self, total: int) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            self._left -= 1
            return self._left


def _copy_one(
    f: SourceFile,
    data_dir: Path,
    tracker: ProgressTracker,
    stop: threading.Event,
    queue: _Queue,
    on_copied: Callable[[SourceFile, CopiedFile, int], None] | None = None,
) -> CopiedFile:
    left = queue.take()

    def on_bytes(n: int) -> None:
        if stop.is_set():
            raise Cancelled
        tracker.add_bytes(n)

    try:
        src = _open_source(f)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SourceChangedError("became a symbolic link during ingest", path=f.abs_path) from e
        raise InputError(f"cannot be read ({e.strerror})", path=f.abs_path) from e
    dst_path = data_dir / f.rel
    try:
        before = os.fstat(src)
        if not stat.S_ISREG(before.st_mode) or (before.st_dev, before.st_ino) != (f.dev, f.ino):
            raise SourceChangedError("was replaced during ingest", path=f.abs_path)
        try:
            dst = os.open(dst_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise environment_error(e, dst_path) from e
        try:
            try:
                # While other files wait, the workers keep every core busy; a large
                # file copied when nothing else is left gets its own pipeline.
                copier = (
                    copy_and_hash_pipelined
                    if before.st_size >= PIPELINE_THRESHOLD and left == 0
                    else copy_and_hash
                )
                digest, copied, head = copier(src, dst, on_bytes=on_bytes)
            except Cancelled:
                raise
            except OSError as e:
                # A read error names the source; a write error the bundle.
                if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG):
                    raise environment_error(e, dst_path) from e
                raise InputError(f"read error ({e.strerror})", path=f.abs_path) from e
        finally:
            os.close(dst)
        after = os.fstat(src)
        if (
            copied != before.st_size
            or after.st_size != before.st_size
            or after.st_mtime_ns != before.st_mtime_ns
            or after.st_ctime_ns != before.st_ctime_ns
        ):
            raise SourceChangedError(
                "changed while it was being copied; ingest again when nothing writes to it",
                path=f.abs_path,
            )
    finally:
        os.close(src)
    os.utime(dst_path, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)
    tracker.file_done()
    # Only the sniffed type is kept, not the bytes: memory stays flat on 100,000 files.
    done = CopiedFile(f.rel, copied, digest, sniff(head))
    if on_copied is not None:  # the journal of a resumable ingest (write/journal.py)
        on_copied(f, done, before.st_mtime_ns)
    return done


def copy_all(
    listing: SourceListing,
    data_dir: Path,
    tracker: ProgressTracker,
    workers: int | None,
    on_copied: Callable[[SourceFile, CopiedFile, int], None] | None = None,
) -> list[CopiedFile]:
    queue = _Queue(len(listing.files))
    return run_parallel(
        lambda f, stop: _copy_one(f, data_dir, tracker, stop, queue, on_copied),
        listing.files,
        workers=workers,
    )


_BATCH_FILES = 1024
_BATCH_BYTES = 1 << 30


def copy_stream(
    files: Iterable[SourceFile],
    data_dir: Path,
    tracker: ProgressTracker,
    workers: int | None,
    on_copied: Callable[[SourceFile, CopiedFile, int], None] | None = None,
) -> Iterator[CopiedFile]:
    """copy_all for a listing that is not in memory: the files in batches (of up to
    1,024 files or 1 GiB), each copied on every core, the copies yielded in the
    files' order. Memory holds one batch, whatever the number of files."""
    batch: list[SourceFile] = []
    size = 0
    for f in files:
        batch.append(f)
        size += f.size
        if len(batch) >= _BATCH_FILES or size >= _BATCH_BYTES:
            yield from _copy_batch(batch, data_dir, tracker, workers, on_copied)
            batch, size = [], 0
    if batch:
        yield from _copy_batch(batch, data_dir, tracker, workers, on_copied)


def _copy_batch(
    batch: list[SourceFile],
    data_dir: Path,
    tracker: ProgressTracker,
    workers: int | None,
    on_copied: Callable[[SourceFile, CopiedFile, int], None] | None,
) -> list[CopiedFile]:
    # The last large file of a batch gets the pipelined copier, as the last of all did.
    queue = _Queue(len(batch))
    return run_parallel(
        lambda f, stop: _copy_one(f, data_dir, tracker, stop, queue, on_copied),
        batch,
        workers=workers,
    )
