"""Records too many to hold in memory, read back sorted: the external sort
under verify and audit at a million files (issue 26, docs/performance.md).

A `SortedSpill` takes (key, value) pairs of text in any order and gives them
back sorted by key, ties in the order they were added. Up to `run_size`
records stay in memory; past that, each full batch is sorted and written as
one run (a text file of lines) in a private temporary folder, and reading
merges the runs with heapq.merge. Memory is one batch plus one line per run,
whatever the count.

Keys sort as Python sorts str (by code point), which is also the byte order
of their UTF-8 (surrogates, from names that are not UTF-8, included).

The folder (`SpillDir`) is made on first use, outside any bundle (the
system's temporary folder), and removed by `close()`, when it is garbage
collected, or when the interpreter exits: errors and Ctrl-C unwind through
one of these. Pure Python, no database.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path

from custody.base.errors import EnvironmentFailure

RUN_SIZE = 50_000
"""Records kept in memory before a sorted run is written (about 10 MiB)."""
INDEX_EVERY = 128
"""One key in this many is kept in memory for lookups in a merged spill."""

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_ESCAPED = re.compile(r"[\\\n\t\r]")
_UNESCAPES = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_UNESCAPED = re.compile(r"\\(.)")
_ENCODING = {"encoding": "utf-8", "errors": "surrogatepass", "newline": "\n"}


def _escape(text: str) -> str:
    return _ESCAPED.sub(lambda m: _ESCAPES[m.group(0)], text) if _ESCAPED.search(text) else text


def _unescape(text: str) -> str:
    return _UNESCAPED.sub(lambda m: _UNESCAPES[m.group(1)], text) if "\\" in text else text


@contextlib.contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Writes to the spill folder: a failure (a full disk) is the machine's, said
    in one line, never taken for a problem of what is being read."""
    try:
        yield
    except OSError as e:
        raise EnvironmentFailure(
            f"cannot write a temporary file ({e.strerror}); set TMPDIR to a folder with room",
            path=str(path),
        ) from e


def _remove(path: list[str | None]) -> None:
    if path[0] is not None:
        shutil.rmtree(path[0], ignore_errors=True)
        path[0] = None


class SpillDir:
    """A private temporary folder, made on first use, removed on close, on
    garbage collection or at exit. Safe to use from several threads."""

    def __init__(self, parent: str | None = None) -> None:
        self._parent = parent
        self._path: list[str | None] = [None]
        self._lock = threading.Lock()
        self._count = 0
        self._finalizer = weakref.finalize(self, _remove, self._path)

    @property
    def made(self) -> bool:
        """Whether the folder exists (small spills never make it)."""
        return self._path[0] is not None

    def new_file(self, prefix: str) -> Path:
        """A fresh path inside the folder (not yet created)."""
        with self._lock:
            folder = self._path[0]
            if folder is None:
                with writing(self._parent or tempfile.gettempdir()):
                    folder = tempfile.mkdtemp(prefix="custody-spill-", dir=self._parent)
                self._path[0] = folder
            self._count += 1
            return Path(folder) / f"{prefix}-{self._count}"

    def close(self) -> None:
        """Remove the folder and everything in it."""
        self._finalizer()


class SortedSpill:
    """(key, value) text pairs added in any order, read back sorted by key."""

    def __init__(self, where: SpillDir, *, run_size: int | None = None) -> None:
        self._where = where
        self._run_size = max(1, run_size if run_size is not None else RUN_SIZE)
        self._buffer: list[tuple[str, str]] = []
        self._runs: list[Path] = []
        self._count = 0
        self._index: tuple[list[str], list[int]] | None = None

    def add(self, key: str, value: str) -> None:
        self._index = None
        self._buffer.append((key, value))
        self._count += 1
        if len(self._buffer) >= self._run_size:
            self._write_run()

    def __len__(self) -> int:
        return self._count

    @property
    def runs(self) -> int:
        """How many runs are on disk."""
        return len(self._runs)

    def _write_run(self) -> None:
        self._buffer.sort(key=itemgetter(0))
        path = self._where.new_file("run")
        with writing(path), open(path, "w", **_ENCODING) as out:  # type: ignore[call-overload]
            out.writelines(f"{_escape(k)}\t{_escape(v)}\n" for k, v in self._buffer)
        self._runs.append(path)
        self._buffer = []

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """Every record, sorted by key (ties in the order added). Records added
        while iterating are not seen."""
        if not self._runs:
            return iter(sorted(self._buffer, key=itemgetter(0)))
        if self._buffer:
            self._write_run()
        if len(self._runs) == 1:
            return _read_run(self._runs[0])
        return heapq.merge(*(_read_run(p) for p in self._runs), key=itemgetter(0))

    def lookup(self, key: str) -> str | None:
        """The value first added with `key`, or None. In memory while the spill
        is; past that the runs are merged into one file once, with every
        INDEX_EVERY-th key and its offset kept, and a lookup reads at most
        that many lines."""
        if not self._runs:
            for k, v in self._buffer:
                if k == key:
                    return v
            return None
        if self._index is None:
            self._index = self._merge_indexed()
        keys, offsets = self._index
        at = bisect.bisect_left(keys, key)
        if at == len(keys) or keys[at] != key:
            at -= 1  # the key, if there, is in the block before
        if at < 0:
            return None
        with open(self._runs[0], "rb") as lines:
            lines.seek(offsets[at])
            while raw := lines.readline():
                k, v = _parse(raw.decode("utf-8", "surrogatepass"))
                if k == key:
                    return v
                if k > key:
                    return None
        return None

    def _merge_indexed(self) -> tuple[list[str], list[int]]:
        keys: list[str] = []
        offsets: list[int] = []
        path = self._where.new_file("merged")
        offset = 0
        previous: str | None = None
        since = INDEX_EVERY
        with writing(path), open(path, "wb") as out:
            for k, v in self:
                # Only the first line of a key starts a block: a lookup then
                # reads one block, to the first greater key.
                if since >= INDEX_EVERY and k != previous:
                    keys.append(k)
                    offsets.append(offset)
                    since = 0
                since += 1
                previous = k
                line = f"{_escape(k)}\t{_escape(v)}\n".encode("utf-8", "surrogatepass")
                out.write(line)
                offset += len(line)
        for run in self._runs:
            run.unlink()
        self._runs = [path]
        return keys, offsets


def _parse(line: str) -> tuple[str, str]:
    key, _, value = line[:-1].partition("\t")
    return _unescape(key), _unescape(value)


def _read_run(path: Path) -> Iterator[tuple[str, str]]:
    with open(path, **_ENCODING) as lines:  # type: ignore[call-overload]
        for line in lines:
            if "\\" in line:
                yield _parse(line)
            else:  # the usual line: nothing escaped
                key, _, value = line.partition("\t")
                yield key, value[:-1]


def temp_parent_outside(*folders: str) -> str | None:
    """The system's temporary folder, or None when it lies inside one of
    `folders` (a bundle must never hold a spill): then the parent of the first."""
    temp = os.path.realpath(tempfile.gettempdir())
    for folder in folders:
        real = os.path.realpath(folder)
        if temp == real or temp.startswith(real.rstrip(os.sep) + os.sep):
            return os.path.dirname(real)
    return None
