"""Zips read through the streaming directory reader (base/zipdir.py) by the
real CLI: hostile UFDRs give one warning line each at ingest and are kept;
a generated UFDR of tens of thousands of members is ingested and verified;
bundle zips whose directory is out of file order, or whose names spill past
the in-memory name book, are judged as before; hostile bundle zips give one
line."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random
import zipfile
from pathlib import Path

import pytest
from test_hostile import check, zip_of

import custody.bundle.read.archive_common as archive_common
import custody.extraction.ufdr_zip as ufdr_zip
from conftest import Env
from custody.base import zipdir, zipmember
from extraction_tools import Item, make_ufdr, report_xml
from zip_forge import Member, forge, local_header


def members_of(bundle: Path, rel: str) -> list[dict]:
    lines = (bundle / "custody" / "extractions" / f"{rel}.jsonl").read_bytes().splitlines()
    return [json.loads(line) for line in lines[1:]]


def ufdr_members(names: list[str]) -> list[Member]:
    """report.xml naming `names` (files/Text/<name>), then those members."""
    items = [(Item(f"/sdcard/{n}", n.encode() + b"\n", "Text"), f"files\\Text\\{n}") for n in names]
    members = [Member(b"report.xml", report_xml(items), method=8)]
    return members + [Member(f"files/Text/{n}".encode(), n.encode() + b"\n") for n in names]


def overlapping_ufdr() -> bytes:
    members = ufdr_members(["a.txt", "b.txt"])
    inner = members[2]
    inner_bytes = local_header(inner, inner.data, _crc(inner.data)) + inner.data
    members[1] = Member(members[1].name, inner_bytes)
    start = 0
    for m in members[:1]:
        start += 30 + len(m.name) + len(_deflated(m.data))
    inner.offset = start + 30 + len(members[1].name)
    return forge(members)


def _crc(data: bytes) -> int:
    import zlib

    return zlib.crc32(data)


def _deflated(data: bytes) -> bytes:
    import zlib

    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _with(names: list[str], **changes: object) -> list[Member]:
    members = ufdr_members(names)
    for key, value in changes.items():
        setattr(members[1], key, value)
    return members


HOSTILE_UFDRS = {
    "truncated": (
        lambda: forge(ufdr_members(["a.txt", "b.txt"]))[:-40],
        "damaged UFDR: not a readable zip (end of central directory record not found",
    ),
    "directory outside the file": (
        lambda: forge(ufdr_members(["a.txt"]), cd_offset=1 << 20),
        "damaged UFDR: not a readable zip (the central directory points outside the file",
    ),
    "overlapping members": (
        overlapping_ufdr,
        "damaged UFDR: not a readable zip (zip members 'files/Text/a.txt' and "
        "'files/Text/b.txt' overlap in the file",
    ),
    "ZIP64 records that disagree": (
        lambda: forge(ufdr_members(["a.txt"]), zip64=True, zip64_entries=7),
        "damaged UFDR: not a readable zip (the end record and the ZIP64 end record disagree)",
    ),
    "absurd count": (
        lambda: forge(ufdr_members(["a.txt"]), entries=65_000),
        "damaged UFDR: not a readable zip (the end record counts 65,000 members, more than",
    ),
    "local header that lies": (
        lambda: forge(_with(["a.txt", "b.txt"], local_name=b"files/Text/evil.txt")),
        "'files/Text/a.txt': member cannot be read (zip member 'files/Text/a.txt': its local "
        "header and the central directory disagree on name)",
    ),
    "encrypted member": (
        lambda: forge(_with(["a.txt", "b.txt"], flags=1)),
        "'files/Text/a.txt': encrypted member: not read",
    ),
    "CRC-32 mismatch": (
        lambda: forge(_with(["a.txt", "b.txt"], crc=0xDEADBEEF)),
        "'files/Text/a.txt': member cannot be read (zip member 'files/Text/a.txt': CRC-32 "
        "mismatch (data ",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_UFDRS))
def test_hostile_ufdr_is_kept_with_one_warning_line(env, ingest, tmp_path, case):
    make, expected = HOSTILE_UFDRS[case]
    src = tmp_path / "src"
    src.mkdir()
    data = make()
    (src / "W1.ufdr").write_bytes(data)
    result, out = ingest(src / "W1.ufdr", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    warnings = [w for w in out["warnings"] if w.startswith("W1.ufdr: ")]
    assert len(warnings) == 1, warnings
    assert expected in warnings[0], warnings[0]
    bundle = Path(out["bundle"])
    assert (bundle / "data" / "W1.ufdr").read_bytes() == data  # the evidence, byte for byte
    assert env.run("verify", bundle).exit_code == 0


def test_ufdr_join_over_many_buckets_keeps_each_case_recorded(env, ingest, tmp_path, monkeypatch):
    """Duplicates in the zip, report.xml naming a member twice or one that is
    not there, members it does not name: recorded as with one bucket."""
    monkeypatch.setattr(ufdr_zip, "BUCKET_MEMBERS", 2)
    names = [f"n{i:02d}.txt" for i in range(30)]
    items = [(Item(f"/sdcard/{n}", n.encode(), "Text"), f"files\\Text\\{n}") for n in names]
    items.append((Item("/sdcard/again", b"n03.txt", "Text"), "files\\Text\\n03.txt"))
    items.append((Item("/sdcard/gone", b"", "Text"), "files\\Text\\gone.txt"))
    items.append((Item(None, b"", "Text"), None))
    members = [Member(b"report.xml", report_xml(items))]
    members += [Member(f"files/Text/{n}".encode(), n.encode()) for n in names]
    members.append(Member(b"files/Text/n07.txt", b"second copy"))
    members.append(Member(b"files/Other/unnamed.bin", b"?"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "W2.ufdr").write_bytes(forge(members))
    result, out = ingest(src / "W2.ufdr", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    recorded = members_of(Path(out["bundle"]), "W2.ufdr")
    by_device = {m["device_path"]: m for m in recorded}
    for n in names:
        m = by_device[f"/sdcard/{n}"]
        if n == "n07.txt":  # the zip holds it twice: the last copy is the member
            assert m["sha256"] == hashlib.sha256(b"second copy").hexdigest()
            continue
        assert m["sha256"] == hashlib.sha256(n.encode()).hexdigest(), n
        assert m["errors"] == [], n
    assert by_device["/sdcard/again"]["errors"] == ["report.xml names this member more than once"]
    assert by_device["/sdcard/gone"]["errors"] == ["named in report.xml but not in the UFDR"]
    assert recorded[len(items) - 1]["errors"] == [
        "report.xml gives no local path: no bytes for this item"
    ]
    rest = [(m["stored"], m["errors"]) for m in recorded[len(items) :]]
    assert rest == [
        (
            "files/Text/n07.txt",
            ["in the UFDR but not named in report.xml", "the UFDR holds this name more than once"],
        ),
        ("files/Other/unnamed.bin", ["in the UFDR but not named in report.xml"]),
    ]
    assert [m["device_path"] for m in recorded[: len(items)]] == [i.device_path for i, _ in items]


def test_ufdr_of_tens_of_thousands_of_members_ingested_and_verified(env, ingest, tmp_path):
    count = 30_000  # two buckets of the join; the oracle is zipfile
    items = [
        Item(f"/private/var/mobile/f{i // 1000:02d}/n{i:05d}.txt", b"%d\n" % i, "Text")
        for i in range(count)
    ]
    src = tmp_path / "src"
    src.mkdir()
    make_ufdr(src / "big.ufdr", items)
    result, out = ingest(src / "big.ufdr", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    bundle = Path(out["bundle"])
    recorded = members_of(bundle, "big.ufdr")
    assert len(recorded) == count
    with zipfile.ZipFile(src / "big.ufdr") as zf:
        digests = {i.filename: hashlib.sha256(zf.read(i)).hexdigest() for i in zf.infolist()}
    assert all(m["sha256"] == digests[m["stored"]] and not m["errors"] for m in recorded)
    assert [m["device_path"] for m in recorded[::7919]] == [
        items[i].device_path for i in range(0, count, 7919)
    ]
    assert env.run("verify", bundle).exit_code == 0


# --- bundle zips ------------------------------------------------------------------------


@pytest.fixture
def good(env: Env, officer: dict, tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for i in range(60):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"f{i:02d}.txt").write_bytes(b"%d\n" % i)
    bundle = tmp_path / "good"
    assert env.run("ingest", src, "--case", "Z-1", "--out", bundle).exit_code == 0
    return bundle


def permuted(data: bytes, seed: int) -> bytes:
    """The same zip, its directory records in another order."""
    fh = io.BytesIO(data)
    directory = zipdir.find_directory(fh)
    starts = [r.at for r in zipdir.iter_central(fh, directory)] + [directory.end]
    records = [data[a:b] for a, b in itertools.pairwise(starts)]
    random.Random(seed).shuffle(records)
    return data[: directory.offset] + b"".join(records) + data[directory.end :]


def test_bundle_zip_with_its_directory_out_of_order_verifies(env, good, tmp_path, monkeypatch):
    plain = zip_of(good, tmp_path / "plain.zip").read_bytes()
    shuffled = tmp_path / "shuffled.zip"
    shuffled.write_bytes(permuted(plain, 5))
    check(env, shuffled, 0, tmp_path)
    monkeypatch.setattr(archive_common, "NAMES_IN_MEMORY", 7)  # names spilled too
    check(env, shuffled, 0, tmp_path)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_names_spilled_past_the_book_refuse_as_the_book_did(env, good, tmp_path, monkeypatch):
    def twice(zf: zipfile.ZipFile) -> None:
        zf.writestr("data/D2/F05.TXT", b"other")  # one path on Windows with data/d2/f05.txt
        zf.writestr("data/late.txt", b"x")
        zf.writestr("data/late.txt", b"y")

    target = zip_of(good, tmp_path / "twice.zip", twice)
    in_memory = env.run("verify", target)
    monkeypatch.setattr(archive_common, "NAMES_IN_MEMORY", 7)
    spilled = env.run("verify", target)
    assert in_memory.exit_code == spilled.exit_code == 2
    assert spilled.stderr == in_memory.stderr
    assert "are one path once extracted" in spilled.stderr
    shuffled = tmp_path / "shuffled.zip"
    shuffled.write_bytes(permuted(target.read_bytes(), 9))
    monkeypatch.setattr(archive_common, "NAMES_IN_MEMORY", 20_000)
    first = env.run("verify", shuffled)
    monkeypatch.setattr(archive_common, "NAMES_IN_MEMORY", 3)
    assert env.run("verify", shuffled).stderr == first.stderr


def test_bundle_zip_member_with_a_bad_crc_is_unreadable(env, good, tmp_path):
    data = bytearray(zip_of(good, tmp_path / "plain.zip").read_bytes())
    fh = io.BytesIO(bytes(data))
    directory = zipdir.find_directory(fh)
    record = next(r for r in zipdir.iter_central(fh, directory) if r.name.startswith(b"data/d1/"))
    start = zipmember.data_start(fh, record, directory.offset)
    data[start] ^= 0x01  # one bit of the member's bytes: headers untouched
    target = tmp_path / "flipped.zip"
    target.write_bytes(bytes(data))
    report = check(env, target, 1, tmp_path)
    problems = [p for p in report["problems"] if p["kind"] == "unreadable"]
    assert len(problems) == 1 and "CRC-32 mismatch" in problems[0]["detail"], report["problems"]


def test_hostile_bundle_zips_give_one_line(env, good, tmp_path):
    plain = zip_of(good, tmp_path / "plain.zip").read_bytes()
    cases = {
        "cut.zip": (plain[: len(plain) // 2], "damaged or truncated zip (no central directory)"),
        "outside.zip": (
            forge([Member(b"bagit.txt", b"x")], cd_offset=1 << 20),
            "archive refused",
        ),
    }
    for name, (data, expected) in cases.items():
        target = tmp_path / name
        target.write_bytes(data)
        result = env.run("verify", target)
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr


def test_tar_names_spilled_past_the_book_refuse_as_the_book_did(env, good, tmp_path, monkeypatch):
    import tarfile

    target = tmp_path / "twice.tar"
    with tarfile.open(target, "w") as tf:
        for p in sorted(good.rglob("*")):
            if p.is_file():
                tf.add(p, p.relative_to(good).as_posix())
        info = tarfile.TarInfo("data/D2/F05.TXT")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    in_memory = env.run("verify", target)
    monkeypatch.setattr(archive_common, "NAMES_IN_MEMORY", 5)
    spilled = env.run("verify", target)
    assert in_memory.exit_code == spilled.exit_code == 2
    assert spilled.stderr == in_memory.stderr and "are one path once extracted" in spilled.stderr
