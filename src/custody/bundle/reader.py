"""Reading a bundle without trusting it: a folder, or a .zip / .tar / .tar.gz
read in place (nothing is extracted to disk).

A scan lists every entry, hashes every regular file once, keeps the bytes of
the small tag files, and turns anything odd (links, devices, unsafe names,
duplicate archive members) into problems rather than following it.
"""

from __future__ import annotations

import os
import stat
import struct
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import InputError, NotABundleError
from ..hashing import hash_fd, sha256_bytes
from ..models import Problem
from ..progress import ProgressCallback, ProgressTracker
from ..workers import run_parallel
from . import layout

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# Tag files are read into memory; a larger one is reported, not read.
MAX_TAG_FILE_BYTES = 256 * 1024 * 1024
# What the standard library's archive readers raise on damaged or hostile input.
ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    struct.error,
    KeyError,
    IndexError,
    UnicodeDecodeError,
    OverflowError,
)


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A regular file in a bundle: its size and SHA-256 (None when not hashed)."""

    size: int
    sha256: str | None


@dataclass
class BundleScan:
    """What is in a bundle, before anything is judged."""

    location: str
    files: dict[str, ScannedFile] = field(default_factory=dict)
    tag_bytes: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    odd_paths: set[str] = field(default_factory=set)
    root_prefix: str = ""
    fetch: Callable[[str], bytes | None] | None = None
    """Reads a file again from a bundle that is not on this file system
    (object storage); None for folders and archives."""

    def add(
        self, rel: str, scanned: ScannedFile | None, data: bytes | None, problem: Problem | None
    ) -> None:
        """One file as read: its digest (and bytes, for a tag file), or, when it
        could not be read as a regular file, its problem."""
        if scanned is None:
            if problem is not None:
                self.problems.append(problem)
            self.odd_paths.add(rel)
            return
        self.files[rel] = scanned
        if data is not None:
            self.tag_bytes[rel] = data

    def read_tag(self, rel: str) -> bytes | None:
        """A tag file's bytes, from memory or read again from the bundle."""
        if rel in self.tag_bytes:
            return self.tag_bytes[rel]
        if rel not in self.files:
            return None
        if self.fetch is not None:
            return self.fetch(rel)
        return read_member(Path(self.location), self.root_prefix + rel)


def read_capped(stream: IO[bytes]) -> bytes:
    """A tag file's bytes, read in 1 MiB pieces up to the cap (one read of the
    cap's size would allocate 256 MiB for a 50-byte file)."""
    pieces = []
    total = 0
    while total <= MAX_TAG_FILE_BYTES:
        piece = stream.read(1 << 20)
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces)


def wants_bytes(path: str) -> bool:
    """Tag files whose content verification reads. Not the payload, and not the
    metadata file, which can be tens of megabytes: the statement covers it by
    hash, and the few readers that need its records read it again (read_tag).
    Nor the C2PA reports, which check_c2pa compares by hash."""
    return (
        layout.is_tag_path(path)
        and path != layout.METADATA
        and path != layout.SIMILAR  # hashed; read again by `custody similar`
        and not path.startswith(layout.C2PA_DIR)  # one per signed photo: hashed, not kept
    )


def scan_bundle(
    path: Path,
    *,
    hash_payload: bool = True,
    tag_files_only: bool = False,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> BundleScan:
    """Scan a bundle folder or archive. Raises NotABundleError when `path` is
    neither a custody bundle folder nor an archive holding one, InputError when
    it cannot be read at all."""
    if not os.path.lexists(path):
        raise InputError("no such file or folder", path=str(path))
    if path.is_symlink():
        raise NotABundleError("is a symbolic link; give the bundle itself", path=str(path))
    if path.is_dir():
        return _scan_directory(path, hash_payload, tag_files_only, on_progress, workers)
    if not path.is_file():
        raise NotABundleError("not a folder, .zip or .tar file", path=str(path))
    from .archive_checks import check_archive
    from .archives import scan_tar, scan_zip

    try:
        kind = check_archive(path)
        if kind == "zip":
            return scan_zip(path, on_progress)
        if kind is not None:
            return scan_tar(path, on_progress, cut_short=kind != "tar")
    except (OSError, EOFError) as e:
        raise InputError(f"cannot be read ({e})", path=str(path)) from e
    raise NotABundleError("not a bundle: not a folder, zip or tar archive", path=str(path))


def read_member(path: Path, name: str) -> bytes | None:
    """One file of a bundle folder or archive, or None when it cannot be read."""
    from .archives import clean_member_name, zip_member_name

    try:
        if path.is_dir():
            full = path / name
            if full.is_symlink() or not full.is_file():
                return None
            return full.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if clean_member_name(zip_member_name(info)) == name:
                        return zf.read(info)
            return None
        with tarfile.open(path, mode="r|*") as tf:
            for member in tf:
                if clean_member_name(member.name) == name and member.isreg():
                    stream = tf.extractfile(member)
                    return stream.read() if stream is not None else None
    except ARCHIVE_ERRORS:
        return None
    return None


# --- folders -----------------------------------------------------------------


def _scan_directory(
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

    def read_one(
        item: tuple[str, str, int], stop: threading.Event
    ) -> tuple[str, ScannedFile | None, bytes | None, Problem | None]:
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

    for rel, scanned, data, problem in run_parallel(read_one, regular_files(), workers=workers):
        scan.add(rel, scanned, data, problem)
    tracker.finish()
    return scan


def mark_odd(scan: BundleScan, rel: str, what: str) -> None:
    scan.problems.append(
        Problem("not_regular_file", rel, f"{what}: never followed, not accepted as evidence")
    )
    scan.odd_paths.add(rel)
