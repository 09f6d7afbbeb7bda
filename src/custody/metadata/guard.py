"""A read-only file wrapper that bounds what a parser may read and for how long.

Parsers of hostile files can loop or seek forever; every read and seek passes
through here, so a deadline and a byte budget stop them with ExtractionLimit.
"""

from __future__ import annotations

import io
import time
from typing import Any


class ExtractionLimit(Exception):
    """A parser ran past its time or read budget."""


class GuardedFile(io.RawIOBase):
    """Wraps a binary file; raises ExtractionLimit past `seconds` or `max_bytes` read."""

    def __init__(self, raw: Any, *, seconds: float, max_bytes: int) -> None:
        super().__init__()
        self._raw = raw
        self._deadline = time.monotonic() + seconds
        self._budget = max_bytes
        self.name = getattr(raw, "name", "")

    def _check(self) -> None:
        if time.monotonic() > self._deadline:
            raise ExtractionLimit("metadata extraction took too long")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._check()
        view = memoryview(buffer)
        if self._budget <= 0 and len(view):
            raise ExtractionLimit("metadata extraction read too much of the file")
        view = view[: max(0, self._budget)]
        n: int = self._raw.readinto(view)
        self._budget -= n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        self._check()
        return int(self._raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell())

    def close(self) -> None:
        # The caller owns the underlying file; closing the guard leaves it open.
        super().close()
