"""Grouping: which items of a case match, from their analysis results and the
analysts' recorded decisions. Pure: values in, values out.

A pair of items matches when an image hash (or one of its eight flipped and
rotated variants) is within MATCH_DISTANCE of the other's image or frame hash,
both of quality at least MIN_QUALITY; two videos match when at least two
frames do (one, when a video has only one usable frame). Items whose SHA-256
is the same are identical copies and always grouped. A rejected pair is never
joined by the grouping; a confirmed pair always is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from custody.similar import MATCH_DISTANCE, MIN_QUALITY
from custody.similar.document import Analysis

VIDEO_MIN_FRAMES = 2
RANGE_GAP_MS = 2500
"""Matched frames closer than this are shown as one time range."""


@dataclass(frozen=True)
class Item:
    """One file of one bundle, with what its bundle records about it."""

    bundle: str
    bundle_id: str
    case: str
    exhibit: str | None
    officer: str
    created: str
    path: str
    sha256: str
    size: int
    captured_at: str | None
    mime: str | None
    analysis: Analysis | None
    """None when the file is neither an image nor a video."""
    analysis_source: str = "bundle"
    """Where the hashes come from: "bundle" (its custody/similar.json), "ledger"
    (a recorded analysis of an older bundle) or "now" (analysed for this run)."""

    @property
    def pixels(self) -> int:
        a = self.analysis
        return (a.width or 0) * (a.height or 0) if a is not None else 0


@dataclass(frozen=True)
class Decision:
    """An analyst's recorded decision on a pair of files (by SHA-256)."""

    a: str
    b: str
    verdict: str  # "confirmed" or "rejected"
    note: str
    who: str
    time: str
    entry: int


@dataclass(frozen=True)
class PairMatch:
    """Why two items are in one group."""

    a: int
    b: int
    distance: int | None
    """Smallest PDQ distance found; None for a pair only an analyst joined."""
    how: str
    """"identical" (same SHA-256), "image", "mirrored or rotated", "frames",
    or "analyst" (confirmed, not detected)."""
    frames: tuple[tuple[int, int, int], ...] = ()
    """Matched (time in a, time in b, distance), ms, for pairs with a video."""
    a_share: int | None = None
    """Per cent of a's usable frames that matched (videos only)."""
    b_share: int | None = None
    status: str = "suggested"
    decision: Decision | None = None


@dataclass(frozen=True)
class Group:
    members: tuple[int, ...]
    pairs: tuple[PairMatch, ...]
    status: str  # "confirmed" when analysts confirmed every link, else "suggested"
    earliest: int | None
    """The member with the earliest recorded capture time (None when none has one)."""
    largest: int


@dataclass(frozen=True)
class Matching:
    groups: tuple[Group, ...]
    rejected: tuple[PairMatch, ...]
    not_analysed: tuple[int, ...]
    analysed: int
    thresholds: dict[str, int] = field(
        default_factory=lambda: {"max_distance": MATCH_DISTANCE, "min_quality": MIN_QUALITY}
    )


def _pools(
    items: list[Item],
) -> tuple[list[str], list[tuple[int, int]], list[str], list[tuple[int, int]]]:
    """Target hashes (originals) and query hashes (with image variants), each
    with (item, frame or -1 for an image, or -1-v for variant v)."""
    targets: list[str] = []
    tinfo: list[tuple[int, int]] = []
    queries: list[str] = []
    qinfo: list[tuple[int, int]] = []
    for i, item in enumerate(items):
        a = item.analysis
        if a is None or a.not_analysed is not None:
            continue
        if a.kind == "image" and a.pdq is not None and (a.quality or 0) >= MIN_QUALITY:
            targets.append(a.pdq)
            tinfo.append((i, -1))
            for v, h in enumerate(a.dihedral or (a.pdq,)):
                queries.append(h)
                qinfo.append((i, -1 - v))
        for k, f in enumerate(a.frames):
            if f.quality >= MIN_QUALITY:
                targets.append(f.pdq)
                tinfo.append((i, k))
                queries.append(f.pdq)
                qinfo.append((i, k))
                if f.mirror is not None:
                    queries.append(f.mirror)
                    qinfo.append((i, k))
                # Turned by 90 and 180 degrees: a turn by 270 is found from the other
                # side (its 90-degree turn), so its hash is kept but not queried.
                for h in f.turned[:2]:
                    queries.append(h)
                    qinfo.append((i, k))
    return targets, tinfo, queries, qinfo


def detect_pairs(items: list[Item]) -> list[PairMatch]:
    """Every pair of items that match (a < b), by the rule above."""
    from custody.similar.distance import near_pairs, pack

    targets, tinfo, queries, qinfo = _pools(items)
    hits: dict[tuple[int, int], list[tuple[int, int, int]]] = defaultdict(list)
    if targets:
        qs, ts, ds = near_pairs(pack(queries), pack(targets), MATCH_DISTANCE)
        for q, t, d in zip(qs.tolist(), ts.tolist(), ds.tolist(), strict=True):
            (qi, qf), (ti, tf) = qinfo[q], tinfo[t]
            if qi == ti:
                continue
            if qi < ti:
                hits[(qi, ti)].append((qf, tf, d))
            else:
                hits[(ti, qi)].append((tf, qf, d))
    pairs = [p for key, found in hits.items() if (p := _pair(items, key, found)) is not None]
    seen = {(p.a, p.b) for p in pairs}
    by_sha: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_sha[item.sha256].append(i)
    for same in by_sha.values():
        for x in same[1:]:
            if (same[0], x) not in seen:
                pairs.append(PairMatch(same[0], x, 0, "identical"))
    pairs = [
        PairMatch(p.a, p.b, p.distance, "identical", p.frames, p.a_share, p.b_share)
        if items[p.a].sha256 == items[p.b].sha256 and p.how != "identical"
        else p
        for p in pairs
    ]
    return sorted(pairs, key=lambda p: (p.a, p.b))


def _usable(a: Analysis) -> int:
    return sum(1 for f in a.frames if f.quality >= MIN_QUALITY)


def _pair(
    items: list[Item], key: tuple[int, int], found: list[tuple[int, int, int]]
) -> PairMatch | None:
    ia, ib = key
    a, b = items[ia].analysis, items[ib].analysis
    assert a is not None and b is not None
    best = min(d for _, _, d in found)
    if a.kind == "image" and b.kind == "image":
        straight = [d for fa, fb, d in found if fa == -1 and fb == -1]
        how = "image" if straight and min(straight) == best else "mirrored or rotated"
        return PairMatch(ia, ib, best, how)
    # At least one video: keep the frame pairs, the best distance per pair of times.
    frame_pairs: dict[tuple[int, int], int] = {}
    for fa, fb, d in found:
        ta = a.frames[fa].t_ms if fa >= 0 else -1
        tb = b.frames[fb].t_ms if fb >= 0 else -1
        if (ta, tb) not in frame_pairs or d < frame_pairs[(ta, tb)]:
            frame_pairs[(ta, tb)] = d
    matched_a = {fa for fa, _, _ in found if fa >= 0}
    matched_b = {fb for _, fb, _ in found if fb >= 0}
    if a.kind == "video" and b.kind == "video":
        need = min(VIDEO_MIN_FRAMES, _usable(a), _usable(b))
        if min(len(matched_a), len(matched_b)) < max(1, need):
            return None
    a_share = round(100 * len(matched_a) / max(1, _usable(a))) if a.kind == "video" else None
    b_share = round(100 * len(matched_b) / max(1, _usable(b))) if b.kind == "video" else None
    frames = tuple(sorted((ta, tb, d) for (ta, tb), d in frame_pairs.items()))
    return PairMatch(ia, ib, best, "frames", frames, a_share, b_share)


def time_ranges(times: list[int]) -> list[tuple[int, int]]:
    """Sorted times (ms) as ranges of times at most RANGE_GAP_MS apart."""
    ranges: list[tuple[int, int]] = []
    for t in sorted(set(times)):
        if ranges and t - ranges[-1][1] <= RANGE_GAP_MS:
            ranges[-1] = (ranges[-1][0], t)
        else:
            ranges.append((t, t))
    return ranges


def latest_decisions(decisions: list[Decision]) -> dict[frozenset[str], Decision]:
    """The decision in force for each pair of SHA-256s: the latest recorded
    (by its signed time, across officers; in the order given when equal)."""
    out: dict[frozenset[str], Decision] = {}
    for d in sorted(decisions, key=lambda d: d.time):
        out[frozenset((d.a, d.b))] = d
    return out


def group_items(items: list[Item], decisions: list[Decision] = ()) -> Matching:  # type: ignore[assignment]
    """Detect, apply the decisions, and group."""
    detected = detect_pairs(items)
    in_force = latest_decisions(list(decisions))
    by_sha: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_sha[item.sha256].append(i)
    pairs: dict[tuple[int, int], PairMatch] = {(p.a, p.b): p for p in detected}
    for key, d in in_force.items():
        shas = sorted(key)
        left, right = (shas[0], shas[-1])
        for x in by_sha.get(left, []):
            for y in by_sha.get(right, []):
                if x == y:
                    continue
                a, b = min(x, y), max(x, y)
                old = pairs.get((a, b)) or PairMatch(a, b, None, "analyst")
                pairs[(a, b)] = PairMatch(
                    a, b, old.distance, old.how, old.frames, old.a_share, old.b_share, d.verdict, d
                )
    rejected = tuple(
        sorted((p for p in pairs.values() if p.status == "rejected"), key=lambda p: (p.a, p.b))
    )
    linked = [p for p in pairs.values() if p.status != "rejected"]
    parent = list(range(len(items)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in linked:
        ra, rb = find(p.a), find(p.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = defaultdict(list)
    for p in linked:
        members.setdefault(find(p.a), [])
    for i in range(len(items)):
        if find(i) in members:
            members[find(i)].append(i)
    groups = []
    for root, who in members.items():
        edges = tuple(sorted((p for p in linked if find(p.a) == root), key=lambda p: (p.a, p.b)))
        groups.append(
            Group(
                members=tuple(who),
                pairs=edges,
                status=_status(who, edges),
                earliest=_earliest(items, who),
                largest=max(who, key=lambda i: (items[i].pixels, items[i].size, -i)),
            )
        )
    groups.sort(key=lambda g: (g.status != "confirmed", g.members[0]))
    not_analysed = tuple(
        i for i, it in enumerate(items) if it.analysis is not None and it.analysis.not_analysed
    )
    analysed = sum(
        1 for it in items if it.analysis is not None and it.analysis.not_analysed is None
    )
    return Matching(tuple(groups), rejected, not_analysed, analysed)


def _status(members: list[int], edges: tuple[PairMatch, ...]) -> str:
    parent = {m: m for m in members}

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for p in edges:
        if p.status == "confirmed":
            parent[find(p.b)] = find(p.a)
    return "confirmed" if len({find(m) for m in members}) == 1 else "suggested"


def _earliest(items: list[Item], members: list[int]) -> int | None:
    known = [i for i in members if items[i].captured_at]
    if not known:
        return None
    # Compared as written (local times have no zone): the earliest recorded value.
    return min(known, key=lambda i: (str(items[i].captured_at)[:19], i))


def frame_summary(pair: PairMatch) -> dict[str, Any]:
    """The matched time ranges of each side, for output."""
    return {
        "a_ranges_ms": [list(r) for r in time_ranges([ta for ta, _, _ in pair.frames if ta >= 0])],
        "b_ranges_ms": [list(r) for r in time_ranges([tb for _, tb, _ in pair.frames if tb >= 0])],
    }
