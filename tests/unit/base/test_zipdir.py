"""base/zipdir.py against Python's zipfile (the exact oracle: names, sizes,
CRC-32s, bytes), at ZIP64 counts, over random member sets, and against
hand-built hostile zips, each refused with its one line."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.base import zipdir, zipmember
from zip_forge import Member, forge, overlapping


def read_all(data: bytes) -> list[tuple[str, int, int, bytes]]:
    fh = io.BytesIO(data)
    directory = zipdir.find_directory(fh)
    out = []
    for record in zipdir.iter_central(fh, directory):
        with zipmember.open_member(fh, record, directory) as stream:
            out.append((record.text_name, record.size, record.crc, stream.read()))
    return out


def oracle(data: bytes) -> list[tuple[str, int, int, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, i.file_size, i.CRC, zf.read(i)) for i in zf.infolist()]


def written(members: list[tuple[str, bytes, int]], **kw: object) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", **kw) as zf:  # type: ignore[arg-type]
        for name, data, method in members:
            zf.writestr(zipfile.ZipInfo(name, (2022, 2, 24, 10, 0, 0)), data, method)
    return buf.getvalue()


def test_reads_what_zipfile_writes_stored_deflated_and_unicode() -> None:
    rng = random.Random(7)
    members = [
        ("a.txt", b"hello\n", zipfile.ZIP_STORED),
        ("dir/", b"", zipfile.ZIP_STORED),
        ("dir/Свидетель 证人.txt", b"unicode\n" * 100, zipfile.ZIP_DEFLATED),
        ("big.bin", rng.randbytes(3 << 20), zipfile.ZIP_DEFLATED),
        ("empty", b"", zipfile.ZIP_DEFLATED),
    ]
    data = written(members)
    assert read_all(data) == oracle(data)


def test_zip64_past_65535_members_and_a_forced_zip64_member(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("first.bin", "w", force_zip64=True) as f:
            f.write(b"x" * 1000)
        for i in range(70_000):
            zf.writestr(f"f/{i}", b"%d" % i)
    with open(path, "rb") as fh:
        directory = zipdir.find_directory(fh)
        assert directory.zip64 and directory.entries == 70_001
        records = zipdir.iter_central(fh, directory)
        with zipfile.ZipFile(path) as zf:
            for info, record in zip(zf.infolist(), records, strict=True):
                assert (record.text_name, record.size, record.crc, record.offset) == (
                    info.filename,
                    info.file_size,
                    info.CRC,
                    info.header_offset,
                )
                if record.index % 997 == 0:
                    with zipmember.open_member(fh, record, directory) as s:
                        assert s.read() == zf.read(info)


names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(names, st.binary(max_size=3000), st.sampled_from([0, 8])),
        max_size=30,
        unique_by=lambda m: m[0],
    )
)
def test_any_member_set_reads_as_zipfile_reads_it(members: list[tuple[str, bytes, int]]) -> None:
    data = written(members)
    assert read_all(data) == oracle(data)


def test_a_directory_out_of_file_order_is_read_and_checked() -> None:
    members = [Member(b"%d.txt" % i, b"%d\n" % i * 50, method=8) for i in range(40)]
    order = list(range(40))
    random.Random(3).shuffle(order)
    data = forge(members, order=order)
    assert sorted(read_all(data)) == sorted(oracle(data))


def refusal(data: bytes) -> str:
    with pytest.raises(zipdir.ZipDamaged) as e:
        read_all(data)
    message = str(e.value)
    assert "\n" not in message
    return message


GOOD = [Member(b"a.txt", b"alpha\n" * 20, method=8), Member(b"b.txt", b"beta\n")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (forge(GOOD)[:-30], "end of central directory record not found"),
        (b"not a zip at all, only text" * 3, "end of central directory record not found"),
        (b"PK\x05\x06", "not a zip: 4 bytes"),
        (forge(GOOD, cd_offset=10_000), "the central directory points outside the file"),
        (forge(GOOD, cd_offset=5), "does not end where the end record starts"),
        (overlapping(), "zip members 'a.txt' and 'b.txt' overlap in the file"),
        (
            forge([GOOD[0], Member(b"b.txt", b"beta\n", local_name=b"B.txt")]),
            "zip member 'b.txt': its local header and the central directory disagree on name",
        ),
        (
            forge(GOOD, zip64=True, zip64_entries=3),
            "the end record and the ZIP64 end record disagree",
        ),
        (forge([Member(b"s.txt", b"x", flags=1)]), "zip member 's.txt' is encrypted: not read"),
        (
            forge([Member(b"c.txt", b"checked\n", crc=0x12345678)]),
            "zip member 'c.txt': CRC-32 mismatch (data ",
        ),
        (forge(GOOD, entries=60_000), "the end record counts 60,000 members, more than"),
        (forge(GOOD, entries=3), "the end record counts 3 members, more than"),
        (
            forge([Member(b"m.bin", b"x", method=12)]),
            "uses compression method 12: only stored (0) and deflate (8) are read",
        ),
        (
            forge([Member(b"o.txt", b"x", offset=1), Member(b"p.txt", b"y" * 100)]),
            "zip member 'o.txt': no local header where the central directory points",
        ),
        (
            forge([Member(b"o.txt", b"x", offset=2)]),
            "zip member 'o.txt' points outside the file's member area",
        ),
    ],
)
def test_hostile_zips_are_refused_in_one_line(data: bytes, expected: str) -> None:
    assert expected in refusal(data)


def test_fewer_records_than_counted_and_a_marked_zip64_value_missing() -> None:
    data = forge(GOOD)
    # The end record counts 1: the directory holds 2 records.
    one = forge(GOOD, entries=1)
    assert "more records than the 1 the end record counts" in refusal(one)
    # A size of 0xFFFFFFFF in the directory without the ZIP64 extra field.
    at = data.index(b"PK\x01\x02")
    marked = data[: at + 24] + struct.pack("<I", 0xFFFFFFFF) + data[at + 28 :]
    assert "a ZIP64 value is marked but missing from its extra field" in refusal(marked)


def test_deflate_data_that_end_early_or_run_on() -> None:
    body = zlib.compressobj(6, zlib.DEFLATED, -15)
    good = body.compress(b"q" * 500) + body.flush()
    m = Member(b"d.txt", b"q" * 500, method=8)
    data = forge([m])
    cut = data.replace(good, good[:-3] + b"\x00\x00\x00")
    assert "d.txt" in refusal(cut)


class _Unseekable(io.RawIOBase):
    """A pipe-like sink: zipfile then writes data descriptors (flag bit 3)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.buf += b
        return len(b)


def test_members_with_data_descriptors_as_streaming_writers_make_them() -> None:
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(20):
            with zf.open(f"s/{i}.txt", "w") as f:
                f.write(b"streamed %d\n" % i * (i + 1))
    data = bytes(sink.buf)
    fh = io.BytesIO(data)
    directory = zipdir.find_directory(fh)
    assert all(r.flags & zipdir.DESCRIPTOR_FLAG for r in zipdir.iter_central(fh, directory))
    assert read_all(data) == oracle(data)
