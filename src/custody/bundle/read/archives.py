"""Reading a bundle archive in place: a .zip, .tar or .tar.gz streamed member by
member, nothing extracted to disk, every member's name checked before it is used.

Hostile archives are refused or reported, never followed: too many members, names
too long or unsafe, duplicates, links and special files, encrypted members, zip
bombs, truncated tars. reader.py dispatches here and defines the scan.
"""

from __future__ import annotations

import dataclasses
import io
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from custody.base.archive_names import (
    ARCHIVE_ERRORS,
    BOMB_MIN_BYTES,
    BOMB_RATIO,
    MAX_NAME_BYTES,
    clean_member_name,
    zip_member_name,
)
from custody.base.errors import NotABundleError
from custody.base.fsutil import unsafe_path_reason
from custody.base.hashing import hash_stream, sha256_bytes
from custody.base.models import Problem
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.bundle.format import layout
from custody.bundle.format.zip_member import ZipMemberStream
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
    collector = ArchiveCollector(str(path))
    try:
        zf = zipfile.ZipFile(path)
    except ARCHIVE_ERRORS as e:
        raise NotABundleError(f"damaged zip archive ({e})", path=str(path)) from e
    with zf:
        infos = zf.infolist()
        if len(infos) > archive_common.MAX_MEMBERS:
            raise NotABundleError(
                f"archive holds more than {archive_common.MAX_MEMBERS:,} members", path=str(path)
            )
        files = []
        for info in infos:
            name = collector.accept_name(zip_member_name(info))
            if name is None:
                continue
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if stat.S_ISLNK(mode):
                collector.raw_odd[name] = "symbolic link"
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                # Only Unix type bits mark a special file; many archivers set none.
                collector.raw_odd[name] = "special file"
            elif info.flag_bits & 0x1:
                collector.raw_odd[name] = "encrypted archive member"
            elif info.file_size > BOMB_MIN_BYTES and info.file_size > BOMB_RATIO * max(
                1, info.compress_size
            ):
                collector.raw_odd[name] = (
                    f"compressed {info.compress_size} bytes claim to hold {info.file_size}: "
                    "a zip bomb, not read"
                )
            else:
                files.append((name, info))
        tracker = ProgressTracker(
            "verify", len(files), sum(i.file_size for _, i in files), on_progress
        )
        with open(path, "rb") as fh:
            for name, info in files:
                try:
                    # Read strictly, not with zf.open (zip_member.py says why).
                    stream = io.BufferedReader(ZipMemberStream(fh, info), 1 << 20)
                    collector.add_stream(name, stream, tracker)
                except ARCHIVE_ERRORS as e:
                    collector.problems.append(
                        Problem("unreadable", name, f"archive member cannot be read ({e})")
                    )
                    collector.raw_odd[name] = "duplicate"  # known, already reported
        tracker.finish()
    return collector.finish()


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
