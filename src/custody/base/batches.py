"""Checking many items over every core, streamed: the one process pool behind the
signature audits of the ledger (`custody ledger verify`) and the team log
(`custody team verify`).

`map_batches(check, items)` yields `(item, result)` in order. Items are taken a
batch at a time (memory stays flat however many there are); a large batch is
split over one process per core, and the next batch is being checked while the
caller walks this one. Small inputs are checked in this process: starting a pool
costs more than it saves. `check` must be a module-level function (it is sent
to the worker processes) taking a list of inputs and returning one result each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the input each item gives the check
R = TypeVar("R")

BATCH = 4096
"""Items read at a time (two batches in flight)."""
PARALLEL_THRESHOLD = 4096
"""Fewer inputs than this in a batch are checked here, without a pool."""


def map_batches(
    check: Callable[[list[I]], list[R]],
    items: Iterable[T],
    *,
    input_of: Callable[[T], I],
    batch: int = BATCH,
    threshold: int = PARALLEL_THRESHOLD,
) -> Iterator[tuple[T, R]]:
    """Each item with `check`'s result for `input_of(item)`, in order."""
    workers = os.cpu_count() or 1
    pool: ProcessPoolExecutor | None = None

    def submit(part: list[T]) -> list[Future[list[R]]] | list[R]:
        nonlocal pool
        inputs = [input_of(item) for item in part]
        if len(inputs) < threshold or workers < 2:
            return check(inputs)
        if pool is None:
            pool = ProcessPoolExecutor(max_workers=workers)
        size = (len(inputs) + workers * 4 - 1) // (workers * 4)
        return [pool.submit(check, inputs[i : i + size]) for i in range(0, len(inputs), size)]

    def results(pending: list[Future[list[R]]] | list[R]) -> list[R]:
        out: list[R] = []
        for part in pending:
            if isinstance(part, Future):
                out.extend(part.result())
            else:
                out.append(part)
        return out

    source = iter(items)

    def next_batch() -> list[T] | None:
        return list(islice(source, batch)) or None

    try:
        current = next_batch()
        pending = submit(current) if current is not None else []
        while current is not None:
            following = next_batch()
            ahead = submit(following) if following is not None else []
            yield from zip(current, results(pending), strict=True)
            current, pending = following, ahead
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
