"""`custody audit`: compare a folder with a verified bundle's signed manifest.

Like hashdeep's audit mode, but against a signed manifest, and right about
duplicates: files are matched as multisets of (content, path), so the same
photo present twice in the bundle and once in the folder is one match and
one missing, never two matches.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from custody.base.errors import InputError
from custody.base.hashing import hash_fd
from custody.base.models import VerifyReport
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.base.spill import SortedSpill, SpillDir, temp_parent_outside
from custody.base.streamed import StreamedList
from custody.base.workers import run_parallel
from custody.bundle.format import layout
from custody.bundle.format.names import display_name
from custody.bundle.read.source import storable_name
from custody.bundle.verify.manifest import ListedManifest, join


@dataclass(frozen=True)
class AuditResult:
    """How a folder compares with a bundle."""

    folder: str
    bundle: str
    bundle_verified: bool
    matched: Sequence[str]
    """In path order; kept on disk (SpilledPaths) by audit_folder."""
    moved: tuple[tuple[str, str], ...]  # (path in bundle, path in folder)
    modified: tuple[str, ...]
    new: tuple[str, ...]
    missing: tuple[str, ...]
    skipped: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return self.bundle_verified and not (
            self.moved or self.modified or self.new or self.missing or self.skipped
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "bundle": self.bundle,
            "bundle_verified": self.bundle_verified,
            "identical": self.identical,
            "counts": {
                "matched": len(self.matched),
                "moved": len(self.moved),
                "modified": len(self.modified),
                "new": len(self.new),
                "missing": len(self.missing),
                "skipped": len(self.skipped),
            },
            "matched": StreamedList(len(self.matched), lambda: iter(self.matched)),
            "moved": [{"bundle_path": a, "folder_path": b} for a, b in self.moved],
            "modified": list(self.modified),
            "new": list(self.new),
            "missing": list(self.missing),
            "skipped": list(self.skipped),
        }


def compare(bundle_files: dict[str, str], folder_files: dict[str, str]) -> dict[str, Any]:
    """Pure comparison of {path: sha256} maps (bundle paths without 'data/')."""
    matched = sorted(p for p, h in bundle_files.items() if folder_files.get(p) == h)
    done = set(matched)
    left_bundle = {p: h for p, h in bundle_files.items() if p not in done}
    left_folder = {p: h for p, h in folder_files.items() if p not in done}
    return {"matched": matched, **compare_rest(left_bundle, left_folder)}


def compare_rest(left_bundle: dict[str, str], left_folder: dict[str, str]) -> dict[str, Any]:
    """What `compare` says of the files that did not match in place: moved,
    modified, new and missing. Linear in their number (sets, not list scans)."""
    by_hash_bundle: dict[str, list[str]] = defaultdict(list)
    by_hash_folder: dict[str, list[str]] = defaultdict(list)
    for p, h in sorted(left_bundle.items()):
        by_hash_bundle[h].append(p)
    for p, h in sorted(left_folder.items()):
        by_hash_folder[h].append(p)
    moved: list[tuple[str, str]] = []
    for h, bundle_paths in by_hash_bundle.items():
        folder_paths = by_hash_folder.get(h, [])
        # Pair a bundle path with a folder path only when that folder path is not
        # the place of another bundle file (that would be a modification).
        candidates = [p for p in folder_paths if p not in left_bundle] + [
            p for p in folder_paths if p in left_bundle
        ]
        moved.extend(zip(bundle_paths, candidates, strict=False))
    moved_bundle = {a for a, _ in moved}
    moved_folder = {b for _, b in moved}
    modified = sorted(
        p
        for p in left_bundle
        if p in left_folder and p not in moved_bundle and p not in moved_folder
    )
    modified_set = set(modified)
    missing = sorted(p for p in left_bundle if p not in moved_bundle and p not in modified_set)
    new = sorted(p for p in left_folder if p not in moved_folder and p not in modified_set)
    return {
        "moved": sorted(moved),
        "modified": modified,
        "new": new,
        "missing": missing,
    }


class SpilledPaths(Sequence[str]):
    """The matched paths, in order, kept on disk (a million of them need not be
    in memory to be counted or listed)."""

    def __init__(self, paths: SortedSpill) -> None:
        self._paths = paths

    def __len__(self) -> int:
        return len(self._paths)

    def __iter__(self) -> Iterator[str]:
        return (path for path, _ in self._paths)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return list(self)[index]  # not used on the way to the report

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def _last_of_each(pairs: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Sorted pairs with one per key, the last added (as a dict keeps it)."""
    held: tuple[str, str] | None = None
    for pair in pairs:
        if held is not None and held[0] != pair[0]:
            yield held
        held = pair
    if held is not None:
        yield held


def _regular_files(
    root: Path, skipped: list[str], tracker: ProgressTracker
) -> Iterator[tuple[str, str]]:
    """(path as the system names it, full path) of every regular file under
    `root`, a folder at a time, never following links (as scan_source lists
    them, with its errors, but never the whole listing at once); anything
    else is added to `skipped`."""
    stack = [(str(root), "")]
    while stack:
        dir_path, rel_dir = stack.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = list(it)
        except PermissionError as e:
            raise InputError("folder cannot be read (permission denied)", path=dir_path) from e
        except OSError as e:
            raise InputError(f"folder cannot be read ({e.strerror})", path=dir_path) from e
        files = []
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                raise InputError(f"cannot be examined ({e.strerror})", path=entry.path) from e
            if stat.S_ISDIR(st.st_mode):
                stack.append((entry.path, f"{rel_dir}{entry.name}/"))
            elif stat.S_ISREG(st.st_mode):
                if not os.access(entry.path, os.R_OK):
                    raise InputError("file cannot be read (permission denied)", path=entry.path)
                files.append((f"{rel_dir}{entry.name}", entry.path, st.st_size))
            else:
                skipped.append(rel_dir + entry.name)  # a link, a device...: named, not read
        tracker.add_work(len(files), sum(size for _, _, size in files))
        for name, full, _ in files:
            yield name, full


def audit_folder(
    *,
    folder: Path,
    report: VerifyReport,
    manifest: ListedManifest | Mapping[str, str],
    on_progress: ProgressCallback | None = None,
) -> AuditResult:
    """Hash every file of `folder` (never following links) and compare it with
    the bundle's manifest, by original names (`report.original_names`); paths
    in the result are original names, bytes that are not UTF-8 kept as
    surrogates. Raises InputError for an unusable folder.

    Both sides are spilled to disk sorted by name and joined in one pass
    (base/spill.py); only the files that do not match in place are held."""
    if not folder.is_dir():
        raise InputError("not a folder", path=str(folder))
    tracker = ProgressTracker("audit", 0, 0, on_progress)
    skipped: list[str] = []
    where = SpillDir(temp_parent_outside(str(folder)))
    folder_files = SortedSpill(where)
    adding = threading.Lock()

    def hash_one(f: tuple[str, str], _stop: threading.Event) -> None:
        name, abs_path = f
        try:
            fd = os.open(abs_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            raise InputError(f"cannot be read ({e.strerror})", path=abs_path) from e
        try:
            digest, _ = hash_fd(fd, on_bytes=tracker.add_bytes)
        finally:
            os.close(fd)
        tracker.file_done()
        with adding:  # as they come: a list of every result would grow with the folder
            folder_files.add(folder_name(name), digest)

    # Files are compared by their original names. A bundle made before
    # custody/names.json existed stored a name that is not UTF-8 with %XX for
    # the bad bytes and nothing else changed: the folder is read that way for it.
    by_original = "names_sha256" in (report.statement or {})

    def folder_name(original: str) -> str:
        # A file's original name is its path as the system gives it (what
        # scan_source keeps as `original`, or as `rel` when it is portable).
        return original if by_original else storable_name(original)

    try:
        run_parallel(hash_one, _regular_files(folder, skipped, tracker))
        tracker.finish()
        prefix = layout.PAYLOAD_DIR + "/"
        originals = report.original_names
        bundle_files = SortedSpill(where)
        for p, h in manifest.items():
            if p.startswith(prefix):
                bundle_files.add(
                    display_name(originals[p]) if p in originals else p[len(prefix) :], h
                )
        matched = SortedSpill(where)
        left_bundle: dict[str, str] = {}
        left_folder: dict[str, str] = {}
        for name, in_bundle, in_folder in join(
            _last_of_each(iter(bundle_files)), _last_of_each(iter(folder_files))
        ):
            if in_bundle is not None and in_bundle == in_folder:
                matched.add(name, "")
                continue
            if in_bundle is not None:
                left_bundle[name] = in_bundle
            if in_folder is not None:
                left_folder[name] = in_folder
        rest = compare_rest(left_bundle, left_folder)
    except BaseException:
        where.close()  # errors and Ctrl-C leave no temporary folder behind
        raise
    return AuditResult(
        folder=str(folder),
        bundle=report.bundle,
        bundle_verified=report.verified,
        matched=SpilledPaths(matched),
        moved=tuple(rest["moved"]),
        modified=tuple(rest["modified"]),
        new=tuple(rest["new"]),
        missing=tuple(rest["missing"]),
        skipped=tuple(sorted(skipped, key=os.fsencode)),
    )
