"""Per-file state on disk (custody.bundle.write.spill) and StreamingRoot: what ingest keeps
out of memory must read back exactly as it was written."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from custody.bundle.format.commitment_tree import CommitmentTree, StreamingRoot
from custody.bundle.write.spill import PrefixedView, RecordSpill, SortedIndex, sorted_runs
from custody.tlog import merkle


def test_records_read_back_in_order_by_two_readers(tmp_path: Path) -> None:
    spill = RecordSpill(tmp_path)
    records = [(f"d/{i:05d}\udcff", i, bytes([i % 256]) * 3, None) for i in range(2000)]
    spill.extend(records)
    assert len(spill) == 2000
    first, second = iter(spill), iter(spill)
    assert [next(first) for _ in range(700)] == records[:700]
    assert list(second) == records and list(first) == records[700:]
    assert list(tmp_path.iterdir()) == []  # anonymous: nothing can reach a bundle


def test_sorted_index_looks_up_every_key_and_nothing_else(tmp_path: Path) -> None:
    rng = random.Random(7)
    names = ("".join(rng.choice("ab/é✓") for _ in range(rng.randint(1, 9))) for _ in range(3000))
    keys = sorted(set(names))
    index = SortedIndex(tmp_path)
    for n, key in enumerate(keys):
        index.add(key, (n, f"{n:064x}", None))
    index.seal()
    assert len(index) == len(keys) and list(index) == keys
    for key in rng.sample(keys, 500):
        assert index[key][0] == keys.index(key)
    assert "zzz" not in index and "" not in index and 5 not in index  # type: ignore[operator]
    view = PrefixedView(index, "data/")
    assert view[f"data/{keys[3]}"] == (3, f"{3:064x}") and keys[3] not in view
    with pytest.raises(ValueError):
        index.add(keys[0], (0,))


def test_sorted_runs_sorts_stably_beyond_one_run(tmp_path: Path) -> None:
    rng = random.Random(3)
    records = [(rng.randint(0, 50), n) for n in range(1000)]
    out = list(sorted_runs(tmp_path, iter(records), key=lambda r: r[0], run=64))
    assert out == sorted(records, key=lambda r: r[0])


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 8, 13, 64, 100, 257])
def test_streaming_root_is_the_commitment_tree_root(size: int) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    streaming = StreamingRoot()
    for h in hashes:
        streaming.append(h)
    assert streaming.root == CommitmentTree(hashes).root and streaming.size == size
