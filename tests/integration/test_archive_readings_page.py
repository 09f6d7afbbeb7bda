"""The verifier page refuses the zips that custody refuses, with custody's line
(docs/format.md, "Archives"; custody's side: tests/cli/test_archive_readings.py)."""

from __future__ import annotations

import gzip
import random
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from test_archive_readings import _forged_copy, _two_payload_members
from test_verifier_page import (  # noqa: F401  (fixtures)
    bundle,
    custody_verify,
    driver,
    env,
    key,
    officer,
    page,
    page_file,
    same_verdict,
    template,
)

from archive_tools import Member, overlong_deflate, unicode_path, write_zip, zip_members
from browser_page import Page, chromium_missing
from conftest import TESTS, Env

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


def _hostile(folder: Path, tmp: Path) -> dict[str, Path]:
    """Every kind of zip with two readings, by name."""
    made: dict[str, bytes] = {}
    genuine = tmp / "genuine.zip"
    with zipfile.ZipFile(genuine, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    forged = _forged_copy(folder, tmp)
    forged_tar = tmp / "forged.tar"
    subprocess.run(["tar", "cf", forged_tar, "-C", forged, "."], check=True)
    made["tar with a zip appended"] = forged_tar.read_bytes() + genuine.read_bytes()
    made["gzip with a zip appended"] = gzip.compress(forged_tar.read_bytes()) + genuine.read_bytes()
    made["stub prepended"] = b"#!/bin/sh\nexit 0\n" + genuine.read_bytes()
    made["zip behind a tar header"] = write_zip(
        zip_members(folder), before=tarfile.TarInfo("x").tobuf(tarfile.USTAR_FORMAT)
    )
    members = zip_members(folder)
    made["stub with offsets adjusted"] = write_zip(members, before=b"MZ" + bytes(98))
    made["between members"] = write_zip(members, between=b"\0\0\0")
    made["before the directory"] = write_zip(members, before_directory=b"x")
    made["after the end record"] = write_zip(members, after=b"x")
    a, b = _two_payload_members(members)

    def edited(**fields: Any) -> bytes:
        copy = zip_members(folder)
        for name, value in fields.items():
            setattr(copy[a], name, value)
        return write_zip(copy)

    made["local name"] = edited(local_name=b"data/other.bin")
    made["local crc"] = edited(local_crc=7)
    made["local size"] = edited(local_size=1)
    made["local flags"] = edited(local_flags=0x800)
    made["local method"] = edited(local_method=8)
    crossed = zip_members(folder)
    name_a, name_b = crossed[a].name, crossed[b].name
    crossed[a].name, crossed[b].name = name_b, name_a
    crossed[a].central_extra = unicode_path(name_a, crc_of=name_a)
    crossed[b].central_extra = unicode_path(name_b, crc_of=name_b)
    made["crossed unicode path names"] = write_zip(crossed)
    made["unicode path naming another file"] = edited(
        central_extra=unicode_path(b"data/elsewhere.bin", crc_of=members[a].name)
    )
    for label, name in (
        ("twice", members[a].name),
        ("letter case", members[a].name.upper()),
        ("backslash", members[a].name.replace(b"/", b"\\")),
        ("empty part", b"/" + members[a].name),
        ("trailing dot", members[a].name + b"."),
    ):
        made[label] = write_zip([*zip_members(folder), Member(name, b"other")])
    utf8 = "data/é.txt".encode()
    made["cp437 reading"] = write_zip(
        [
            *zip_members(folder),
            Member(utf8.decode("cp437").encode(), b"flagged", flags=0x800),
            Member(utf8, b"not flagged"),
        ]
    )
    made["not utf-8"] = write_zip([*zip_members(folder), Member(b"data/\xff.txt", b"x")])
    made["version needed"] = edited(needed=63)
    made["compression method"] = edited(method=12)
    made["flags"] = edited(flags=0x40)
    forced = tmp / "forced.zip"
    subprocess.run(["zip", "-qr", "-fz", forced, "."], cwd=folder, check=True)
    z64 = bytearray(forced.read_bytes())
    end = z64.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", z64, end + 8, 1, 1)
    made["zip64 records disagree"] = bytes(z64)
    # Found by fuzzing: a zip64 locator pointing far past the end of the file (2**64 - 1
    # cannot even be sought to); both say the record is not where the locator points.
    made["zip64 locator past the end"] = (
        TESTS / "regressions" / "zip64-locator-past-the-end.tar"
    ).read_bytes()
    out = {}
    for i, (label, data) in enumerate(made.items()):
        path = tmp / f"hostile-{i:02d}.zip"
        path.write_bytes(data)
        out[label] = path
    return out


def test_the_page_refuses_what_custody_refuses(
    env: Env,  # noqa: F811
    page: Page,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    for label, archive in _hostile(bundle, tmp_path).items():
        report = same_verdict(env, page, archive, key)  # the same message, word for word
        assert report["error"]["message"].startswith("archive refused: "), (label, report)


def test_a_deflate_stream_longer_than_its_member(
    env: Env,  # noqa: F811
    page: Page,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    archive = tmp_path / "long.zip"
    archive.write_bytes(overlong_deflate(bundle, "bag-info.txt"))
    report = same_verdict(env, page, archive, key)
    assert ("unreadable", "bag-info.txt") in {(p["kind"], p["path"]) for p in report["problems"]}


def test_the_page_and_custody_agree_on_edited_zips(
    env: Env,  # noqa: F811
    page: Page,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Bytes changed at random, mostly in and near the zip's headers: the page and
    custody give the same verdict and problems, or refuse in the same words."""
    base = tmp_path / "base.zip"
    with zipfile.ZipFile(base, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(bundle).as_posix())
    data = base.read_bytes()
    headers = [i for i in range(len(data) - 1) if data[i : i + 2] == b"PK"]
    rng = random.Random(22)
    for n in range(60):
        edited = bytearray(data)
        for _ in range(rng.randint(1, 2)):
            near = rng.choice(headers) + rng.randrange(60)
            at = near if rng.random() < 0.7 else rng.randrange(len(edited))
            if at < len(edited):
                edited[at] = rng.randrange(256)
        target = tmp_path / f"edited-{n:02d}.zip"
        target.write_bytes(bytes(edited))
        if "not a folder, zip or tar archive" in custody_verify(env, target, key).get(
            "error", {}
        ).get("message", ""):
            continue  # no end record left: the page says so in its own words (test_not_a_bundle)
        same_verdict(env, page, target, key)
