"""One extraction's record: its members streamed into a members file beside
the metadata (custody/extractions/<bundle path>.jsonl), whose SHA-256 and
counts go into the extraction's own metadata record, signed with the rest.

Composes the readers (ufdr, tar, ios + the Manifest.db rows the operation reads) with the metadata
parsers; never holds an extraction's member list: each member is read,
written as one line and forgotten.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from custody.base.zipdir import ZipDamaged
from custody.extraction import detect
from custody.extraction.members import EXTRACTIONS_DIR, header_line, member_line
from custody.extraction.tar import TarDamaged, compression_of, open_decompressed, read_tar
from custody.extraction.ufdr_zip import UNREAD, close_open, member_stream, ufdr_members

# A member up to this size is read into memory once (hashed and parsed from
# there); a larger one is hashed as it streams, its metadata not read.
IN_MEMORY_MEMBER = 64 * 1024 * 1024
_METADATA_FIELDS = ("mime", "captured_at", "gps", "device", "width", "height", "duration_s")
_TIMES = {
    "creationtime": "created",
    "modifytime": "modified",
    "accesstime": "accessed",
    "changetime": "changed",
    "deletedtime": "deleted",
}

ReadStream = Callable[..., None]


def members_path(rel: str) -> str:
    """Where the members file of the extraction at bundle path data/<rel> is."""
    return f"{EXTRACTIONS_DIR}{rel}.jsonl"


class _Counts:
    def __init__(self) -> None:
        self.members = 0
        self.files = 0
        self.bytes = 0
        self.deleted = 0
        self.carved = 0
        self.without_path = 0
        self.missing = 0
        self.with_errors = 0

    def add(self, m: dict[str, Any]) -> None:
        self.members += 1
        if m["kind"] == "file":
            self.files += 1
            self.bytes += m["size"] or 0
        self.deleted += bool(m["deleted"])
        self.carved += bool(m["carved"])
        self.without_path += m["device_path"] is None
        self.missing += any("not in the" in e for e in m["errors"])
        self.with_errors += bool(m["errors"])

    def to_json(self) -> dict[str, int]:
        return dict(vars(self))


def extraction_record(
    *,
    kind: str,
    copy_path: Path,
    rel_path: str,
    record: dict[str, Any],
    root: Path,
    digests: Callable[[str], str | None],
    present: Callable[[str], bool],
    read_stream: ReadStream | None,
    warnings: list[str] | None,
    manifest_rows: Callable[[Path], Iterator[Any]] | None = None,
) -> str:
    """Write the members file of the extraction `rel_path` (copied at
    `copy_path`) under `root` and describe it in `record["details"]`.
    `read_stream` (None with --no-metadata) reads a member's metadata the way
    a loose file's is read. Returns the members file's bundle path. Damage is
    recorded (and added to `warnings`), never raised."""
    name = members_path(rel_path)
    summary: dict[str, Any] = {"format": kind, "members_file": name}
    record["details"]["family"] = "extraction"
    record["details"]["extraction"] = summary
    counts = _Counts()
    problems: list[str] = []
    if kind == detect.UFDR:
        members = _ufdr_members(copy_path, read_stream, problems)
    elif kind == detect.ANDROID_TAR:
        members = _tar_members(copy_path, read_stream, problems)
    else:
        members = _ios_members(copy_path, rel_path, digests, present, problems, manifest_rows)

    def lines() -> Iterator[bytes]:
        yield header_line({"extraction": kind, "source": rel_path})
        for m in members:
            counts.add(m)
            yield member_line(m)

    target = root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    summary["members_sha256"] = _write_stream(target, lines())
    summary.update(counts.to_json())
    summary["errors"] = problems
    for problem in problems:
        if warnings is not None:
            warnings.append(f"{rel_path}: {problem}")
    return name


def _write_stream(path: Path, chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        buffered = bytearray()
        for chunk in chunks:
            h.update(chunk)
            buffered += chunk
            if len(buffered) >= 1 << 20:
                _write_all(fd, bytes(buffered))
                buffered.clear()
        _write_all(fd, bytes(buffered))
    finally:
        os.close(fd)
    return h.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_bytes(
    stream: IO[bytes], member: dict[str, Any], name: str, read_stream: ReadStream | None
) -> None:
    """Hash a member's bytes and, when small enough, read its metadata."""
    data = _read_capped(stream, member["size"])
    if len(data) <= IN_MEMORY_MEMBER:
        member["sha256"] = hashlib.sha256(data).hexdigest()
        size = len(data)
        if read_stream is not None:
            meta = _metadata(io.BytesIO(data), name, size, read_stream)
            member["mime"] = meta.get("mime")
            member["captured_at"] = meta.get("captured_at")
            member["metadata"] = meta
        else:
            from custody.metadata.sniff import sniff

            member["mime"] = sniff(data[:4096])
    else:
        from custody.metadata.sniff import sniff

        member["mime"] = sniff(data[:4096])
        h = hashlib.sha256(data)
        size = len(data)
        del data
        while piece := stream.read(1 << 20):
            h.update(piece)
            size += len(piece)
        member["sha256"] = h.hexdigest()
        member["errors"].append("too large to parse in place: hashed, metadata not read")
    if member["size"] is not None and size != member["size"]:
        member["errors"].append(f"holds {size} bytes, the extraction says {member['size']}")
    member["size"] = size


def _read_capped(stream: IO[bytes], expected: int | None) -> bytes:
    """Up to IN_MEMORY_MEMBER + 1 bytes, read in pieces no larger than the
    member is said to be (one read of the cap would allocate 64 MiB for
    every small member of a phone)."""
    want = min(1 << 20, (expected if expected is not None else 1 << 16) + 1)
    pieces = []
    total = 0
    while total <= IN_MEMORY_MEMBER:
        piece = stream.read(min(want, IN_MEMORY_MEMBER + 1 - total))
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
        want = 1 << 20
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _metadata(stream: IO[bytes], name: str, size: int, read_stream: ReadStream) -> dict[str, Any]:
    from custody.metadata.record import empty_record

    rec = empty_record(name, None, size)
    read_stream(stream, rel_path=name, size=size, siblings=frozenset(), record=rec, sidecars=None)
    meta = {k: rec[k] for k in _METADATA_FIELDS if rec[k] is not None}
    if isinstance(rec["c2pa"], dict):  # the summary; the full report is not kept for members
        meta["c2pa"] = {k: v for k, v in rec["c2pa"].items() if not k.startswith("report")}
    details = rec["details"]
    for key in ("family", "participants"):
        if details.get(key):
            meta[key] = details[key]
    if rec["errors"]:
        meta["errors"] = rec["errors"][:5]
    return meta


# --- Cellebrite UFDR -------------------------------------------------------


def _ufdr_members(
    copy_path: Path, read_stream: ReadStream | None, problems: list[str]
) -> Iterator[dict[str, Any]]:
    """The members in report.xml's order, then those it does not name
    (ufdr_zip.py: in flat memory). The bytes are read (hashed, parsed) on
    every core: each worker opens the UFDR itself and reads the directory
    record it is pointed to."""
    yield from ufdr_members(copy_path, read_stream is not None, problems, _read_job)
    close_open()


def _metadata_reader() -> ReadStream:
    from custody.metadata import read_stream

    return read_stream


def _read_job(
    context: tuple[Path, bool, int], job: tuple[dict[str, Any], int | None]
) -> dict[str, Any]:
    """Read one member's bytes from the UFDR (in a worker process)."""
    copy_path, with_metadata, directory_offset = context
    m, at = job
    if at is None:
        return m
    reader = _metadata_reader() if with_metadata else None
    try:
        reason, stream = member_stream(copy_path, at, directory_offset)
        if stream is None:
            m["errors"].append(str(reason))
            return m
        with stream:
            _read_bytes(stream, m, str(m["stored"]), reader)
    except (ZipDamaged, OSError, EOFError) as e:
        m["errors"].append(f"{UNREAD} ({_short(e)})")
        return m
    claimed = m.get("report_sha256")
    if claimed and m["sha256"] and claimed != m["sha256"]:
        m["errors"].append("SHA-256 differs from the one report.xml gives")
    return m


# --- Android tar ------------------------------------------------------------


def _tar_members(
    copy_path: Path, read_stream: ReadStream | None, problems: list[str]
) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    try:
        with open(copy_path, "rb") as raw:
            compression = compression_of(raw.read(4))
            raw.seek(0)
            stream = open_decompressed(raw, compression)

            def read_member(data: IO[bytes], m: dict[str, Any]) -> None:
                _read_bytes(data, m, str(m["stored"]), read_stream)

            for m in read_tar(stream, read_member):
                if m["stored"] in seen:
                    m["errors"].append("the tar holds this path more than once")
                seen.add(m["stored"])
                yield m
    except TarDamaged as e:
        problems.append(str(e))
    except OSError as e:
        problems.append(f"cannot be read ({e.strerror or e})")


# --- iOS backup -------------------------------------------------------------


def _ios_members(
    copy_path: Path,
    rel_path: str,
    digests: Callable[[str], str | None],
    present: Callable[[str], bool],
    problems: list[str],
    manifest_rows: Callable[[Path], Iterator[Any]] | None,
) -> Iterator[dict[str, Any]]:
    from custody.extraction.ios import read_rows

    folder = rel_path[: -len("Manifest.db")]

    def in_backup(name: str) -> bool:
        return present(folder + name)

    if manifest_rows is None:
        problems.append("Manifest.db not read: no database reader was given")
        return
    try:
        for m in read_rows(manifest_rows(copy_path), in_backup):
            if m["stored"] is not None:
                m["sha256"] = digests(folder + m["stored"])
            yield m
    except ValueError as e:  # ManifestUnreadable: damaged, encrypted or foreign
        problems.append(str(e))


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
