"""Phone extractions ingested in place: Cellebrite UFDR, iOS backup folders,
Android tars (plain, gzip, zstd). Real generated extractions of the real
shapes, the real CLI, and every hostile variant: one line, the right exit
code, nothing lost, nothing unpacked, the source untouched."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import Env, tree_snapshot
from extraction_tools import (
    Item,
    jpeg_with_exif,
    make_android_tar,
    make_ios_backup,
    make_ufdr,
    mbfile_blob,
    report_xml,
    write_compressed,
)


def members_of(bundle: Path, rel: str) -> tuple[dict, list[dict]]:
    lines = (bundle / "custody" / "extractions" / f"{rel}.jsonl").read_bytes().split(b"\n")
    header = json.loads(lines[0])
    return header, [json.loads(line) for line in lines[1:] if line]


def record_of(bundle: Path, rel: str) -> dict:
    doc = json.loads((bundle / "custody" / "metadata.json").read_text())
    return next(r for r in doc["files"] if r["path"] == rel)


def ingest_ok(ingest, source: Path, *extra: str) -> tuple[Path, dict]:
    result, data = ingest(source, *extra)
    assert result.exit_code == 0, result.output
    return Path(data["bundle"]), data


def verify_code(env: Env, bundle: Path) -> int:
    return env.run("verify", bundle).exit_code


# --- Cellebrite UFDR ----------------------------------------------------------------


def test_ufdr_members_recorded_with_device_paths_and_bytes(env, ingest, tmp_path):
    photo = jpeg_with_exif("2022:03:01 10:00:00")
    items = [
        Item("/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG", photo, "Image"),
        Item(
            "/private/var/mobile/Library/SMS/sms.db",
            b"SQLite format 3\x00" + b"\x00" * 84,
            "Database",
        ),
        Item("/data/data/com.whatsapp/files/deleted.txt", b"gone\n", "Text", deleted="Deleted"),
        Item(None, b"carved bytes", "Image"),
    ]
    source = tmp_path / "src"
    source.mkdir()
    make_ufdr(source / "W1 phone.ufdr", items)
    before = tree_snapshot(source)
    bundle, _ = ingest_ok(ingest, source / "W1 phone.ufdr", "--out", str(tmp_path / "b"))
    assert tree_snapshot(source) == before  # read in place; nothing written beside it
    # The UFDR itself is the byte-exact evidence.
    assert (bundle / "data" / "W1 phone.ufdr").read_bytes() == (
        source / "W1 phone.ufdr"
    ).read_bytes()
    record = record_of(bundle, "W1 phone.ufdr")
    summary = record["details"]["extraction"]
    assert record["details"]["family"] == "extraction"
    assert "archive" not in record["details"]  # members are in the members file only
    assert summary["format"] == "ufdr"
    assert summary["members"] == 4  # report.xml is the index, not a member
    assert (summary["deleted"], summary["carved"], summary["without_path"]) == (1, 1, 1)
    header, members = members_of(bundle, "W1 phone.ufdr")
    assert header == {
        "extraction": "ufdr",
        "format": "custody/extraction-members/v1",
        "source": "W1 phone.ufdr",
    }
    assert (
        hashlib.sha256((bundle / summary["members_file"]).read_bytes()).hexdigest()
        == summary["members_sha256"]
    )
    by_path = {m["device_path"]: m for m in members}
    jpg = by_path["/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG"]
    assert jpg["sha256"] == hashlib.sha256(photo).hexdigest()
    assert jpg["stored"] == "files/Image/IMG_0001.JPG"
    assert jpg["captured_at"] == "2022-03-01T10:00:00"
    assert jpg["metadata"]["device"]["model"] == "iPhone 13"
    assert jpg["times"]["modified"] == "2022-02-25T10:00:00.000+02:00"
    assert jpg["errors"] == []
    assert by_path["/data/data/com.whatsapp/files/deleted.txt"]["deleted"] is True
    carved = by_path[None]
    assert (
        carved["carved"] is True and carved["sha256"] == hashlib.sha256(b"carved bytes").hexdigest()
    )
    assert "report.xml" not in {m["stored"] for m in members}
    assert verify_code(env, bundle) == 0


def test_ufdr_members_file_tampering_is_found(env, ingest, tmp_path):
    make_ufdr(tmp_path / "p.ufdr", [Item("/a/b.txt", b"b\n")])
    bundle, _ = ingest_ok(ingest, tmp_path / "p.ufdr", "--out", str(tmp_path / "b"))
    target = bundle / "custody" / "extractions" / "p.ufdr.jsonl"
    target.write_bytes(target.read_bytes().replace(b"/a/b.txt", b"/a/c.txt"))
    result = env.run("verify", bundle)
    assert result.exit_code == 1
    assert "members file differs from the one the metadata signed" in result.output
    target.unlink()  # and removed, with the tag manifest rewritten to hide it
    from conftest import refresh_tag_manifest

    refresh_tag_manifest(bundle)
    result = env.run("verify", bundle)
    assert result.exit_code == 1
    assert "members file named in the signed metadata is missing" in result.output


def test_ufdr_hostile_report(env, ingest, tmp_path):
    """Paths that escape, Windows device paths, members not there, the same
    member twice, a SHA-256 that disagrees: each recorded, nothing followed."""
    good = Item("/sdcard/DCIM/a.jpg", b"a-bytes", "Image")
    entries = [
        (good, "files\\Image\\a.jpg"),
        (Item("../../etc/passwd", b"x", "Text"), "files\\Image\\a.jpg"),
        (Item("C:\\Users\\w1\\phone\\b.txt", b"b", "Text"), "files\\Text\\missing.txt"),
        (Item("/abs/c.txt", b"other bytes", "Text"), "..\\..\\outside.txt"),
    ]
    report = report_xml(entries)
    with zipfile.ZipFile(tmp_path / "h.ufdr", "w") as zf:
        zf.writestr("report.xml", report)
        zf.writestr("files/Image/a.jpg", b"a-bytes")
    bundle, _ = ingest_ok(ingest, tmp_path / "h.ufdr", "--out", str(tmp_path / "b"))
    _, members = members_of(bundle, "h.ufdr")
    by_path = {m["device_path"]: m for m in members}
    assert by_path["../../etc/passwd"]["path_flags"] == ["'..' component"]
    assert "report.xml names this member more than once" in by_path["../../etc/passwd"]["errors"]
    assert "SHA-256 differs from the one report.xml gives" in by_path["../../etc/passwd"]["errors"]
    win = by_path["C:\\Users\\w1\\phone\\b.txt"]
    assert win["path_flags"] == ["backslash", "absolute"]
    assert win["errors"] == ["named in report.xml but not in the UFDR"] and win["sha256"] is None
    assert by_path["/abs/c.txt"]["errors"] == ["named in report.xml but not in the UFDR"]
    assert not (tmp_path / "outside.txt").exists()
    assert verify_code(env, bundle) == 0


@pytest.mark.parametrize(
    "report, problem",
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><project>&b;</project>',
            "declares a DTD: refused",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE p SYSTEM "file:///etc/passwd"><project/>',
            "declares a DTD: refused",
        ),
        (b"<project><taggedFiles><file path='/x'>", "not well-formed XML"),
        (b"\xff\xfe not xml at all", "not well-formed XML"),
        (b"<a>" * 100 + b"</a>" * 100, "nests deeper than 64"),
    ],
)
def test_ufdr_bad_report_is_one_warning_and_nothing_lost(env, ingest, tmp_path, report, problem):
    with zipfile.ZipFile(tmp_path / "bad.ufdr", "w") as zf:
        zf.writestr("report.xml", report)
        zf.writestr("files/Image/a.jpg", b"a-bytes")
    result, data = ingest(tmp_path / "bad.ufdr", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    warnings = [w for w in data["warnings"] if w.startswith("bad.ufdr: ")]
    assert len(warnings) == 1 and problem in warnings[0]
    bundle = Path(data["bundle"])
    _, members = members_of(bundle, "bad.ufdr")
    assert [(m["stored"], m["errors"]) for m in members] == [
        ("files/Image/a.jpg", ["in the UFDR but not named in report.xml"])
    ]
    assert record_of(bundle, "bad.ufdr")["details"]["extraction"]["errors"] == [
        warnings[0].removeprefix("bad.ufdr: ")
    ]


def test_truncated_ufdr_is_kept_and_recorded(env, ingest, tmp_path):
    make_ufdr(tmp_path / "full.ufdr", [Item(f"/d/{i}.txt", os.urandom(2000)) for i in range(20)])
    data_bytes = (tmp_path / "full.ufdr").read_bytes()
    (tmp_path / "cut.ufdr").write_bytes(data_bytes[: len(data_bytes) // 2])
    result, data = ingest(tmp_path / "cut.ufdr", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert any("damaged UFDR: not a readable zip" in w for w in data["warnings"])
    bundle = Path(data["bundle"])
    assert (bundle / "data" / "cut.ufdr").read_bytes() == data_bytes[: len(data_bytes) // 2]
    assert verify_code(env, bundle) == 0


def test_ufdr_expand_writes_working_copies_linked_to_members(env, ingest, tmp_path):
    make_ufdr(tmp_path / "p.ufdr", [Item("/sdcard/a.jpg", jpeg_with_exif(), "Image")])
    bundle, _ = ingest_ok(ingest, tmp_path / "p.ufdr", "--expand", "--out", str(tmp_path / "b"))
    copy = bundle / "data" / "p.ufdr.expanded" / "files" / "Image" / "a.jpg"
    assert copy.read_bytes() == jpeg_with_exif()
    linked = record_of(bundle, "p.ufdr.expanded/files/Image/a.jpg")["details"]["expanded_from"]
    assert linked["archive"] == "p.ufdr" and linked["member"] == "files/Image/a.jpg"
    assert verify_code(env, bundle) == 0


def test_ufdr_of_ten_thousand_members(env, ingest, tmp_path):
    items = [Item(f"/sdcard/Download/f{i:05d}.txt", b"%d\n" % i, "Text") for i in range(10_000)]
    make_ufdr(tmp_path / "big.ufdr", items)
    bundle, _ = ingest_ok(ingest, tmp_path / "big.ufdr", "--out", str(tmp_path / "b"))
    summary = record_of(bundle, "big.ufdr")["details"]["extraction"]
    assert summary["members"] == 10_000 and summary["with_errors"] == 0
    _, members = members_of(bundle, "big.ufdr")
    assert [m["device_path"] for m in members[:3]] == [
        "/sdcard/Download/f00000.txt",
        "/sdcard/Download/f00001.txt",
        "/sdcard/Download/f00002.txt",
    ]
    assert members[9_999]["sha256"] == hashlib.sha256(b"9999\n").hexdigest()


# --- iOS backups -------------------------------------------------------------------


def test_ios_backup_members_from_manifest_db(env, ingest, tmp_path):
    photo = jpeg_with_exif(seed=4)
    backup = make_ios_backup(
        tmp_path / "src" / "00008110-001A2B3C4D5E",
        [
            ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.JPG", photo),
            ("HomeDomain", "Library/SMS/sms.db", b"SQLite format 3\x00"),
        ],
        extra_rows=[
            ("0" * 40, "HomeDomain", "Library/Gone.txt", 1, mbfile_blob(3, 1_646_128_800)),
            ("f" * 40, "HomeDomain", "Library", 2, mbfile_blob(0, 1_646_128_800, 0o40755)),
            ("not-a-file-id", "HomeDomain", "../../escape", 1, b"not a plist"),
        ],
    )
    before = tree_snapshot(tmp_path / "src")
    bundle, _ = ingest_ok(ingest, tmp_path / "src", "--out", str(tmp_path / "b"))
    assert tree_snapshot(tmp_path / "src") == before  # no journal, WAL or lock file beside it
    rel = f"{backup.name}/Manifest.db"
    summary = record_of(bundle, rel)["details"]["extraction"]
    assert summary["format"] == "ios-backup" and summary["members"] == 5
    _, members = members_of(bundle, rel)
    by_path = {m["device_path"]: m for m in members}
    img = by_path["Media/DCIM/100APPLE/IMG_0002.JPG"]
    file_id = hashlib.sha1(b"CameraRollDomain-Media/DCIM/100APPLE/IMG_0002.JPG").hexdigest()
    assert img["stored"] == f"{file_id[:2]}/{file_id}"
    assert img["sha256"] == hashlib.sha256(photo).hexdigest()
    assert img["domain"] == "CameraRollDomain" and img["size"] == len(photo)
    assert img["times"]["modified"] == "2022-03-01T10:00:00Z" and img["mode"] == "0644"
    gone = by_path["Library/Gone.txt"]
    assert "named in Manifest.db but not in the backup" in gone["errors"]
    assert by_path["Library"]["kind"] == "directory"
    escape = by_path["../../escape"]
    assert escape["path_flags"] == ["'..' component"]
    assert "fileID is not 40 hexadecimal digits: its file is not looked up" in escape["errors"]
    assert "file record is not a property list (InvalidFileException)" in escape["errors"]
    assert verify_code(env, bundle) == 0


def test_ios_backup_with_unreadable_manifest(env, ingest, tmp_path):
    backup = make_ios_backup(tmp_path / "src" / "bk", [("HomeDomain", "a.txt", b"a")])
    (backup / "Manifest.db").write_bytes(os.urandom(4096))  # as an encrypted backup's is
    result, data = ingest(tmp_path / "src", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    (warning,) = [w for w in data["warnings"] if "Manifest.db" in w]
    assert warning.startswith("bk/Manifest.db: Manifest.db cannot be")
    assert verify_code(env, Path(data["bundle"])) == 0


# --- Android tars ------------------------------------------------------------------


def hostile_tar(path: Path, compression: str = "") -> bytes:
    import io

    raw = io.BytesIO()
    photo = jpeg_with_exif(seed=9)
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:

        def add(name: str, data: bytes = b"", **kw: object) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_646_128_800
            for key, value in kw.items():
                setattr(info, key, value)
            tf.addfile(info, io.BytesIO(data) if data else None)

        add("data/media/0/DCIM/Camera/IMG_1.jpg", photo)
        add("../outside.txt", b"escape")
        add("/system/etc/hosts", b"127.0.0.1 localhost\n")
        add("data/link", type=tarfile.SYMTYPE, linkname="/etc/shadow")
        add("data/hard", type=tarfile.LNKTYPE, linkname="../outside.txt")
        add("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add("data/fifo", type=tarfile.FIFOTYPE)
        add("data/media/0/DCIM/Camera/IMG_1.jpg", b"second copy")
    write_compressed(path, raw.getvalue(), compression)
    return photo


@pytest.mark.parametrize(
    "suffix, compression", [(".tar", ""), (".tar.gz", "gz"), (".tar.zst", "zst")]
)
def test_android_tar_members_hostile_entries_recorded(env, ingest, tmp_path, suffix, compression):
    photo = hostile_tar(tmp_path / f"android{suffix}", compression)
    bundle, _ = ingest_ok(
        ingest, tmp_path / f"android{suffix}", "--expand", "--out", str(tmp_path / "b")
    )
    _, members = members_of(bundle, f"android{suffix}")
    kinds = [(m["device_path"], m["kind"]) for m in members]
    assert kinds == [
        ("data/media/0/DCIM/Camera/IMG_1.jpg", "file"),
        ("../outside.txt", "file"),
        ("/system/etc/hosts", "file"),
        ("data/link", "symlink"),
        ("data/hard", "hardlink"),
        ("dev/null", "device"),
        ("data/fifo", "fifo"),
        ("data/media/0/DCIM/Camera/IMG_1.jpg", "file"),
    ]
    assert members[0]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert members[0]["captured_at"] == "2022-03-01T10:00:00"
    assert members[1]["path_flags"] == ["'..' component"]
    assert members[3]["link_target"] == "/etc/shadow"
    assert members[3]["errors"] == ["symbolic link: recorded, never followed"]
    assert members[5]["errors"] == ["device file: recorded, not read"]
    assert members[7]["errors"] == ["the tar holds this path more than once"]
    expanded = bundle / "data" / f"android{suffix}.expanded"
    written = sorted(str(p.relative_to(expanded)) for p in expanded.rglob("*") if p.is_file())
    assert written == ["data/media/0/DCIM/Camera/IMG_1.jpg", "system/etc/hosts"]
    assert (expanded / "data/media/0/DCIM/Camera/IMG_1.jpg").read_bytes() == photo
    assert (
        not (tmp_path / "outside.txt").exists() and not (bundle / "data" / "outside.txt").exists()
    )
    assert verify_code(env, bundle) == 0


def test_truncated_tar_gz_keeps_what_was_read(env, ingest, tmp_path):
    files = [(f"data/media/0/f{i}.bin", os.urandom(3000)) for i in range(30)]
    make_android_tar(tmp_path / "full.tar.gz", files, compression="gz")
    whole = (tmp_path / "full.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) * 2 // 3])
    result, data = ingest(tmp_path / "cut.tar.gz", "--expand", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    (warning,) = [w for w in data["warnings"] if w.startswith("cut.tar.gz: ")]
    assert "ends" in warning or "damaged" in warning or "decompressed" in warning
    bundle = Path(data["bundle"])
    _, members = members_of(bundle, "cut.tar.gz")
    assert 5 < len(members) < 30
    for m, (name, content) in zip(members, files, strict=False):
        if not m["errors"]:
            assert m["device_path"] == name and m["sha256"] == hashlib.sha256(content).hexdigest()
    assert verify_code(env, bundle) == 0


def test_not_a_tar_named_like_one_is_a_plain_file(env, ingest, tmp_path):
    (tmp_path / "notes.tar").write_bytes(b"just some notes, not a tar\n")
    bundle, _ = ingest_ok(ingest, tmp_path / "notes.tar", "--out", str(tmp_path / "b"))
    assert "extraction" not in record_of(bundle, "notes.tar")["details"]
    assert not (bundle / "custody" / "extractions").exists()


def test_ufdr_member_c2pa_summary_is_kept(env, ingest, tmp_path):
    from conftest import REPO

    signed = (REPO / "tests/fixtures/c2pa/C.jpg").read_bytes()
    make_ufdr(tmp_path / "p.ufdr", [Item("/DCIM/C.jpg", signed, "Image")])
    bundle, _ = ingest_ok(ingest, tmp_path / "p.ufdr", "--out", str(tmp_path / "b"))
    _, (member,) = members_of(bundle, "p.ufdr")
    assert member["metadata"]["c2pa"]["state"] == "valid"
    assert "report" not in member["metadata"]["c2pa"]  # reports are kept for payload files only


@pytest.mark.parametrize(
    "schema, problem",
    [
        (
            "CREATE VIEW Files AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)"
            " SELECT hex(n) AS fileID, 'd' AS domain, 'p' AS relativePath, 1 AS flags,"
            " NULL AS file FROM r",
            "Manifest.db has no Files table",
        ),
        ("CREATE TABLE Other (x)", "Manifest.db has no Files table"),
        ("CREATE TABLE Files (x)", "no such column"),
    ],
)
def test_ios_backup_with_a_foreign_manifest(env, ingest, tmp_path, schema, problem):
    import sqlite3

    backup = tmp_path / "src" / "bk"
    backup.mkdir(parents=True)
    (backup / "Info.plist").write_bytes(b"<plist/>")
    db = sqlite3.connect(backup / "Manifest.db")
    db.execute(schema)
    db.commit()
    db.close()
    result, data = ingest(tmp_path / "src", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    (warning,) = [w for w in data["warnings"] if w.startswith("bk/Manifest.db: ")]
    assert problem in warning


def test_ios_backup_expand_writes_device_paths(env, ingest, tmp_path):
    photo = jpeg_with_exif(seed=6)
    make_ios_backup(
        tmp_path / "src",
        [
            ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0003.JPG", photo),
            ("HomeDomain", "../../escape.txt", b"never written"),
        ],
        extra_rows=[("1" * 40, "HomeDomain", "Library/Gone.txt", 1, None)],
    )
    bundle, _ = ingest_ok(ingest, tmp_path / "src", "--expand", "--out", str(tmp_path / "b"))
    expanded = bundle / "data" / "Manifest.db.expanded"
    written = sorted(str(p.relative_to(expanded)) for p in expanded.rglob("*") if p.is_file())
    assert written == ["CameraRollDomain/Media/DCIM/100APPLE/IMG_0003.JPG"]
    rel = "Manifest.db.expanded/CameraRollDomain/Media/DCIM/100APPLE/IMG_0003.JPG"
    linked = record_of(bundle, rel)["details"]["expanded_from"]
    file_id = hashlib.sha1(b"CameraRollDomain-Media/DCIM/100APPLE/IMG_0003.JPG").hexdigest()
    assert linked == {
        "archive": "Manifest.db",
        "member": file_id,
        "member_sha256": hashlib.sha256(photo).hexdigest(),
    }
    assert record_of(bundle, rel)["captured_at"] == "2022-03-01T10:00:00"
    assert verify_code(env, bundle) == 0
