"""Thread-safe, rate-limited progress reporting for the library's long operations.

The library reports through a plain callback; only the CLI knows about terminals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from custody.base.models import ProgressEvent

ProgressCallback = Callable[[ProgressEvent], None]

_INTERVAL_S = 0.1

T = TypeVar("T")


class ProgressTracker:
    """Counts files and bytes from worker threads and calls `callback` at most
    ten times a second (and once at the end), so that reporting costs nothing
    measurable."""

    def __init__(
        self, phase: str, files_total: int, bytes_total: int, callback: ProgressCallback | None
    ) -> None:
        self._phase = phase
        self._files_total = files_total
        self._bytes_total = bytes_total
        self._callback = callback
        self._lock = threading.Lock()
        self._files = 0
        self._bytes = 0
        self._last = 0.0

    def add_work(self, files: int, nbytes: int) -> None:
        """Grow the totals, for work discovered while it is already under way."""
        with self._lock:
            self._files_total += files
            self._bytes_total += nbytes

    def add_bytes(self, n: int) -> None:
        if self._callback is None:
            return
        with self._lock:
            self._bytes += n
        self._maybe_report()

    def file_done(self) -> None:
        if self._callback is None:
            return
        with self._lock:
            self._files += 1
        self._maybe_report()

    def _maybe_report(self, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < _INTERVAL_S:
                return
            self._last = now
            event = ProgressEvent(
                self._phase, self._files, self._files_total, self._bytes, self._bytes_total
            )
        assert self._callback is not None
        self._callback(event)

    def finish(self) -> None:
        if self._callback is not None:
            self._maybe_report(force=True)


def counted(
    items: Iterable[T], tracker: ProgressTracker, size_of: Callable[[T], int]
) -> Iterator[T]:
    """`items`, each counted as one file of `size_of(item)` bytes as it passes (a
    phase whose work is a stream, such as an ingest's metadata); finished at the end."""
    for item in items:
        tracker.add_bytes(size_of(item))
        tracker.file_done()
        yield item
    tracker.finish()
