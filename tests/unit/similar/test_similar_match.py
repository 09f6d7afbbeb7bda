"""Perceptual matching, the pure parts: distances, the multi-index against
brute force (an exact oracle), grouping with decisions, the analysis file."""

from __future__ import annotations

import random

import numpy as np
import pytest

from custody.similar import MATCH_DISTANCE
from custody.similar.distance import _brute_force, _indexed, distances, near_pairs, pack
from custody.similar.document import (
    Analysis,
    Frame,
    parse_similar_document,
    similar_document,
)
from custody.similar.group import Decision, Item, group_items, time_ranges


def random_hex(rng: random.Random) -> str:
    return rng.randbytes(32).hex()


def flip(h: str, bits: list[int]) -> str:
    value = int(h, 16)
    for b in bits:
        value ^= 1 << b
    return f"{value:064x}"


def test_distance_is_the_number_of_differing_bits() -> None:
    rng = random.Random(1)
    h = random_hex(rng)
    for n in (0, 1, 31, 32, 200, 256):
        other = flip(h, rng.sample(range(256), n))
        assert int(distances(pack([h]), pack([other]))[0]) == n


@pytest.mark.parametrize("seed", range(4))
def test_the_index_finds_exactly_what_brute_force_finds(seed: int) -> None:
    rng = random.Random(seed)
    targets = [random_hex(rng) for _ in range(1500)]
    # Near copies at every distance around the threshold, and unrelated hashes.
    queries = [flip(t, rng.sample(range(256), rng.randrange(0, 40))) for t in targets[:700]]
    queries += [random_hex(rng) for _ in range(300)]
    q, t = pack(queries), pack(targets)
    expected = _brute_force(q, t, MATCH_DISTANCE)
    found = _indexed(q, t, MATCH_DISTANCE)
    for a, b in zip(expected, found, strict=True):
        assert np.array_equal(a, b)
    assert len(expected[0]) > 300  # the near copies within 31 bits are there


def test_near_pairs_on_empty_input() -> None:
    qs, ts, ds = near_pairs(pack([]), pack(["00" * 32]))
    assert len(qs) == len(ts) == len(ds) == 0


def image(path: str, sha: str, pdq: str, quality: int = 90, **kw: object) -> Item:
    a = Analysis(
        path, sha, "image", pdq=pdq, quality=quality, dihedral=(pdq,) * 8, width=100, height=100
    )
    return _item(path, sha, a, **kw)


def video(path: str, sha: str, hashes: list[str], **kw: object) -> Item:
    frames = tuple(Frame(i * 1000, h, 90) for i, h in enumerate(hashes))
    a = Analysis(
        path, sha, "video", frames=frames, duration_ms=len(hashes) * 1000, width=320, height=240
    )
    return _item(path, sha, a, **kw)


def _item(path: str, sha: str, a: Analysis, captured: str | None = None, size: int = 10) -> Item:
    return Item(
        "b",
        "id",
        "C",
        "E/1",
        "PC A",
        "2026-01-01T00:00:00Z",
        path,
        sha,
        size,
        captured,
        "image/jpeg",
        a,
    )


def test_grouping_thresholds_identical_copies_and_low_quality() -> None:
    rng = random.Random(7)
    h = random_hex(rng)
    items = [
        image("a.jpg", "1" * 64, h, captured="2022-02-25T14:03:10"),
        image("b.jpg", "2" * 64, flip(h, list(range(31))), captured="2022-02-24T10:00:00"),
        image("c.jpg", "3" * 64, flip(h, list(range(32)))),  # 32 bits from a: not a match
        image("d.jpg", "4" * 64, h, quality=49),  # too flat to be compared
        image("e.jpg", "5" * 64, random_hex(rng)),
        image("e-copy.jpg", "5" * 64, random_hex(rng)),  # the same bytes, however hashed
    ]
    m = group_items(items)
    groups = {tuple(g.members): g for g in m.groups}
    assert set(groups) == {(0, 1, 2), (4, 5)}  # c joins through b (1 bit from b)
    g = groups[(0, 1, 2)]
    assert g.earliest == 1 and g.status == "suggested"
    assert {(p.a, p.b, p.distance) for p in g.pairs} == {(0, 1, 31), (1, 2, 1)}
    assert groups[(4, 5)].pairs[0].how == "identical"


def test_decisions_confirm_reject_latest_wins() -> None:
    rng = random.Random(8)
    h = random_hex(rng)
    items = [
        image("a", "a" * 64, h),
        image("b", "b" * 64, flip(h, [1, 2])),
        image("c", "c" * 64, random_hex(rng)),
    ]
    reject = Decision("a" * 64, "b" * 64, "rejected", "no", "PC A", "t1", 5)
    m = group_items(items, [reject])
    assert m.groups == () and len(m.rejected) == 1
    confirm_later = Decision("b" * 64, "a" * 64, "confirmed", "yes", "PC B", "t2", 6)
    m = group_items(items, [reject, confirm_later])
    assert m.rejected == () and m.groups[0].status == "confirmed"
    # An analyst may join what was not detected.
    joined = Decision("a" * 64, "c" * 64, "confirmed", "same event", "PC B", "t3", 7)
    m = group_items(items, [joined])
    assert m.groups[0].members == (0, 1, 2) and m.groups[0].status == "suggested"
    assert any(p.how == "analyst" for p in m.groups[0].pairs)


def test_two_videos_need_two_matching_frames() -> None:
    rng = random.Random(9)
    shared = [random_hex(rng) for _ in range(3)]
    a = video("a.mp4", "a" * 64, [*shared, random_hex(rng)])
    b = video("b.mp4", "b" * 64, [flip(shared[1], [3]), flip(shared[2], [4, 5])])
    c = video("c.mp4", "c" * 64, [shared[0], random_hex(rng), random_hex(rng)])
    m = group_items([a, b, c])
    assert [g.members for g in m.groups] == [(0, 1)]
    pair = m.groups[0].pairs[0]
    assert pair.how == "frames" and pair.a_share == 50 and pair.b_share == 100
    assert [(ta, tb) for ta, tb, _ in pair.frames] == [(1000, 0), (2000, 1000)]


def test_an_image_matches_a_video_frame() -> None:
    rng = random.Random(10)
    frames = [random_hex(rng) for _ in range(4)]
    m = group_items([video("v.mp4", "a" * 64, frames), image("still.jpg", "b" * 64, frames[2])])
    assert m.groups[0].pairs[0].frames == ((2000, -1, 0),)


def test_time_ranges() -> None:
    assert time_ranges([0, 1000, 2000, 9000, 10000, 30000]) == [
        (0, 2000),
        (9000, 10000),
        (30000, 30000),
    ]


def test_analysis_file_round_trip_and_refusals() -> None:
    records = [
        Analysis(
            "a.jpg",
            "1" * 64,
            "image",
            pdq="ab" * 32,
            quality=80,
            dihedral=("ab" * 32,) * 8,
            width=4,
            height=3,
        ),
        Analysis(
            "v.mp4",
            "2" * 64,
            "video",
            frames=(Frame(0, "cd" * 32, 70),),
            duration_ms=1500,
            width=2,
            height=2,
            notes=("stopped after 30 s",),
        ),
        Analysis("x.png", "3" * 64, "image", not_analysed="cannot decode: truncated"),
    ]
    data = similar_document(records, algorithm="PDQ")
    assert parse_similar_document(data) == records
    assert data == similar_document(parse_similar_document(data), algorithm="PDQ")
    for bad in (
        b"",
        b"[]",
        b'{"analysis": {"format": "other"}, "files": []}',
        data.replace(b'"ab', b'"zz', 1),
    ):
        with pytest.raises(ValueError):
            parse_similar_document(bad)
