"""Reading the evidence folder given to ingest: what is there, never changing it."""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from custody.base.errors import InputError
from custody.base.models import SkippedEntry
from custody.bundle.format.names import stored_names


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A regular file found in the source folder."""

    rel: str  # relative POSIX path as stored in the bundle (portable, UTF-8)
    abs_path: str
    size: int
    dev: int
    ino: int
    original: bytes | None = None  # the raw path bytes, when stored under another name


@dataclass(frozen=True, slots=True)
class SourceDir:
    """A directory in the source folder (kept so empty ones and mtimes survive)."""

    rel: str
    atime_ns: int
    mtime_ns: int


@dataclass(frozen=True)
class SourceListing:
    files: tuple[SourceFile, ...]
    dirs: tuple[SourceDir, ...]
    skipped: tuple[SkippedEntry, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def normalisation_twins(self) -> list[tuple[str, str]]:
        """Pairs of paths that differ only by Unicode normalisation. Both are
        kept, byte-exact; but macOS file systems and bagit-python treat them as
        one name, so the officer should know."""
        seen: dict[str, str] = {}
        twins = []
        for rel in [f.rel for f in self.files] + [d.rel for d in self.dirs]:
            key = unicodedata.normalize("NFC", rel)
            if key in seen:
                twins.append((seen[key], rel))
            else:
                seen[key] = rel
        return twins


def _kind_of(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symbolic link (not followed)"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return "not a regular file"


def storable_name(name: str) -> str:
    """How bundles made before custody/names.json stored a name: bytes that are
    not UTF-8 (which Python keeps as surrogates) became %XX, nothing else was
    changed. Kept so that `custody audit` reads such bundles as before."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    return "".join(f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in name)


def scan_source(root: Path) -> SourceListing:
    """List a source folder without following symbolic links.

    Regular files are returned sorted by path; symlinks, FIFOs, sockets and
    devices are skipped and reported. Each name is stored as itself when it
    is portable, escaped otherwise (bundle/format/names.py); `original` keeps the raw
    bytes of a path stored under another name. Raises InputError for a folder
    or file that cannot be read; never for a name. Holds the whole listing:
    ingest streams `walk_source` instead.
    """
    files: list[SourceFile] = []
    dirs: list[SourceDir] = []
    skipped: list[SkippedEntry] = []
    for entry in walk_source(root):
        if isinstance(entry, SourceFile):
            files.append(entry)
        elif isinstance(entry, SourceDir):
            dirs.append(entry)
        else:
            skipped.append(entry)
    files.sort(key=lambda f: f.rel.encode("utf-8"))  # already in order; kept as a guard
    dirs.sort(key=lambda d: d.rel.encode("utf-8"))
    skipped.sort(key=lambda s: os.fsencode(s.path))
    return SourceListing(tuple(files), tuple(dirs), tuple(skipped))


SourceEntry = SourceFile | SourceDir | SkippedEntry


def walk_source(root: Path) -> Iterator[SourceEntry]:
    """The source folder's entries, one at a time, files and folders in the order
    of their stored paths' UTF-8 bytes (the manifest's order), without holding
    more than the folders on the way down: each folder's entries are sorted with
    a folder's name followed by "/", so that walking depth first yields every path
    in order. Skipped entries (links, FIFOs, devices) come where they are found.
    Raises InputError as scan_source does."""
    yield from _walk(root, str(root), "", "")


def _walk(root: Path, dir_path: str, dir_rel: str, raw_dir_rel: str) -> Iterator[SourceEntry]:
    try:
        with os.scandir(dir_path) as it:
            entries = list(it)
    except PermissionError as e:
        raise InputError("folder cannot be read (permission denied)", path=dir_path) from e
    except OSError as e:
        raise InputError(f"folder cannot be read ({e.strerror})", path=dir_path) from e
    stored_as = stored_names(os.fsencode(e.name) for e in entries)
    found: list[tuple[bytes, os.DirEntry[str], str, os.stat_result]] = []
    for entry in entries:
        stored = stored_as[os.fsencode(entry.name)]
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as e:
            raise InputError(f"cannot be examined ({e.strerror})", path=entry.path) from e
        is_dir = stat.S_ISDIR(st.st_mode)
        found.append(((stored + "/" if is_dir else stored).encode("utf-8"), entry, stored, st))
    del entries, stored_as
    found.sort(key=lambda t: t[0])
    for _, entry, stored, st in found:
        rel = f"{dir_rel}{stored}"
        raw_rel = os.fsencode(f"{raw_dir_rel}{entry.name}")
        if stat.S_ISDIR(st.st_mode):
            yield SourceDir(rel, st.st_atime_ns, st.st_mtime_ns)
            yield from _walk(root, entry.path, rel + "/", raw_dir_rel + entry.name + "/")
        elif stat.S_ISREG(st.st_mode):
            if not os.access(entry.path, os.R_OK):
                raise InputError("file cannot be read (permission denied)", path=entry.path)
            yield SourceFile(
                rel=rel,
                abs_path=entry.path,
                size=st.st_size,
                dev=st.st_dev,
                ino=st.st_ino,
                original=raw_rel if raw_rel != rel.encode("utf-8") else None,
            )
        else:
            # Not stored: named as it is on disk (made visible where it is shown).
            yield SkippedEntry(raw_dir_rel + entry.name, _kind_of(st.st_mode))


def scan_source_file(path: Path) -> SourceListing:
    """A single evidence file given as the source (a .zip as handed over, one
    video): the bundle holds it under data/ by its own name. Raises InputError
    when it cannot be read or is not a regular file."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError as e:
        raise InputError(f"cannot be examined ({e.strerror})", path=str(path)) from e
    if not stat.S_ISREG(st.st_mode):
        raise InputError(_kind_of(st.st_mode), path=str(path))
    if not os.access(path, os.R_OK):
        raise InputError("file cannot be read (permission denied)", path=str(path))
    raw = os.fsencode(path.name)
    rel = stored_names([raw])[raw]
    return SourceListing(
        (
            SourceFile(
                rel=rel,
                abs_path=str(path),
                size=st.st_size,
                dev=st.st_dev,
                ino=st.st_ino,
                original=raw if raw != rel.encode("utf-8") else None,
            ),
        ),
        (),
        (),
    )
