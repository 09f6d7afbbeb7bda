"""ScannedFiles (bundle/read/scan.py) against a dict, its oracle: the same
files, counts, bytes and lookups whether its payload is in memory or spilled
to disk in runs; tag files first, then the payload in path order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.base import spill
from custody.bundle.read.scan import BundleScan, ScannedFile, ScannedFiles

PATHS = st.sampled_from(
    [
        "data/a",
        "data/b",
        "data/a/c",
        "data/\u00e9",
        "data/\udc80",
        "data/x\ny",
        "bagit.txt",
        "custody/s",
    ]
)


@given(
    st.lists(st.tuples(PATHS, st.integers(0, 9)), max_size=12, unique_by=lambda t: t[0]),
    st.lists(PATHS, max_size=5),
    st.integers(1, 4),
)
def test_scanned_files_hold_what_a_dict_holds(
    added: list[tuple[str, int]], asked: list[str], run: int
) -> None:
    saved = spill.RUN_SIZE
    spill.RUN_SIZE = run
    try:
        files = ScannedFiles()
        oracle: dict[str, ScannedFile] = {}
        for path, size in added:
            files[path] = oracle[path] = ScannedFile(size, f"{size:064x}")
        tags = [p for p in oracle if not p.startswith("data/")]
        payload = sorted(p for p in oracle if p.startswith("data/"))
        assert list(files) == tags + payload
        assert dict(files.items()) == oracle
        assert len(files) == len(oracle)
        assert files.payload_count == len(payload)
        assert files.payload_bytes == sum(oracle[p].size for p in payload)
        for path in asked:
            assert files.get(path) == oracle.get(path)
            assert (path in files) == (path in oracle)
        gone = {p: oracle[p] for p in payload[:1]}
        less = files.without(gone)
        assert dict(less.items()) == {p: f for p, f in oracle.items() if p not in gone}
        assert less.payload_count == len(payload) - len(gone)
        files.where.close()
    finally:
        spill.RUN_SIZE = saved


def test_a_small_scan_can_be_edited_like_a_dict() -> None:
    scan = BundleScan("/nowhere", {"data/a": ScannedFile(1, "x"), "data/b": ScannedFile(2, "y")})
    scan.files["data/a"] = ScannedFile(5, "z")
    del scan.files["data/b"]
    assert dict(scan.files.items()) == {"data/a": ScannedFile(5, "z")}
    assert (scan.files.payload_count, scan.files.payload_bytes) == (1, 5)


def test_a_large_scan_refuses_a_path_added_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "RUN_SIZE", 2)
    files = ScannedFiles()
    for name in "abcd":
        files[f"data/{name}"] = ScannedFile(1, name)
    assert files["data/c"] == ScannedFile(1, "c")
    files["data/a"] = ScannedFile(2, "again")  # cannot be told at once, at a million files
    with pytest.raises(ValueError, match="twice"):
        list(files.payload())
    files.where.close()
