"""The payload manifest, read as layout.parse_manifest reads it but streamed:
never whole in memory, its entries spilled in path order (base/spill.py) so
that the checks join it with the payload, the commitments and the names map
in one ordered pass each (docs/performance.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from custody.base.spill import SortedSpill, SpillDir, temp_parent_outside
from custody.bundle.format import layout


class ListedManifest:
    """What a payload manifest lists: `errors` (the lines it rejects, as
    parse_manifest gives them) and its entries, read back sorted by path
    with the order they had in the file (`entries`)."""

    def __init__(self, stream: IO[bytes] | None, where: SpillDir) -> None:
        self.errors: list[layout.ManifestLineError] = []
        self._spill = SortedSpill(where)
        self._count = 0
        if stream is None:
            return
        previous: str | None = None
        in_order = True
        with stream:
            for number, raw in enumerate(stream, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    # parse_manifest decodes the whole file first: one bad
                    # byte anywhere and nothing is listed.
                    self.errors = [layout.ManifestLineError(0, None, "not valid UTF-8")]
                    self._spill = SortedSpill(where)
                    return
                parsed = layout.parse_manifest_line(line.removesuffix("\n"), number)
                if isinstance(parsed, layout.ManifestLineError):
                    self.errors.append(parsed)
                    continue
                path, digest = parsed
                if in_order and previous is not None and path <= previous:
                    in_order = False
                previous = path
                self._spill.add(path, f"{digest} {number}")
        if in_order:  # as custody writes it: no path can be listed twice
            self._count = len(self._spill)
            self.errors.sort(key=lambda e: e.line_number)
            return
        previous = None
        for path, value in self._spill:
            if path == previous:
                number = int(value.partition(" ")[2])
                self.errors.append(
                    layout.ManifestLineError(number, path, f"line {number}: listed more than once")
                )
                continue
            previous = path
            self._count += 1
        self.errors.sort(key=lambda e: e.line_number)

    @classmethod
    def of(cls, listing: Mapping[str, Any], where: SpillDir) -> ListedManifest:
        """A manifest of these {path: SHA-256} entries (in their order)."""
        made = cls(None, where)
        for number, (path, digest) in enumerate(listing.items(), start=1):
            made._spill.add(path, f"{digest} {number}")
        made._count = len(listing)
        return made

    def entries(self) -> Iterator[tuple[str, str, int]]:
        """(path, SHA-256, line number) for every path listed, sorted by path
        (as Python sorts str); a path listed twice counts at its first line."""
        previous = None
        for path, value in self._spill:
            if path == previous:
                continue
            previous = path
            digest, _, number = value.partition(" ")
            yield path, digest, int(number)

    def items(self) -> Iterator[tuple[str, str]]:
        for path, digest, _ in self.entries():
            yield path, digest

    def __iter__(self) -> Iterator[str]:
        for path, _, _ in self.entries():
            yield path

    def __len__(self) -> int:
        return self._count

    def __contains__(self, path: object) -> bool:
        """One pass over the entries: checks join rather than ask this."""
        return any(p == path for p in self)


def sorted_listing(listing: ListedManifest | Mapping[str, Any]) -> Iterator[tuple[str, str, int]]:
    """(path, SHA-256, order) sorted by path, from a ListedManifest or from a
    {path: SHA-256 or (size, SHA-256)} mapping (a bundle just written)."""
    if isinstance(listing, ListedManifest):
        return listing.entries()
    return _sorted_mapping(listing)


def _sorted_mapping(listing: Mapping[str, Any]) -> Iterator[tuple[str, str, int]]:
    # Sorted through a spill (in memory up to its run size), not a list of
    # every entry: ingest checks a million files it has just copied this way.
    where = SpillDir(temp_parent_outside())
    try:
        rows = SortedSpill(where)
        for number, (path, value) in enumerate(listing.items()):
            rows.add(path, f"{value[1] if isinstance(value, tuple) else value} {number}")
        for path, row in rows:
            digest, order = row.rsplit(" ", 1)
            yield path, digest, int(order)
    finally:
        where.close()


def join(
    left: Iterable[tuple[str, Any]], right: Iterable[tuple[str, Any]]
) -> Iterator[tuple[str, Any, Any]]:
    """Merge join of two streams sorted by their (unique) keys: (key, left
    value or None, right value or None), in key order."""
    a, b = iter(left), iter(right)
    end = object()
    x: Any = next(a, end)
    y: Any = next(b, end)
    while x is not end or y is not end:
        if y is end or (x is not end and x[0] < y[0]):
            yield x[0], x[1], None
            x = next(a, end)
        elif x is end or y[0] < x[0]:
            yield y[0], None, y[1]
            y = next(b, end)
        else:
            yield x[0], x[1], y[1]
            x, y = next(a, end), next(b, end)
