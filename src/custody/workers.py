"""A small worker pool: run a function over many items on a few threads.

Unlike one Future per item, memory does not grow with the number of items
beyond the result list, and the first failure stops the other workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Cancelled(Exception):
    """Raised inside a worker when another worker has failed."""


def default_workers() -> int:
    """Threads to use: the machine's cores (hashlib releases the GIL), at most 8."""
    return max(1, min(8, os.cpu_count() or 2))


def run_parallel(
    fn: Callable[[T, threading.Event], R], items: Sequence[T], *, workers: int | None = None
) -> list[R]:
    """Apply fn(item, stop) to every item, results in item order.

    `stop` is set once any call fails; long calls should check it and raise
    Cancelled. The first real exception is re-raised in the caller.
    """
    n = len(items)
    results: list[R | None] = [None] * n
    stop = threading.Event()
    lock = threading.Lock()
    next_index = 0
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal next_index
        while not stop.is_set():
            with lock:
                i = next_index
                next_index += 1
            if i >= n:
                return
            try:
                results[i] = fn(items[i], stop)
            except Cancelled:
                return
            except BaseException as e:
                with lock:
                    errors.append(e)
                stop.set()
                return

    count = min(workers or default_workers(), n)
    if count <= 1:
        worker()
    else:
        threads = [
            threading.Thread(target=worker, name=f"custody-worker-{k}", daemon=True)
            for k in range(count)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]
