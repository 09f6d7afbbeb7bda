"""format/names.check_names_map for a manifest too large to hold: the same
problems, in the same order, from sorted passes over spilled records
(base/spill.py) instead of a dict of every file's original name.

check_names_map, whose order this keeps: (1) each entry of the names map, in
its order; (2) each listed data/ path, in path order, whose original name an
earlier path already has; (3) each file, in path order, whose original name
lies inside another file's original name (the first such folder, shallowest).
Here (2) groups a spill of (original, path) by original, and (3) joins the
spill of every original's folders with the originals themselves."""

from __future__ import annotations

from collections.abc import Iterator

from custody.base.spill import SortedSpill, SpillDir
from custody.bundle.format.names import NameProblem, original_path_reason
from custody.bundle.verify.manifest import ListedManifest


def _key(original: bytes) -> str:
    # One character a byte: sorts as the bytes do, and any bytes are text.
    return original.decode("latin-1")


def _firsts(by_original: SortedSpill) -> Iterator[tuple[str, str, list[str]]]:
    """(original, the first path with it, the later paths with it)."""
    key: str | None = None
    first = ""
    later: list[str] = []
    for original, path in by_original:
        if original != key:
            if key is not None:
                yield key, first, later
            key, first, later = original, path, []
        else:
            later.append(path)
    if key is not None:
        yield key, first, later


def check_names_streamed(
    originals: dict[str, bytes], manifest: ListedManifest, prefix: str, where: SpillDir
) -> list[NameProblem]:
    """check_names_map(originals, manifest paths, prefix), holding only the
    names map and the problems."""
    listed = {p for p in manifest if p in originals} if originals else set()
    problems: list[NameProblem] = []
    for path, original in originals.items():
        if path not in listed or not path.startswith(prefix):
            problems.append(NameProblem(path, "names a file the payload manifest does not list"))
        elif original == path[len(prefix) :].encode("utf-8"):
            problems.append(NameProblem(path, "original name is the stored name"))
        reason = original_path_reason(original)
        if reason is not None:
            problems.append(NameProblem(path, reason))

    by_original = SortedSpill(where)
    for path in manifest:  # in path order: a tie keeps the first path first
        if path.startswith(prefix):
            by_original.add(_key(originals.get(path, path[len(prefix) :].encode("utf-8"))), path)
    twins: list[NameProblem] = []
    folders = SortedSpill(where)
    for name, first, later in _firsts(by_original):
        twins.extend(NameProblem(p, f"same original name as {first}") for p in later)
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folders.add("/".join(parts[:depth]), f"{depth} {first}")
    twins.sort(key=lambda p: p.path or "")
    problems.extend(twins)

    inside: dict[str, tuple[int, str]] = {}  # path: (depth, the file it lies inside)
    restored = _firsts(by_original)
    current = next(restored, None)
    for folder, value in folders:
        while current is not None and current[0] < folder:
            current = next(restored, None)
        if current is None:
            break
        if current[0] == folder:
            depth_text, _, path = value.partition(" ")
            depth = int(depth_text)
            if path not in inside or depth < inside[path][0]:
                inside[path] = (depth, current[1])
    problems.extend(
        NameProblem(path, f"original name lies inside {other}'s name")
        for path, (_, other) in sorted(inside.items())
    )
    return problems
