"""Reading a bundle folder without trusting it: every entry listed, every
regular file opened without following links and hashed once (in parallel),
the small tag files kept, anything odd turned into a problem."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from custody.base.errors import NotABundleError
from custody.base.hashing import hash_fd, sha256_bytes
from custody.base.models import Problem
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.base.spill import writing
from custody.base.workers import run_parallel
from custody.bundle.format import layout
from custody.bundle.read.scan import (
    MAX_TAG_FILE_BYTES,
    BundleScan,
    ScannedFile,
    copy_capped,
    mark_odd,
    read_capped,
    spill_tag_bytes,
    wants_bytes,
)

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def scan_directory(
    root: Path,
    hash_payload: bool,
    tag_files_only: bool,
    on_progress: ProgressCallback | None,
    workers: int | None,
) -> BundleScan:
    if not (root / layout.BAGIT_TXT).exists() and not (root / layout.STATEMENT).exists():
        raise NotABundleError("not a bundle (no bagit.txt)", path=str(root))
    scan = BundleScan(location=str(root))
    payload_prefix = layout.PAYLOAD_DIR + "/"
    tracker = ProgressTracker("verify", 0, 0, on_progress)
    sizes_needed = on_progress is not None

    def regular_files() -> Iterator[tuple[str, str, int]]:
        # Walked lazily by the workers themselves: hashing starts with the
        # first folder instead of after the whole listing.
        stack = [(str(root), "")]
        while stack:
            dir_path, rel_dir = stack.pop()
            try:
                with os.scandir(dir_path) as it:
                    entries = list(it)
            except OSError as e:
                scan.problems.append(
                    Problem(
                        "unreadable",
                        rel_dir.rstrip("/") or ".",
                        f"folder cannot be read ({e.strerror})",
                    )
                )
                continue
            files: list[tuple[str, str, int]] = []
            for entry in entries:
                rel = rel_dir + entry.name
                try:
                    # The entry's type comes with the listing; a file's size is
                    # only needed up front for a progress bar (read_one checks
                    # the type again on the open file).
                    if entry.is_dir(follow_symlinks=False):
                        if not (tag_files_only and rel == layout.PAYLOAD_DIR):
                            stack.append((entry.path, rel + "/"))
                    elif entry.is_file(follow_symlinks=False):
                        size = entry.stat(follow_symlinks=False).st_size if sizes_needed else -1
                        files.append((rel, entry.path, size))
                    else:
                        mark_odd(
                            scan, rel, "symbolic link" if entry.is_symlink() else "special file"
                        )
                except OSError as e:
                    scan.problems.append(
                        Problem("unreadable", rel, f"cannot be examined ({e.strerror})")
                    )
            if sizes_needed:
                payload = [size for rel, _, size in files if rel.startswith(payload_prefix)]
                tracker.add_work(len(payload), sum(payload))
            yield from files

    on_bytes = tracker.add_bytes if on_progress is not None else None

    adding = threading.Lock()

    def add_one(item: tuple[str, str, int], stop: threading.Event) -> None:
        # Each worker adds what it read as it goes: a list of every result
        # would be the one thing here that grows with the number of files.
        rel, scanned, data, problem = read_one(item, stop)
        with adding:
            if isinstance(data, Path):
                assert scanned is not None
                scan.files[rel] = scanned
                scan.tag_bytes.keep_file(rel, data)
            else:
                scan.add(rel, scanned, data, problem)

    def read_one(
        item: tuple[str, str, int], stop: threading.Event
    ) -> tuple[str, ScannedFile | None, bytes | Path | None, Problem | None]:
        # Runs once per file on every worker: kept lean, as the Python work
        # here, not hashing, is what bounds verify on many small files.
        rel, full, _ = item
        try:
            fd = os.open(full, _OPEN_FLAGS)
        except OSError as e:
            return (
                rel,
                None,
                None,
                Problem("unreadable", rel, f"cannot be opened ({e.strerror})"),
            )
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return (
                    rel,
                    None,
                    None,
                    Problem("not_regular_file", rel, "changed into a special file while read"),
                )
            # O_NONBLOCK only kept open() from hanging on a FIFO; reads of a
            # regular file ignore it.
            if rel.startswith(payload_prefix):
                if not hash_payload:
                    return rel, ScannedFile(st.st_size, None), None, None
                digest, count = hash_fd(fd, on_bytes=on_bytes, stop=stop)
                tracker.file_done()
                return rel, ScannedFile(count, digest), None, None
            if wants_bytes(rel) and spill_tag_bytes() < st.st_size <= MAX_TAG_FILE_BYTES:
                # The manifest of a million files: kept in the scan's temporary
                # folder as read and hashed, never whole in memory.
                copy = scan.spill.new_file("tag")
                with writing(copy):
                    out = open(copy, "wb")  # noqa: SIM115 - closed below, its failure is ours
                with os.fdopen(os.dup(fd), "rb") as fh, out:
                    spilled = copy_capped(fh, out)
                return rel, spilled, copy, None
            if wants_bytes(rel) and st.st_size <= MAX_TAG_FILE_BYTES:
                with os.fdopen(os.dup(fd), "rb") as fh:
                    data = read_capped(fh)
                return rel, ScannedFile(len(data), sha256_bytes(data)), data, None
            digest, count = hash_fd(fd, stop=stop)
            return rel, ScannedFile(count, digest), None, None
        except OSError as e:
            return (
                rel,
                None,
                None,
                Problem("unreadable", rel, f"read error ({e.strerror})"),
            )
        finally:
            os.close(fd)

    try:
        run_parallel(add_one, regular_files(), workers=workers)
    except BaseException:
        scan.close()  # errors and Ctrl-C leave no temporary folder behind
        raise
    tracker.finish()
    return scan
