"""The packed layout (bundle/format/pack.py) on bytes: segments made as a push
makes them, read back; every kind of tampering with a segment or the index is
a precise problem, and no bytes make the reader raise."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.base.errors import SourceChangedError
from custody.bundle.format import pack, pack_read
from custody.io.s3.pack_push import index_members, segment_chunks

FILES = {
    "data/a.txt": b"alpha\n",
    "data/b/c.jpg": bytes(range(256)) * 3,
    "data/empty": b"",
    "data/" + "é" * 70 + ".txt": b"a name that needs a pax header",
    "data/z.bin": b"z" * 1000,
}


def make(tmp: Path, files: dict[str, bytes], target: int = pack.SEGMENT_TARGET):
    """Files on disk, their segments (bytes by number) and the index bytes."""
    for rel, data in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(data)
    plan = pack.plan_segments(
        [pack.PackFile(r, len(d), hashlib.sha256(d).hexdigest()) for r, d in files.items()],
        target=target,
    )
    blobs = {s.number: b"".join(segment_chunks(tmp, s)) for s in plan}
    records = [
        pack.IndexSegment(
            s.number,
            s.key,
            len(blobs[s.number]),
            hashlib.sha256(blobs[s.number]).hexdigest(),
            len(s.members),
        )
        for s in plan
    ]
    index = b"".join(pack.index_bytes(records, index_members(plan)))
    return plan, blobs, index


def read_all(blobs: dict[int, bytes], index: bytes):
    """What verify does: the index streamed, each segment read once."""
    reader = pack_read.IndexReader(pack_read.split_lines(io.BytesIO(index).read, chunk=7))
    found: dict[str, tuple[int, str]] = {}
    problems = []
    reads = []
    groups = dict(reader.member_groups()) if reader.read_header() else {}
    for number, blob in blobs.items():
        r = pack_read.read_segment(
            number=number,
            read=io.BytesIO(blob).read,
            listed=groups.get(number),
            record=reader.segments.get(number),
        )
        reads.append(r)
        problems.extend(r.problems)
        for m in r.members:
            if m.ok:
                found[m.path] = (m.size, m.sha256)
    problems.extend(reader.problems)
    problems.extend(pack_read.check_segment_order(reads))
    return found, problems


def expected(files: dict[str, bytes]) -> dict[str, tuple[int, str]]:
    return {r: (len(d), hashlib.sha256(d).hexdigest()) for r, d in files.items()}


def test_round_trip_and_standard_tar_reads_it(tmp_path: Path) -> None:
    plan, blobs, index = make(tmp_path, FILES, target=2048)
    assert len(plan) > 1
    assert [len(b) for b in blobs.values()] == [s.size for s in plan]
    found, problems = read_all(blobs, index)
    assert problems == []
    assert found == expected(FILES)
    # Any tar reader sees the same members, and the index's offsets point at their bytes.
    lines = [json.loads(x) for x in index.splitlines()]
    for line in lines[1 + len(plan) :]:
        blob = blobs[line["segment"]]
        data = blob[line["offset"] : line["offset"] + line["size"]]
        assert data == FILES[line["path"]]
        with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
            assert tf.extractfile(line["path"]).read() == data  # type: ignore[union-attr]


def test_the_same_files_make_the_same_bytes(tmp_path: Path) -> None:
    _, blobs, index = make(tmp_path / "one", FILES)
    _, again, index2 = make(tmp_path / "two", dict(reversed(FILES.items())))
    assert blobs == again and index == index2


def test_a_file_changed_after_the_verify_is_never_packed(tmp_path: Path) -> None:
    plan, _, _ = make(tmp_path, FILES)
    (tmp_path / "data/a.txt").write_bytes(b"ALPHA\n")
    with pytest.raises(SourceChangedError):
        b"".join(segment_chunks(tmp_path, plan[0]))


def index_lines(index: bytes) -> list[dict]:
    return [json.loads(x) for x in index.splitlines()]


def join(lines: list[dict]) -> bytes:
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def problems_for(tmp: Path, change) -> tuple[dict, list[str]]:
    plan, blobs, index = make(tmp, FILES, target=2048)
    lines = index_lines(index)
    blobs, lines = change(blobs, lines, 1 + len(plan))
    found, problems = read_all(blobs, join(lines))
    return found, [p.line() for p in problems]


def test_a_member_moved_in_the_index(tmp_path: Path) -> None:
    def change(blobs, lines, first):
        lines[first]["offset"] += 512
        return blobs, lines

    found, problems = problems_for(tmp_path, change)
    assert found == expected(FILES)  # the content is all there: the manifest will agree
    assert any("data/a.txt" in p and "puts it at offset 1024" in p for p in problems), problems
    assert any("not in the index" in p for p in problems), problems


def test_a_member_dropped_from_the_index(tmp_path: Path) -> None:
    def change(blobs, lines, first):
        del lines[first]
        return blobs, lines

    _, problems = problems_for(tmp_path, change)
    assert any(p.startswith("pack: data/a.txt: ") and "not in the index" in p for p in problems)


def test_a_member_listed_twice(tmp_path: Path) -> None:
    def change(blobs, lines, first):
        lines.insert(first + 1, dict(lines[first]))
        return blobs, lines

    _, problems = problems_for(tmp_path, change)
    assert any("data/a.txt" in p and "listed twice" in p for p in problems), problems


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("offset", 0, "overlaps"), ("size", 10**9, "outside"), ("segment", 99, "not a segment")],
)
def test_offsets_overlapping_or_outside(tmp_path: Path, field: str, value: int, words: str) -> None:
    def change(blobs, lines, first):
        lines[first + 1][field] = value
        return blobs, lines

    _, problems = problems_for(tmp_path, change)
    assert any(words in p for p in problems), problems


def test_a_member_whose_bytes_changed(tmp_path: Path) -> None:
    def change(blobs, lines, first):
        blob = bytearray(blobs[1])
        at = lines[first]["offset"]
        blob[at] ^= 1
        return {**blobs, 1: bytes(blob)}, lines

    found, problems = problems_for(tmp_path, change)
    assert found["data/a.txt"] != expected(FILES)["data/a.txt"]
    assert any(p.startswith("pack: data/a.txt: the index gives") for p in problems), problems
    assert any("custody-pack/segment-000001.tar" in p for p in problems), problems


def test_a_truncated_segment_and_a_missing_index(tmp_path: Path) -> None:
    def change(blobs, lines, first):
        return {**blobs, 1: blobs[1][:700]}, lines

    _, problems = problems_for(tmp_path, change)
    assert any("cannot be read as tar" in p for p in problems), problems
    _, blobs, _ = make(tmp_path / "again", FILES)
    found, problems2 = read_all(blobs, b"not an index\n")
    assert found == expected(FILES)
    assert any("not a custody-pack index" in p.line() for p in problems2)


def test_a_member_in_two_segments(tmp_path: Path) -> None:
    _, blobs, index = make(tmp_path, FILES, target=2048)
    blobs[len(blobs) + 1] = blobs[1]
    _, problems = read_all(blobs, index)
    assert any("stored twice" in p.line() for p in problems)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_bytes_make_the_reader_raise(tmp_path_factory, data) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz")
    _, blobs, index = make(tmp, FILES)
    blob = bytearray(blobs[1])
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    idx = bytearray(index)
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(idx) - 1))
        idx[at] = data.draw(st.integers(0, 255))
    found, problems = read_all({1: bytes(blob[:cut])}, bytes(idx))
    # Exact oracle: any change to either object is a problem; none, none.
    changed = bytes(blob[:cut]) != blobs[1] or bytes(idx) != index
    assert bool(problems) == changed, problems
    if not changed:
        assert found == expected(FILES)


def test_segments_are_cut_by_size_and_by_count() -> None:
    files = [pack.PackFile(f"data/{i:03d}", 100, "0" * 64) for i in range(25)]
    assert [len(s.members) for s in pack.plan_segments(files, most=10)] == [10, 10, 5]
    by_size = pack.plan_segments(files, target=3 * 1024 + len(pack.END_OF_ARCHIVE))
    assert {len(s.members) for s in by_size[:-1]} == {3}
    assert [m.rel for s in by_size for m in s.members] == sorted(f.rel for f in files)
