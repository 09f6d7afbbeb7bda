"""A list in a JSON document that is written one item at a time: its items are
read again from where they are kept (a spill on disk) each time it is iterated,
so a report of a million files is never held whole (render/_base.Output.json
writes documents that hold one as they are encoded)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


class StreamedList(list[Any]):
    """`length` items, produced afresh by `items()` on each iteration. A list
    subclass, so that JSON encoders take it for an array; it holds nothing
    itself. Indexing reads the items (for the rare reader that needs one)."""

    def __init__(self, length: int, items: Callable[[], Iterable[Any]]) -> None:
        super().__init__()
        self._length = length
        self._items = items

    def __len__(self) -> int:
        return self._length

    def __bool__(self) -> bool:
        return self._length > 0

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __getitem__(self, index: Any) -> Any:
        return list(self._items())[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and list(iter(self)) == list(iter(other))

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"StreamedList({self._length} items)"
