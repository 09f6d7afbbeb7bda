"""A UFDR's members, in flat memory whatever their number.

report.xml names members by their stored ("Local Path") names, in its own
order; the zip lists them in its central directory, in another. Matching the
two without holding either whole: the directory's names and report.xml's are
spilled into the same hash buckets (files in a temporary folder), each bucket
is joined alone, and the outcome of each report entry is written at its
sequence number in a fixed-width file, read back in report order. What
report.xml does not name is marked in a one-byte-per-member file and listed
in directory order. Member bytes are read on every core through
custody.base.zipdir, each worker reading the directory record it is pointed
to, never the whole directory.
"""

from __future__ import annotations

import io
import json
import stat
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from custody.base import zipdir, zipmember
from custody.base.archive_names import BOMB_MIN_BYTES, BOMB_RATIO, MAX_NAME_BYTES
from custody.extraction.members import member_record
from custody.extraction.ufdr import REPORT_XML, ReportError, UfdrFile, read_report

BUCKET_MEMBERS = 16384  # members per bucket joined in memory at once
MAX_BUCKETS = 256
UNREAD = "member cannot be read"
ENCRYPTED = "encrypted member: not read"
BOMB = "a zip bomb, not read"
_RESULT = struct.Struct("<QB")  # directory record offset + 1 (0: none), outcome
_OK, _MISSING, _TWICE = 0, 1, 2
_USED, _UNNAMED, _DUPLICATE = 0, 1, 2
_TIMES = {
    "creationtime": "created",
    "modifytime": "modified",
    "accesstime": "accessed",
    "changetime": "changed",
    "deletedtime": "deleted",
}

ReadJob = Callable[[Any, tuple[dict[str, Any], int | None]], dict[str, Any]]


def ufdr_members(
    copy_path: Path, with_metadata: bool, problems: list[str], read_job: ReadJob
) -> Iterator[dict[str, Any]]:
    """The members in report.xml's order, then those it does not name, in
    the zip's order. `read_job(context, (member, directory record offset))`
    reads a member's bytes (in a worker). Damage goes to `problems`."""
    from custody.base.processes import map_ordered

    try:
        fh: BinaryIO = open(copy_path, "rb")  # noqa: SIM115 (closed below)
    except OSError as e:
        problems.append(f"damaged UFDR: not a readable zip ({e.strerror or e})")
        return
    with fh, tempfile.TemporaryDirectory(prefix="custody-ufdr-") as spill:
        try:
            directory = zipdir.find_directory(fh)
            buckets = _bucket_count(directory.entries)
            report, files = _spill_directory(fh, directory, Path(spill), buckets)
        except zipdir.ZipDamaged as e:
            problems.append(f"damaged UFDR: not a readable zip ({e})")
            return
        except OSError as e:
            problems.append(f"damaged UFDR: not a readable zip ({e.strerror or e})")
            return
        context = (copy_path, with_metadata, directory.offset)
        marks = Path(spill) / "marks"
        with open(marks, "wb") as fm:
            fm.truncate(directory.entries)
        unread = _Unread()
        used = [0]  # directory records report.xml names (report.xml itself too)
        if report is None:
            problems.append("UFDR without report.xml: members listed by their stored names only")
            with open(marks, "r+b") as fm:
                fm.write(bytes([_UNNAMED]) * directory.entries)
                _mark_duplicates(Path(spill), buckets, fm)
        else:
            jobs = _report_jobs(fh, directory, report, Path(spill), buckets, marks, problems, used)
            for m in map_ordered(read_job, jobs, context=context, sized=directory.entries):
                unread.note(m)
                yield m
        rest = _unnamed_jobs(fh, directory, marks)
        for m in map_ordered(read_job, rest, context=context, sized=files - used[0]):
            unread.note(m)
            yield m
        if unread.first is not None:
            more = f" (and {unread.count - 1:,} more)" if unread.count > 1 else ""
            problems.append(f"{unread.first}{more}")


def _unread(error: str) -> bool:
    """Did the zip withhold this member's bytes (damage, encryption, a bomb)?"""
    return error.startswith(UNREAD) or error in (ENCRYPTED, BOMB) or error.endswith(BOMB)


class _Unread:
    """Members whose bytes the zip did not give: the first named in one
    warning line, the others counted (each has its error in its record)."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.count = 0

    def note(self, m: dict[str, Any]) -> None:
        error = next((e for e in m["errors"] if _unread(e)), None)
        if error is not None:
            self.count += 1
            if self.first is None:
                self.first = f"{m['stored']!r}: {error}"


def _bucket_count(entries: int) -> int:
    return max(1, min(MAX_BUCKETS, entries // BUCKET_MEMBERS + 1))


def _bucket(name: bytes, buckets: int) -> int:
    return zlib.crc32(name) % buckets


def _key(record: zipdir.CentralRecord) -> bytes:
    """The name report.xml would give: the text zipfile shows, as UTF-8."""
    return record.text_name.encode("utf-8", "surrogateescape")


def _spill_directory(
    fh: BinaryIO, directory: zipdir.Directory, spill: Path, buckets: int
) -> tuple[zipdir.CentralRecord | None, int]:
    """Walk the directory once (every structural check), writing each
    file member's (name, record offset, index) to its bucket. Returns
    report.xml's record (or None) and the number of file members."""
    report = None
    files = 0
    outs = [open(spill / f"zip{b}", "wb") for b in range(buckets)]  # noqa: SIM115
    try:
        for record in zipdir.iter_central(fh, directory):
            if record.is_dir:
                continue
            files += 1
            key = _key(record)
            if key == REPORT_XML.encode():  # the last, as for any name
                report = record
            outs[_bucket(key, buckets)].write(
                struct.pack("<QQH", record.at, record.index, len(key)) + key
            )
    finally:
        for out in outs:
            out.close()
    return report, files


def _read_zip_bucket(path: Path) -> Iterator[tuple[int, int, bytes]]:
    with open(path, "rb") as f:
        while head := f.read(18):
            at, index, n = struct.unpack("<QQH", head)
            yield at, index, f.read(n)


def _report_jobs(
    fh: BinaryIO,
    directory: zipdir.Directory,
    report: zipdir.CentralRecord,
    spill: Path,
    buckets: int,
    marks: Path,
    problems: list[str],
    used: list[int],
) -> Iterator[tuple[dict[str, Any], int | None]]:
    """report.xml read once into a spilled list of member records, joined by
    bucket with the directory, then given back in report order."""
    entries = spill / "report.jsonl"
    outs = [open(spill / f"rep{b}", "wb") for b in range(buckets)]  # noqa: SIM115
    count = 0
    try:
        with open(entries, "wb") as out:
            for m, stored in _report_entries(fh, directory, report, problems):
                out.write(json.dumps(m, ensure_ascii=False).encode("utf-8") + b"\n")
                if stored is not None:
                    key = stored.encode("utf-8", "surrogateescape")
                    outs[_bucket(key, buckets)].write(struct.pack("<QH", count, len(key)) + key)
                count += 1
    finally:
        for o in outs:
            o.close()
    results = spill / "results"
    with open(results, "wb") as fr:
        fr.truncate(count * _RESULT.size)
    with open(results, "r+b") as fr, open(marks, "r+b") as fm:
        for b in range(buckets):
            used[0] += _join(spill, b, fr, fm, report.index)
    with open(entries, "rb") as fe, open(results, "rb") as fr:
        for line in fe:
            m = json.loads(line)
            at, outcome = _RESULT.unpack(fr.read(_RESULT.size))
            if m["stored"] is None:
                m["errors"].append("report.xml gives no local path: no bytes for this item")
            elif outcome == _MISSING:
                m["errors"].append("named in report.xml but not in the UFDR")
            elif outcome == _TWICE:
                m["errors"].append("report.xml names this member more than once")
            yield m, (at - 1 if at else None)


def _join(spill: Path, b: int, fr: BinaryIO, fm: BinaryIO, report_index: int) -> int:
    """One bucket: each report entry's directory record (the last of a name
    the zip holds twice), and the marks of the directory records. Returns
    how many records are used (named by report.xml, or report.xml)."""
    first: dict[bytes, tuple[int, int]] = {}
    count = 0
    for at, index, key in _read_zip_bucket(spill / f"zip{b}"):
        if key in first:  # the last copy is the member, as zipfile and unzip take it
            _mark(fm, first[key][1], _DUPLICATE)
        first[key] = (at, index)
        _mark(fm, index, _UNNAMED if index != report_index else _USED)
        count += index == report_index
    used: set[bytes] = set()
    with open(spill / f"rep{b}", "rb") as f:
        while head := f.read(10):
            seq, n = struct.unpack("<QH", head)
            key = f.read(n)
            found = first.get(key)
            fr.seek(seq * _RESULT.size)
            if found is None:
                fr.write(_RESULT.pack(0, _MISSING))
                continue
            fr.write(_RESULT.pack(found[0] + 1, _TWICE if key in used else _OK))
            if key not in used:
                used.add(key)
                _mark(fm, found[1], _USED)
                count += found[1] != report_index
    return count


def _mark(fm: BinaryIO, index: int, value: int) -> None:
    fm.seek(index)
    fm.write(bytes([value]))


def _mark_duplicates(spill: Path, buckets: int, fm: BinaryIO) -> None:
    """Every copy of a name held twice but the last is a duplicate."""
    for b in range(buckets):
        last: dict[bytes, int] = {}
        for _, index, key in _read_zip_bucket(spill / f"zip{b}"):
            if key in last:
                _mark(fm, last[key], _DUPLICATE)
            last[key] = index


def _report_entries(
    fh: BinaryIO, directory: zipdir.Directory, report: zipdir.CentralRecord, problems: list[str]
) -> Iterator[tuple[dict[str, Any], str | None]]:
    try:
        with zipmember.open_member(fh, report, directory) as stream:
            for entry in read_report(stream):
                yield _ufdr_member(entry)
    except ReportError as e:
        problems.append(str(e))
    except (zipdir.ZipDamaged, OSError, EOFError) as e:
        problems.append(f"report.xml cannot be read ({_short(e)})")


def _ufdr_member(entry: UfdrFile) -> tuple[dict[str, Any], str | None]:
    """A member as report.xml describes it, and the stored name to look up
    (None: report.xml gives none)."""
    stored = entry.local_path.replace("\\", "/") if entry.local_path else None
    deleted = (entry.deleted or "").lower() in ("deleted", "trash")
    carved = entry.path is None or "carv" in f"{entry.fs or ''} {entry.tags or ''}".lower()
    size = int(entry.size) if entry.size and entry.size.isdigit() else None
    m = member_record(
        device_path=entry.path,
        stored=stored,
        size=size,
        category=(entry.tags or (category(stored) if stored else None)),
        deleted=deleted,
        carved=carved,
    )
    m["report_id"] = entry.ident
    m["report_line"] = entry.line
    m["deleted_state"] = entry.deleted
    m["times"] = {_TIMES.get(k.lower(), k): v for k, v in entry.times.items()}
    if entry.md5:
        m["report_md5"] = entry.md5
    if entry.sha256:
        m["report_sha256"] = entry.sha256
    return m, stored


def _unnamed_jobs(
    fh: BinaryIO, directory: zipdir.Directory, marks: Path
) -> Iterator[tuple[dict[str, Any], int | None]]:
    """Whatever report.xml does not name is still recorded: nothing is lost."""
    with open(marks, "rb") as fm:
        for record in zipdir.iter_central(fh, directory):
            mark = fm.read(1)
            if record.is_dir or mark not in (bytes([_UNNAMED]), bytes([_DUPLICATE])):
                continue
            name = record.text_name
            m = member_record(device_path=None, stored=name, size=record.size)
            m["category"] = category(name)
            m["errors"].append("in the UFDR but not named in report.xml")
            if mark == bytes([_DUPLICATE]):
                m["errors"].append("the UFDR holds this name more than once")
            yield m, record.at


def category(stored: str) -> str | None:
    parts = stored.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "files" else None


def rejection(record: zipdir.CentralRecord) -> str | None:
    """Why a member's bytes are not read (None: they are). An unsafe name
    does not stop the read: it is never used as a path."""
    if len(record.name) > MAX_NAME_BYTES:
        return "member name is too long"
    mode = record.external >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link: never followed"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "special file: not read"
    if record.encrypted:
        return ENCRYPTED
    if record.size > BOMB_MIN_BYTES and record.size > BOMB_RATIO * max(1, record.compressed):
        return f"compressed {record.compressed} bytes claim to hold {record.size}: {BOMB}"
    return None


_OPEN: dict[str, BinaryIO] = {}


def member_stream(
    copy_path: Path, at: int, directory_offset: int
) -> tuple[str | None, IO[bytes] | None]:
    """(why not read, stream of the member's bytes) for the directory record
    at `at`, the file kept open per process. Raises zipdir.ZipDamaged."""
    key = str(copy_path)
    fh = _OPEN.get(key)
    if fh is None:
        fh = _OPEN[key] = open(copy_path, "rb")  # noqa: SIM115 (kept per worker, closed by close_open)
    record = zipdir.central_at(fh, at)
    reason = rejection(record)
    if reason is not None:
        return reason, None
    return None, io.BufferedReader(zipmember.MemberStream(fh, record, directory_offset), 1 << 20)


def close_open() -> None:
    for fh in _OPEN.values():
        fh.close()
    _OPEN.clear()


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
