"""The one streaming reader: what it copies is what it hashes, and failures surface."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from custody.base.hashing import HEAD_BYTES, copy_and_hash, copy_and_hash_pipelined
from custody.base.workers import Cancelled


@pytest.mark.parametrize("copier", [copy_and_hash, copy_and_hash_pipelined])
@pytest.mark.parametrize("size", [0, 1, HEAD_BYTES + 1, (4 << 20) + 7, 21_000_001])
def test_copy_equals_hash(tmp_path: Path, copier, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "src").write_bytes(data)
    src = os.open(tmp_path / "src", os.O_RDONLY)
    dst = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT)
    try:
        digest, count, head = copier(src, dst)
    finally:
        os.close(src)
        os.close(dst)
    assert digest == hashlib.sha256(data).hexdigest()
    assert count == size and head == data[:HEAD_BYTES]
    assert (tmp_path / "dst").read_bytes() == data


def test_pipelined_write_error_surfaces(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(os.urandom(9 << 20))
    src = os.open(tmp_path / "src", os.O_RDONLY)
    (tmp_path / "dst").write_bytes(b"")
    dst = os.open(tmp_path / "dst", os.O_RDONLY)  # writing to it fails
    before = threading.active_count()
    try:
        with pytest.raises(OSError):
            copy_and_hash_pipelined(src, dst)
    finally:
        os.close(src)
        os.close(dst)
    assert threading.active_count() == before


def test_pipelined_cancellation_stops_every_thread(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(os.urandom(40 << 20))
    src = os.open(tmp_path / "src", os.O_RDONLY)
    dst = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT)
    before = threading.active_count()

    def cancel(_: int) -> None:
        raise Cancelled

    try:
        with pytest.raises(Cancelled):
            copy_and_hash_pipelined(src, dst, on_bytes=cancel)
    finally:
        os.close(src)
        os.close(dst)
    assert threading.active_count() == before
