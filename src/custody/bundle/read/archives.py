"""Reading a bundle archive in place: a .zip, .tar or .tar.gz streamed member by
member, nothing extracted to disk, every member's name checked before it is used.

Hostile archives are refused or reported, never followed: too many members, names
too long or unsafe, duplicates, links and special files, encrypted members, zip
bombs, truncated tars. reader.py dispatches here and defines the scan.
"""

from __future__ import annotations

import dataclasses
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from custody.base import zipdir, zipmember
from custody.base.archive_names import (
    ARCHIVE_ERRORS,
    BOMB_MIN_BYTES,
    BOMB_RATIO,
    MAX_NAME_BYTES,
    clean_member_name,
    zip_record_name,
)
from custody.base.errors import NotABundleError
from custody.base.fsutil import unsafe_path_reason
from custody.base.hashing import hash_stream, sha256_bytes
from custody.base.models import Problem
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.bundle.format import layout
from custody.bundle.read import archive_common, leftovers
from custody.bundle.read.scan import BundleScan, ScannedFile, mark_odd, read_capped, wants_bytes


@dataclass
class _Member:
    name: str
    kind: str  # "file", "dir", or a description of something odd
    size: int


def _find_root(names: set[str], location: str) -> str:
    if layout.BAGIT_TXT in names:
        return ""
    # Finder's Compress puts resource forks in a __MACOSX/ tree beside the
    # folder, macOS tar an AppleDouble ._FOLDER, and a .DS_Store can sit
    # beside it: none is a second top (each is judged as a leftover later).
    tops = {n.split("/", 1)[0] for n in names} - {leftovers.MACOSX_DIR, ".DS_Store"}
    tops = {t for t in tops if not (t.startswith("._") and t[2:] in tops)}
    if len(tops) == 1:
        top = next(iter(tops))
        if f"{top}/{layout.BAGIT_TXT}" in names:
            return top + "/"
    raise NotABundleError("archive holds no bundle (no bagit.txt at its top)", path=location)


def _relative(problem: Problem, root: str) -> Problem:
    path = problem.path
    if root and path is not None and path.startswith(root) and len(path) > len(root):
        return dataclasses.replace(problem, path=path[len(root) :])
    return problem


class ArchiveCollector:
    """Collects archive members as they stream past, then keys them to the root."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.raw_files: dict[str, ScannedFile] = {}
        self.raw_bytes: dict[str, bytes] = {}
        self.raw_odd: dict[str, str] = {}
        self.names: set[str] = set()
        self.problems: list[Problem] = []
        self.members = 0

    def count_member(self) -> None:
        self.members += 1
        if self.members > archive_common.MAX_MEMBERS:
            raise NotABundleError(
                f"archive holds more than {archive_common.MAX_MEMBERS:,} members",
                path=self.location,
            )

    def accept_name(self, raw: str) -> str | None:
        self.count_member()
        if len(raw.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            self.problems.append(
                Problem("unsafe_path", raw[:80] + "...", "archive member name is too long")
            )
            return None
        name = clean_member_name(raw)
        if name in ("", ".") and (raw.endswith("/") or raw in (".", "./")):
            return None  # the archive's entry for its own top folder
        reason = unsafe_path_reason(name)
        if reason is not None:
            self.problems.append(Problem("unsafe_path", raw, f"archive member rejected: {reason}"))
            return None
        if name in self.names:
            self.problems.append(Problem("duplicate_entry", name, "archive holds this path twice"))
            self.raw_odd[name] = "duplicate"
            return None
        self.names.add(name)
        return name

    def add_stream(self, name: str, stream: IO[bytes], tracker: ProgressTracker) -> None:
        inner = name.split("/", 1)[1] if "/" in name else name
        if wants_bytes(name) and wants_bytes(inner):
            data = read_capped(stream)
            self.raw_bytes[name] = data
            self.raw_files[name] = ScannedFile(len(data), sha256_bytes(data))
        else:
            digest, count = hash_stream(stream, on_bytes=tracker.add_bytes)
            self.raw_files[name] = ScannedFile(count, digest)
            tracker.file_done()

    def finish(self) -> BundleScan:
        root = _find_root(set(self.raw_files) | set(self.raw_odd), self.location)
        # Problem paths are bundle-relative, as for a folder bundle.
        scan = BundleScan(
            location=self.location,
            problems=[_relative(p, root) for p in self.problems],
            root_prefix=root,
        )
        beside = leftovers.within(self.names)
        for name, scanned in self.raw_files.items():
            if not name.startswith(root):
                why = leftovers.classify(name, self.raw_bytes.get(name), beside)
                scan.problems.append(
                    Problem("extra", name, "outside the bundle folder in the archive")
                    if why is None
                    else Problem(leftovers.KIND, name, why)
                )
                continue
            rel = name[len(root) :]
            scan.files[rel] = scanned
            if name in self.raw_bytes:
                scan.tag_bytes[rel] = self.raw_bytes[name]
        for name, what in self.raw_odd.items():
            rel = name[len(root) :] if name.startswith(root) else name
            scan.odd_paths.add(rel)
            if what != "duplicate":
                mark_odd(scan, rel, what)
        return scan


def scan_zip(path: Path, on_progress: ProgressCallback | None) -> BundleScan:
    """The members of a zip that check_zip accepted, read in flat memory: one
    walk of the central directory finds the bundle's folder, a second reads
    each member and hands it to the scan (BundleScan.add) as it goes; what
    lies outside the folder (few files) is judged at the end."""
    location = str(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise NotABundleError(f"damaged zip archive ({e.strerror or e})", path=location) from e
    with fh:
        try:
            directory = zipdir.find_directory(fh)
            if directory.entries > archive_common.MAX_MEMBERS:
                raise NotABundleError(
                    f"archive holds more than {archive_common.MAX_MEMBERS:,} members",
                    path=location,
                )
            root, files, total = _zip_root(fh, directory, location)
            scan = BundleScan(location=location, root_prefix=root)
            reader = _ZipReader(scan, root, ProgressTracker("verify", files, total, on_progress))
            for record in zipdir.iter_central(fh, directory):
                reader.member(fh, directory, record)
        except zipdir.ZipDamaged as e:
            raise NotABundleError(f"damaged zip archive ({e})", path=location) from e
        reader.tracker.finish()
        reader.finish(fh, directory)
    return scan


def _zip_root(fh: BinaryIO, directory: Any, location: str) -> tuple[str, int, int]:
    """The bundle's folder in the zip (as _find_root decides it, from the
    top-level names only), and the number and bytes of its files."""
    tops: set[str] = set()
    present: set[str] = set()  # <top>/bagit.txt
    at_top = False
    files = total = 0
    for record in zipdir.iter_central(fh, directory):
        if record.is_dir:
            continue
        files += 1
        total += record.size
        name = clean_member_name(zip_record_name(record))
        if not _accepted(name):
            continue
        top, _, rest = name.partition("/")
        if name == layout.BAGIT_TXT:
            at_top = True
        elif rest == layout.BAGIT_TXT and len(present) <= _MAX_TOPS:
            present.add(name)
        if len(tops) <= _MAX_TOPS:
            tops.add(top)
    if at_top:
        return "", files, total
    return _find_root(present | {f"{t}/" for t in tops}, location), files, total


_MAX_TOPS = 16  # more top-level names than this cannot reduce to one folder


class _ZipReader:
    """Each member as the second walk meets it: a file inside the bundle
    folder goes to the scan at once; problems keep the order the scan of a
    whole directory gave them (names first, then reads, then what lies
    outside the folder, then links and special files)."""

    def __init__(self, scan: BundleScan, root: str, tracker: ProgressTracker) -> None:
        self.scan = scan
        self.root = root
        self.tracker = tracker
        self.collector = ArchiveCollector(scan.location)
        self.collector.names = _NoNames()
        self.read_problems: list[Problem] = []
        self.outside: list[tuple[str, ScannedFile, bytes | None]] = []
        self.odd: list[tuple[str, str]] = []

    def member(self, fh: BinaryIO, directory: Any, record: Any) -> None:
        name = self.collector.accept_name(zip_record_name(record))
        if name is None or record.is_dir:
            return
        mode = record.external >> 16
        if stat.S_ISLNK(mode):
            self.odd.append((name, "symbolic link"))
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            # Only Unix type bits mark a special file; many archivers set none.
            self.odd.append((name, "special file"))
        elif record.flags & 0x1:
            self.odd.append((name, "encrypted archive member"))
        elif record.size > BOMB_MIN_BYTES and record.size > BOMB_RATIO * max(1, record.compressed):
            self.odd.append(
                (
                    name,
                    f"compressed {record.compressed} bytes claim to hold {record.size}: "
                    "a zip bomb, not read",
                )
            )
        else:
            try:
                with zipmember.open_member(fh, record, directory) as stream:
                    self._add(name, stream)
            except (zipdir.ZipDamaged, *ARCHIVE_ERRORS) as e:
                self.read_problems.append(
                    Problem("unreadable", name, f"archive member cannot be read ({e})")
                )

    def _add(self, name: str, stream: IO[bytes]) -> None:
        inner = name.split("/", 1)[1] if "/" in name else name
        data = None
        if wants_bytes(name) and wants_bytes(inner):
            data = read_capped(stream)
            scanned = ScannedFile(len(data), sha256_bytes(data))
        else:
            digest, count = hash_stream(stream, on_bytes=self.tracker.add_bytes)
            scanned = ScannedFile(count, digest)
            self.tracker.file_done()
        if name.startswith(self.root):
            self.scan.add(name[len(self.root) :], scanned, data, None)
        else:
            self.outside.append((name, scanned, data))

    def finish(self, fh: BinaryIO, directory: Any) -> None:
        scan, root = self.scan, self.root
        scan.problems.extend(_relative(p, root) for p in self.collector.problems)
        for p in self.read_problems:
            scan.add(_rel(p.path or "", root), None, None, _relative(p, root))
        beside = _beside(fh, directory, self.outside)
        for name, _, data in self.outside:
            why = leftovers.classify(name, data, beside)
            scan.problems.append(
                Problem("extra", name, "outside the bundle folder in the archive")
                if why is None
                else Problem(leftovers.KIND, name, why)
            )
        for name, what in self.odd:
            mark_odd(scan, _rel(name, root), what)


def _rel(name: str, root: str) -> str:
    return name[len(root) :] if name.startswith(root) else name


def _beside(
    fh: BinaryIO, directory: Any, outside: list[tuple[str, ScannedFile, bytes | None]]
) -> Callable[[str], bool]:
    """leftovers.within for the few paths an AppleDouble file outside the
    bundle folder can ask about, answered by one more walk of the directory."""
    asked: set[str] = set()
    for name, _, _ in outside:
        parts = name.split("/")
        if parts[-1].startswith("._"):
            described = "/".join([*parts[:-1], parts[-1][2:]])
            asked.add(described)
            if "/" in described:
                asked.add(described.split("/", 1)[1])
    found: set[str] = set()
    if asked:
        for record in zipdir.iter_central(fh, directory):
            name = clean_member_name(zip_record_name(record))
            if not name or name == "." or not _accepted(name):
                continue
            while True:
                if name in asked:
                    found.add(name)
                if "/" not in name:
                    break
                name = name.rsplit("/", 1)[0]
    return found.__contains__


def _accepted(name: str) -> bool:
    """Would the collector accept this (cleaned) name?"""
    return name not in ("", ".") and (
        len(name.encode("utf-8", "surrogateescape")) <= MAX_NAME_BYTES
        and unsafe_path_reason(name) is None
    )


class _NoNames(set[str]):
    """The collector's name set for a zip: check_zip has already refused
    any name given twice, so names are not kept (a million of them would
    not stay flat)."""

    def __contains__(self, _: object) -> bool:
        return False

    def add(self, _: str) -> None:
        return None


def scan_tar(
    path: Path, on_progress: ProgressCallback | None, *, cut_short: bool = False
) -> BundleScan:
    """The members of a tar. `cut_short`: archive_checks found it ends before
    its end blocks, which tarfile does not always notice (it takes a header
    cut short for the end of the archive)."""
    collector = ArchiveCollector(str(path))
    tracker = ProgressTracker("verify", 0, 0, on_progress)
    try:
        with tarfile.open(path, mode="r|*") as tf:
            for member in tf:
                name = collector.accept_name(member.name)
                if name is None:
                    continue
                if member.isdir():
                    continue
                if member.issym():
                    collector.raw_odd[name] = f"symbolic link to {member.linkname!r}"
                elif member.islnk():
                    collector.raw_odd[name] = f"hard link to {member.linkname!r}"
                elif not member.isreg():
                    collector.raw_odd[name] = "special file"
                else:
                    stream = tf.extractfile(member)
                    if stream is None:
                        collector.raw_odd[name] = "unreadable member"
                        continue
                    collector.add_stream(name, stream, tracker)
    except ARCHIVE_ERRORS as e:
        if not collector.raw_files:
            raise NotABundleError(f"damaged tar archive ({e})", path=str(path)) from e
        collector.problems.append(
            Problem("truncated_archive", None, f"the archive is damaged or cut short ({e})")
        )
    if cut_short and not any(p.kind == "truncated_archive" for p in collector.problems):
        collector.problems.append(
            Problem("truncated_archive", None, "the archive is damaged or cut short")
        )
    tracker.finish()
    return collector.finish()
