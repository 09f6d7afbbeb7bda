"""Pure-Python work on every core: an ordered, bounded map over worker
processes.

The metadata parsers are pure Python, so threads take turns for the
interpreter; processes do not. The pool is forked (the work's context, such
as the list of file names, is inherited, never pickled per item), items are
sent in chunks with at most a few chunks per worker in flight (memory stays
flat on a million items), and results come back in item order. Workers
ignore SIGINT and die on SIGTERM: Ctrl-C reaches the parent, which
terminates the pool on its way out. Below `min_items`, or where fork is not
available, the map runs in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_CONTEXT: Any = None
_FN: Callable[[Any, Any], Any] | None = None


def _init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_chunk(chunk: list[Any]) -> list[Any]:
    assert _FN is not None  # set before the fork
    return [_FN(_CONTEXT, item) for item in chunk]


WORKERS: int | None = None
"""How many processes map_ordered uses when not told (None: one per core, at
most 8; 1: none, the work runs in the caller). The benchmark sets it."""


def process_workers() -> int:
    """Processes to use: WORKERS, or one per core, at most 8."""
    return WORKERS or max(1, min(8, os.cpu_count() or 1))


def map_ordered(
    fn: Callable[[Any, T], R],
    items: Iterable[T],
    *,
    context: Any = None,
    workers: int | None = None,
    chunk: int = 32,
    min_items: int = 128,
    sized: int | None = None,
) -> Iterator[R]:
    """fn(context, item) for every item, in order, on `workers` processes.
    `fn` must be a module-level function; `context` is inherited by the
    workers at fork. `sized` (the number of items, when known) decides
    whether a pool is worth starting."""
    count = workers or process_workers()
    if (
        count <= 1
        or (sized is not None and sized < min_items)
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        for item in items:
            yield fn(context, item)
        return
    global _CONTEXT, _FN
    _CONTEXT, _FN = context, fn
    source = iter(items)
    try:
        pool = multiprocessing.get_context("fork").Pool(count, initializer=_init)
    finally:
        _CONTEXT, _FN = None, None  # the children have their copy
    pending: deque[Any] = deque()
    try:
        while True:
            while len(pending) < 3 * count:
                block = list(islice(source, chunk))
                if not block:
                    break
                pending.append(pool.apply_async(_run_chunk, (block,)))
            if not pending:
                break
            yield from pending.popleft().get()
        pool.close()
        pool.join()
    finally:
        pool.terminate()
