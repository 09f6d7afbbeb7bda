"""Reading the packed layout (pack.py) without trusting it. Pure.

The index is read line by line and checked as it goes (order, segment
numbers, offsets); each segment is read once, streamed, as a tar archive,
its members identified by their own headers and compared with the index.
Every disagreement is a Problem of kind `pack` naming the file; nothing here
raises for bad bytes.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from custody.base.fsutil import unsafe_path_reason
from custody.base.models import Problem
from custody.bundle.format import layout
from custody.bundle.format.pack import (
    BLOCK,
    FORMAT,
    INDEX,
    MAX_INDEX_LINE,
    PACKED_TAG_DIRS,
    PROBLEM,
    VERSION,
    IndexMember,
    IndexSegment,
    is_pack_path,
    padding,
    segment_key,
)


def split_lines(read: Callable[[int], bytes], *, chunk: int = 1 << 20) -> Iterator[bytes | None]:
    """Lines of a stream split on LF only (None for a line longer than
    MAX_INDEX_LINE, which is skipped)."""
    pending = b""
    too_long = False
    while True:
        piece = read(chunk)
        if not piece:
            break
        pending += piece
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if too_long:
                too_long = False
                yield None
            else:
                yield line
        if len(pending) > MAX_INDEX_LINE:
            pending, too_long = b"", True
    if too_long:
        yield None
    elif pending:
        yield pending


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _hex(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 64:
        try:
            bytes.fromhex(value)
        except ValueError:
            return None
        return value.lower()
    return None


@dataclass
class IndexReader:
    """Reads the index line by line and checks it as it goes, collecting
    problems; nothing read from it is trusted further than these checks.

    `segments` is filled by `read_header`; `members` then yields the member
    lines one segment at a time, checked for order (paths strictly increasing:
    no duplicates), segment numbers, and offsets that neither overlap nor
    point outside their segment."""

    lines: Iterator[bytes | None]
    problems: list[Problem] = field(default_factory=list)
    segments: dict[int, IndexSegment] = field(default_factory=dict)
    number: int = 0
    count: int = 0  # segments, as the header says
    _last_path: str | None = None
    _last_end: tuple[int, int] = (0, 0)  # (segment, end of last member's bytes)

    def _problem(self, detail: str, path: str | None = None) -> None:
        self.problems.append(Problem(PROBLEM, path or INDEX, detail))

    def _next(self) -> dict[str, Any] | None:
        for raw in self.lines:
            self.number += 1
            if raw is None:
                self._problem(f"line {self.number} is too long; ignored")
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                self._problem(f"line {self.number} is not JSON; ignored")
                continue
            if not isinstance(value, dict):
                self._problem(f"line {self.number} is not a JSON object; ignored")
                continue
            return value
        return None

    def read_header(self) -> bool:
        """The header and the segment lines. False when the index is not a
        custody pack index at all (a problem says why)."""
        head = self._next()
        if head is None or head.get("format") != FORMAT or head.get("version") != VERSION:
            self._problem(f"not a {FORMAT} index version {VERSION}")
            return False
        count = _int(head.get("segments"))
        if count is None:
            self._problem("the header gives no number of segments")
            return False
        self.count = count
        for n in range(1, count + 1):
            value = self._next()
            segment = _int(value.get("segment")) if value else None
            size = _int(value.get("size")) if value else None
            digest = _hex(value.get("sha256")) if value else None
            files = _int(value.get("files")) if value else None
            if value is None or segment != n or size is None or digest is None or files is None:
                self._problem(f"line {self.number}: not the record of segment {n}")
                if value is None:
                    return False
                continue
            if value.get("key") != segment_key(n):
                self._problem(f"line {self.number}: segment {n} must be {segment_key(n)}")
            self.segments[n] = IndexSegment(n, segment_key(n), size, digest, files)
        return True

    def _member(self) -> IndexMember | None:
        while (value := self._next()) is not None:
            path = value.get("path")
            segment = _int(value.get("segment"))
            offset = _int(value.get("offset"))
            size = _int(value.get("size"))
            digest = _hex(value.get("sha256"))
            if not isinstance(path, str) or None in (segment, offset, size, digest):
                self._problem(f"line {self.number} is not a member record; ignored")
                continue
            assert segment is not None and offset is not None and size is not None
            assert digest is not None
            reason = unsafe_path_reason(path)
            if reason is not None or is_pack_path(path):
                self._problem(f"line {self.number}: unusable path ({reason or 'pack object'})")
                continue
            if self._last_path is not None and path <= self._last_path:
                what = "listed twice" if path == self._last_path else "out of order"
                self._problem(f"{what} in the index (line {self.number}); ignored", path)
                continue
            self._last_path = path
            return IndexMember(path, segment, offset, size, digest)
        return None

    def member_groups(self) -> Iterator[tuple[int, list[IndexMember]]]:
        """(segment number, its members in offset order) for every segment of
        the header, members that fail the checks left out (with a problem)."""
        current = 1
        group: list[IndexMember] = []
        member = self._member()
        while current <= self.count or member is not None:
            if member is not None and member.segment == current:
                if self._fits(member):
                    group.append(member)
                member = self._member()
                continue
            if member is not None and (
                member.segment < current or not 1 <= member.segment <= self.count
            ):
                self._problem(
                    f"the index puts it in segment {member.segment}, out of order or not a "
                    "segment of this index",
                    member.path,
                )
                member = self._member()
                continue
            if current > self.count:
                break
            yield current, group
            current, group = current + 1, []
            self._last_end = (current, 0)

    def _fits(self, m: IndexMember) -> bool:
        segment = self.segments.get(m.segment)
        start = self._last_end[1] if self._last_end[0] == m.segment else 0
        if m.offset < start + BLOCK:
            self._problem(
                f"its offset {m.offset} in segment {m.segment} overlaps the member before it "
                "(or its header)",
                m.path,
            )
            return False
        if segment is not None and m.offset + m.size > segment.size:
            self._problem(
                f"its bytes ({m.offset}+{m.size}) point outside segment {m.segment} "
                f"({segment.size} bytes)",
                m.path,
            )
            return False
        self._last_end = (m.segment, m.offset + m.size + padding(m.size))
        return True


class _Counting:
    """A read-only stream that hashes and counts every byte read through it."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self.sha = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._read(size if size >= 0 else 1 << 20)
        self.sha.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


Sink = Callable[[str], IO[bytes] | None]
"""For a member name: a file to write its bytes to as they are read (closed
by the reader), or None."""


@dataclass(frozen=True)
class MemberRead:
    """A member found in a segment: its name, size and SHA-256, or why its
    bytes cannot stand for a bundle file (then `ok` is False)."""

    path: str
    size: int
    sha256: str
    ok: bool


@dataclass
class SegmentRead:
    """What one segment held: its members, its problems, the first and last
    member name (to check order across segments), its size and SHA-256."""

    number: int
    members: list[MemberRead] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    first: str | None = None
    last: str | None = None
    size: int = 0
    sha256: str = ""


def read_segment(
    *,
    number: int,
    read: Callable[[int], bytes],
    listed: list[IndexMember] | None,
    record: IndexSegment | None,
    on_member: Callable[[MemberRead], None] | None = None,
    sink: Sink | None = None,
    on_bytes: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> SegmentRead:
    """Read one segment once, streamed, as a tar archive: hash each member,
    compare it with the index's lines for this segment (`listed`, in offset
    order; None when there is no usable index to compare with), and the
    whole segment with the index's record. Members are
    identified by their own headers; a member is `ok` (stands for the bundle
    file of its name) when it is a regular file with a safe name, in order.
    Never raises for bad input: problems name what is wrong."""
    out = SegmentRead(number)
    where = segment_key(number)
    stream = _Counting(read)
    expected = iter(listed or ())
    want = next(expected, None)

    def problem(detail: str, path: str | None = None) -> None:
        out.problems.append(Problem(PROBLEM, path or where, detail))

    try:
        with tarfile.open(
            fileobj=cast(Any, stream), mode="r|", encoding="utf-8", errors="strict"
        ) as tf:
            while (info := tf.next()) is not None:
                cast(Any, tf).members.clear()  # a stream of many members: keep none of them
                name = info.name
                offset = info.offset_data
                while want is not None and want.offset < offset:
                    problem(
                        f"the index puts it at offset {want.offset} of {where}, where no member "
                        "starts",
                        want.path,
                    )
                    want = next(expected, None)
                entry = want if want is not None and want.offset == offset else None
                if entry is not None:
                    want = next(expected, None)
                ok = True
                reason = unsafe_path_reason(name)
                if not info.isreg():
                    problem(f"member {name!r} at offset {offset} is not a regular file", where)
                    ok = False
                elif reason is not None or is_pack_path(name):
                    problem(f"member name rejected ({reason or 'pack object'})", where)
                    ok = False
                elif layout.is_tag_path(name) and not name.startswith(PACKED_TAG_DIRS):
                    problem("a tag file that is never packed; not used", name)
                    ok = False
                elif out.last is not None and name <= out.last:
                    what = "a second member" if name == out.last else "out of order"
                    problem(f"{what} of this name in {where} (offset {offset}); not used", name)
                    ok = False
                out_file = sink(name) if ok and sink is not None else None
                h = hashlib.sha256()
                count = 0
                body = tf.extractfile(info) if info.isreg() else None
                try:
                    while body is not None and (piece := body.read(1 << 20)):
                        h.update(piece)
                        count += len(piece)
                        if out_file is not None:
                            out_file.write(piece)
                        if on_bytes is not None:
                            on_bytes(len(piece))
                        if cancelled():
                            raise _Stop
                finally:
                    if out_file is not None:
                        out_file.close()
                digest = h.hexdigest()
                if entry is None:
                    if ok and listed is not None:
                        problem(f"in {where} at offset {offset}, but not in the index", name)
                else:
                    if entry.path != name:
                        problem(
                            f"the index names {entry.path!r} at offset {offset} of {where}, "
                            "the segment holds another member there",
                            name if ok else entry.path,
                        )
                    elif entry.size != count or entry.sha256 != digest:
                        problem(
                            f"the index gives {entry.size} bytes, SHA-256 {entry.sha256}; "
                            f"{where} holds {count} bytes, SHA-256 {digest}",
                            name,
                        )
                if ok:
                    out.first = out.first or name
                    out.last = name
                member = MemberRead(name, count, digest, ok)
                if on_member is not None:
                    on_member(member)
                else:
                    out.members.append(member)
        stream.drain()
    except _Stop:
        raise
    except (tarfile.TarError, EOFError, ValueError, UnicodeError) as e:
        problem(f"cannot be read as tar after {stream.count} bytes ({e}); the rest is not used")
    while want is not None:
        problem(f"the index puts it at offset {want.offset} of {where}, not found there", want.path)
        want = next(expected, None)
    out.size = stream.count
    out.sha256 = stream.sha.hexdigest()
    if record is not None and (record.size != out.size or record.sha256 != out.sha256):
        problem(
            f"the index gives {record.size} bytes, SHA-256 {record.sha256}; the object holds "
            f"{out.size} bytes, SHA-256 {out.sha256}"
        )
    return out


class _Stop(Exception):
    """Reading was cancelled (another worker failed)."""


Cancelled = _Stop


def check_segment_order(reads: Iterable[SegmentRead]) -> list[Problem]:
    """Members are packed in path order: each segment's first member must come
    after the previous segment's last, else a name is in two segments."""
    problems: list[Problem] = []
    last: str | None = None
    for r in sorted(reads, key=lambda r: r.number):
        if r.first is not None and last is not None and r.first <= last:
            problems.append(
                Problem(
                    PROBLEM,
                    segment_key(r.number),
                    f"its members ({r.first} ...) do not come after those of the segment "
                    f"before it ({last}): a file may be stored twice",
                )
            )
        last = r.last or last
    return problems
