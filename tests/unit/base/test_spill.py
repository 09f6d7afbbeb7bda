"""base/spill.py against sorted(): every record back, in key order, ties in the
order added, whatever the run size, with keys holding the characters its lines
escape and names that are not UTF-8; its folder removed on close."""

from __future__ import annotations

import random
from operator import itemgetter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.base.spill import SortedSpill, SpillDir, temp_parent_outside

KEYS = st.text(alphabet=st.sampled_from(["a", "b", "\\", "\n", "\t", "\r", "é", "\udc80", "😀"]))


@given(st.lists(st.tuples(KEYS, KEYS), max_size=60), st.integers(1, 7))
def test_records_come_back_as_sorted_gives_them(records: list[tuple[str, str]], run: int) -> None:
    where = SpillDir()
    try:
        spill = SortedSpill(where, run_size=run)
        for key, value in records:
            spill.add(key, value)
        assert len(spill) == len(records)
        want = sorted(records, key=itemgetter(0))  # stable: ties in the order added
        assert list(spill) == want
        assert list(spill) == want  # read again
    finally:
        where.close()


def test_a_large_spill_merges_runs_from_disk(tmp_path: Path) -> None:
    rng = random.Random(7)
    keys = [f"data/d{rng.randrange(1000):03d}/f{i}" for i in range(5000)]
    where = SpillDir(str(tmp_path))
    spill = SortedSpill(where, run_size=300)
    for i, key in enumerate(keys):
        spill.add(key, str(i))
    assert spill.runs == 16
    assert [k for k, _ in spill] == sorted(keys)
    assert where.made and len(list(tmp_path.iterdir())) == 1
    where.close()
    assert list(tmp_path.iterdir()) == []


def test_a_small_spill_never_touches_the_disk() -> None:
    where = SpillDir()
    spill = SortedSpill(where, run_size=10)
    for key in "dcba":
        spill.add(key, "")
    assert [k for k, _ in spill] == ["a", "b", "c", "d"]
    assert not where.made


def test_the_folder_goes_when_the_spill_is_dropped(tmp_path: Path) -> None:
    where = SpillDir(str(tmp_path))
    spill = SortedSpill(where, run_size=1)
    spill.add("x", "1")
    spill.add("y", "2")
    assert len(list(tmp_path.iterdir())) == 1
    del spill, where
    assert list(tmp_path.iterdir()) == []


def test_a_spill_is_never_made_inside_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "tmp").mkdir(parents=True)
    monkeypatch.setattr("tempfile.tempdir", str(bundle / "tmp"))
    assert temp_parent_outside(str(bundle)) == str(tmp_path)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "elsewhere"))
    assert temp_parent_outside(str(bundle)) is None


@given(st.lists(st.tuples(KEYS, KEYS), max_size=80), st.integers(1, 5), st.lists(KEYS, max_size=10))
def test_lookup_finds_the_first_value_added_for_a_key(
    records: list[tuple[str, str]], run: int, asked: list[str]
) -> None:
    where = SpillDir()
    try:
        spill = SortedSpill(where, run_size=run)
        first: dict[str, str] = {}
        for key, value in records:
            spill.add(key, value)
            first.setdefault(key, value)
        for key in [*asked, *first]:
            assert spill.lookup(key) == first.get(key)
        assert list(spill) == sorted(records, key=itemgetter(0))  # still whole after merging
    finally:
        where.close()


def test_lookup_in_a_large_spill_reads_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("custody.base.spill.INDEX_EVERY", 4)
    where = SpillDir()
    spill = SortedSpill(where, run_size=7)
    for i in range(100):
        spill.add(f"k{i % 40:02d}", str(i))  # every key at least twice, across runs
    assert [spill.lookup(f"k{i:02d}") for i in range(40)] == [str(i) for i in range(40)]
    assert spill.lookup("k40") is None and spill.lookup("a") is None
    assert spill.runs == 1
    where.close()
