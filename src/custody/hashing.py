"""The one streaming SHA-256 reader: hash while copying, each byte read once."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import IO

CHUNK = 1 << 20  # 1 MiB: large enough that hashlib releases the GIL, small enough to stay flat

ProgressFn = Callable[[int], None]


def _noop(_: int) -> None:
    return None


def copy_and_hash(src_fd: int, dst_fd: int, *, on_bytes: ProgressFn = _noop) -> tuple[str, int]:
    """Copy everything from src_fd to dst_fd, hashing the bytes as they pass.

    Returns (sha256 hex digest, byte count). The digest describes exactly the
    bytes written. Raises OSError from reads or writes.
    """
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = os.readv(src_fd, [buf])
        if n == 0:
            break
        chunk = view[:n]
        h.update(chunk)
        written = 0
        while written < n:
            written += os.write(dst_fd, chunk[written:])
        total += n
        on_bytes(n)
    return h.hexdigest(), total


def hash_stream(stream: IO[bytes], *, on_bytes: ProgressFn = _noop) -> tuple[str, int]:
    """Hash a readable binary stream to its end. Returns (hex digest, byte count)."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            break
        h.update(view[:n])
        total += n
        on_bytes(n)
    return h.hexdigest(), total


def hash_fd(fd: int, *, on_bytes: ProgressFn = _noop) -> tuple[str, int]:
    """Hash an open file descriptor from its current offset to the end."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = os.readv(fd, [buf])
        if n == 0:
            break
        h.update(view[:n])
        total += n
        on_bytes(n)
    return h.hexdigest(), total


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of a byte string."""
    return hashlib.sha256(data).hexdigest()
