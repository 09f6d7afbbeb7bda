"""The one streamed process pool (base/batches.py): every item once, in order, with
its own result, whether checked here or over every core, and nothing read far ahead."""

from __future__ import annotations

import hashlib
import itertools

from custody.base.batches import map_batches


def digests(datas: list[bytes]) -> list[str]:
    return [hashlib.sha256(d).hexdigest() for d in datas]


def test_small_and_large_inputs_give_each_item_its_own_result_in_order() -> None:
    for count, threshold in ((0, 4096), (10, 4096), (9000, 100)):
        items = [(i, str(i).encode()) for i in range(count)]
        got = list(
            map_batches(digests, items, input_of=lambda it: it[1], batch=1000, threshold=threshold)
        )
        assert [item for item, _ in got] == items
        assert [r for _, r in got] == [hashlib.sha256(d).hexdigest() for _, d in items]


def test_items_are_read_a_batch_or_two_ahead_not_all_at_once() -> None:
    taken = itertools.count()

    def endless() -> object:
        while True:
            yield str(next(taken)).encode()

    walked = map_batches(digests, endless(), input_of=lambda d: d, batch=100, threshold=10**9)
    first = [next(walked) for _ in range(150)]
    assert first[0][0] == b"0" and first[-1][0] == b"149"
    assert next(taken) <= 300  # two batches in flight at most
