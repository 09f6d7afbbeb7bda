"""Per-file state of an ingest kept on disk, not in memory: a million files cost a
few megabytes of memory, however many there are.

The files are anonymous (`tempfile.TemporaryFile` in the bundle's working folder: no
name, so nothing of them can end up in the bundle, and the kernel frees them when
the ingest ends, however it ends). Records are tuples of str, int, bytes and None,
written in frames of many records (marshal: this process writes and reads them,
nothing else ever does).

- `RecordSpill`: append records, read them back in order (as often as needed; each
  reader keeps its own offset, so two can run side by side, and a forked worker
  process reads through the inherited descriptor).
- `SortedIndex`: records under keys added in ascending order, looked up by key (a
  `Mapping`): a sparse index of every block's first key stays in memory, the blocks
  on disk, the last few read kept decoded.
- `sorted_runs`: an external sort (runs of a bounded size, merged) for records that
  arrive nearly but not quite in order (a journal).
"""

from __future__ import annotations

import bisect
import heapq
import marshal
import os
import struct
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

Record = tuple[Any, ...]

_FRAME = struct.Struct("<I")
_RECORDS_PER_FRAME = 512
_BLOCK = 64  # records per block of a SortedIndex
_CACHED_BLOCKS = 64
_READ = 1 << 20


def _anonymous_file(where: Path) -> IO[bytes]:
    return tempfile.TemporaryFile(dir=where, prefix=".custody-spill-")


def _write_frame(f: IO[bytes], records: list[Any]) -> int:
    data = marshal.dumps(records)
    f.write(_FRAME.pack(len(data)))
    f.write(data)
    return _FRAME.size + len(data)


def _read_frames(fd: int, start: int, end: int) -> Iterator[list[Any]]:
    """The frames between byte offsets start and end, read with pread (no shared offset)."""
    buf = b""
    pos = start
    while True:
        while len(buf) >= _FRAME.size:
            (n,) = _FRAME.unpack_from(buf)
            if len(buf) < _FRAME.size + n:
                break
            yield marshal.loads(buf[_FRAME.size : _FRAME.size + n])
            buf = buf[_FRAME.size + n :]
        if pos >= end:
            if buf:
                raise ValueError("a spill file ends inside a frame")
            return
        chunk = os.pread(fd, min(_READ, end - pos), pos)
        if not chunk:
            raise ValueError("a spill file is shorter than written")
        pos += len(chunk)
        buf += chunk


class RecordSpill:
    """Records appended to an anonymous file and read back in the order written."""

    def __init__(self, where: Path) -> None:
        self._file = _anonymous_file(where)
        self._pending: list[Any] = []
        self._size = 0
        self.count = 0

    def append(self, record: Record) -> None:
        self._pending.append(record)
        self.count += 1
        if len(self._pending) >= _RECORDS_PER_FRAME:
            self._flush()

    def extend(self, records: Iterable[Record]) -> None:
        for record in records:
            self.append(record)

    def _flush(self) -> None:
        if self._pending:
            self._size += _write_frame(self._file, self._pending)
            self._pending = []
        self._file.flush()

    def __iter__(self) -> Iterator[Record]:
        self._flush()
        for frame in _read_frames(self._file.fileno(), 0, self._size):
            yield from (tuple(r) for r in frame)

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self._file.close()


class SortedIndex(Mapping[str, Record]):
    """Records by key, on disk. Build with `add` in ascending key order (Python's
    str order, which is UTF-8 byte order), then `seal`; then look up and iterate."""

    def __init__(self, where: Path) -> None:
        self._file = _anonymous_file(where)
        self._firsts: list[str] = []
        self._offsets: list[int] = [0]
        self._block: list[Any] = []
        self._last: str | None = None
        self._count = 0
        self._cache: OrderedDict[int, dict[str, Record]] = OrderedDict()

    def add(self, key: str, value: Record) -> None:
        if self._last is not None and key <= self._last:
            raise ValueError(f"keys out of order: {key!r} after {self._last!r}")
        self._last = key
        if not self._block:
            self._firsts.append(key)
        self._block.append((key, value))
        self._count += 1
        if len(self._block) >= _BLOCK:
            self._end_block()

    def _end_block(self) -> None:
        if self._block:
            self._offsets.append(self._offsets[-1] + _write_frame(self._file, self._block))
            self._block = []

    def seal(self) -> SortedIndex:
        self._end_block()
        self._file.flush()
        return self

    def _load(self, block: int) -> dict[str, Record]:
        found = self._cache.get(block)
        if found is not None:
            self._cache.move_to_end(block)
            return found
        start, end = self._offsets[block], self._offsets[block + 1]
        [frame] = _read_frames(self._file.fileno(), start, end)
        found = {k: tuple(v) for k, v in frame}
        self._cache[block] = found
        if len(self._cache) > _CACHED_BLOCKS:
            self._cache.popitem(last=False)
        return found

    def __getitem__(self, key: str) -> Record:
        if not isinstance(key, str):
            raise KeyError(key)
        block = bisect.bisect_right(self._firsts, key) - 1
        if block < 0:
            raise KeyError(key)
        return self._load(block)[key]

    def __iter__(self) -> Iterator[str]:
        for key, _ in self.items_in_order():
            yield key

    def items_in_order(self) -> Iterator[tuple[str, Record]]:
        for frame in _read_frames(self._file.fileno(), 0, self._offsets[-1]):
            for key, value in frame:
                yield key, tuple(value)

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._file.close()


class PrefixedView(Mapping[str, tuple[int, str]]):
    """A SortedIndex of copies {rel: (size, sha256, ...)} seen as the verifier's
    {manifest path: (size, sha256)}: the same keys under a prefix ("data/")."""

    def __init__(self, index: SortedIndex, prefix: str) -> None:
        self._index = index
        self._prefix = prefix

    def __getitem__(self, key: str) -> tuple[int, str]:
        if not isinstance(key, str) or not key.startswith(self._prefix):
            raise KeyError(key)
        value = self._index[key[len(self._prefix) :]]
        return int(value[0]), str(value[1])

    def __iter__(self) -> Iterator[str]:
        return (self._prefix + key for key in self._index)

    def __len__(self) -> int:
        return len(self._index)


def sorted_runs(
    where: Path, records: Iterable[Record], key: Callable[[Record], Any], run: int = 50_000
) -> Iterator[Record]:
    """`records` in the order of `key` (stable), holding at most `run` of them in
    memory: sorted runs are spilled, then merged."""
    spills: list[RecordSpill] = []
    chunk: list[Record] = []
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) >= run:
                spills.append(_spill_sorted(where, chunk, key))
                chunk = []
        if not spills:
            chunk.sort(key=key)
            yield from chunk
            return
        if chunk:
            spills.append(_spill_sorted(where, chunk, key))
        del chunk
        yield from heapq.merge(*spills, key=key)
    finally:
        for spill in spills:
            spill.close()


def _spill_sorted(where: Path, chunk: list[Record], key: Callable[[Record], Any]) -> RecordSpill:
    chunk.sort(key=key)
    spill = RecordSpill(where)
    spill.extend(chunk)
    return spill
