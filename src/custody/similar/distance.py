"""PDQ distances over many hashes at once: vectorised XOR and popcount over
numpy arrays of four 64-bit words a hash, with a multi-index (16 chunks of
16 bits) so that 100,000 hashes are matched against each other in seconds.

Pigeonhole: two 256-bit hashes at most 31 bits apart differ in at most one
bit in at least one of their sixteen 16-bit chunks. So every pair within the
distance is among the pairs that share a chunk exactly or up to one bit, and
only those candidates get their full distance computed. The result is exactly
the brute-force one (tests/unit/similar/test_similar_match.py checks it against it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from custody.similar import MATCH_DISTANCE

BRUTE_FORCE_PAIRS = 4_000_000
"""Below this many query x target pairs, every pair is compared directly."""
_BLOCK = 200_000  # candidate pairs held at once: memory stays flat


def pack(hexes: list[str]) -> Any:
    """(N, 4) uint64 words from 64-hex-digit hashes."""
    if not hexes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").reshape(-1, 4)
    return raw.astype(np.uint64)


def distances(a: Any, b: Any) -> Any:
    """Row-wise distances between (N, 4) arrays a and b."""
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=1, dtype=np.int64)


def near_pairs(
    queries: Any, targets: Any, max_distance: int = MATCH_DISTANCE
) -> tuple[Any, Any, Any]:
    """Every (query row, target row, distance) with distance <= max_distance,
    sorted by query then target. max_distance must be below 32 for the index."""
    if len(queries) == 0 or len(targets) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    if len(queries) * len(targets) <= BRUTE_FORCE_PAIRS or max_distance >= 32:
        return _brute_force(queries, targets, max_distance)
    return _indexed(queries, targets, max_distance)


def _brute_force(queries: Any, targets: Any, max_distance: int) -> tuple[Any, Any, Any]:
    qs, ts, ds = [], [], []
    rows = max(1, _BLOCK // max(1, len(targets)))
    for start in range(0, len(queries), rows):
        block = queries[start : start + rows]
        d = np.bitwise_count(block[:, None, :] ^ targets[None, :, :]).sum(axis=2, dtype=np.int64)
        qi, ti = np.nonzero(d <= max_distance)
        qs.append(qi + start)
        ts.append(ti)
        ds.append(d[qi, ti])
    return _sorted(np.concatenate(qs), np.concatenate(ts), np.concatenate(ds))


def _chunks(words: Any) -> Any:
    """(N, 16) uint16 chunks of (N, 4) uint64 words."""
    return np.ascontiguousarray(words.astype(">u8")).view(">u2").astype(np.uint16).reshape(-1, 16)


_PROBES = np.array([0] + [1 << b for b in range(16)], dtype=np.uint16)


def _indexed(queries: Any, targets: Any, max_distance: int) -> tuple[Any, Any, Any]:
    qchunks, tchunks = _chunks(queries), _chunks(targets)
    found: list[tuple[Any, Any, Any]] = []
    step = max(1, _BLOCK // (len(_PROBES) * 4))
    for j in range(16):
        order = np.argsort(tchunks[:, j], kind="stable")
        column = tchunks[order, j]
        for start in range(0, len(queries), step):
            probes = qchunks[start : start + step, j][:, None] ^ _PROBES[None, :]
            lo = np.searchsorted(column, probes, side="left").ravel()
            hi = np.searchsorted(column, probes, side="right").ravel()
            counts = hi - lo
            total = int(counts.sum())
            if total == 0:
                continue
            qrow = np.repeat(np.arange(probes.shape[0]).repeat(len(_PROBES)), counts) + start
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            trow = order[np.repeat(lo, counts) + offsets]
            d = distances(queries[qrow], targets[trow])
            keep = d <= max_distance
            found.append((qrow[keep], trow[keep], d[keep]))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    qs = np.concatenate([f[0] for f in found]).astype(np.int64)
    ts = np.concatenate([f[1] for f in found]).astype(np.int64)
    ds = np.concatenate([f[2] for f in found]).astype(np.int64)
    key = qs * len(targets) + ts
    _, first = np.unique(key, return_index=True)
    return _sorted(qs[first], ts[first], ds[first])


def _sorted(qs: Any, ts: Any, ds: Any) -> tuple[Any, Any, Any]:
    order = np.lexsort((ts, qs))
    return qs[order].astype(np.int64), ts[order].astype(np.int64), ds[order].astype(np.int64)
