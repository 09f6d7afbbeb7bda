"""`custody similar` end to end: real pictures and videos (made here with
Pillow and PyAV), the real CLI, real keys and ledger; bundles of one case
ingested from two witnesses; confirm and reject; the contact sheet; the signed
analysis file against tampering."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import ImageOps

from conftest import Env, refresh_tag_manifest, validate
from similar_media import jpeg, png, scene, write_video

CASE = "ICC-2026-014"


@pytest.fixture
def two_witnesses(tmp_path: Path) -> tuple[Path, Path]:
    w1, w2 = tmp_path / "w1", tmp_path / "w2"
    w1.mkdir()
    w2.mkdir()
    strike = scene(1)
    (w1 / "IMG_0001.jpg").write_bytes(jpeg(strike, 95))
    (w1 / "unrelated-a.png").write_bytes(png(scene(2)))
    write_video(w1 / "VID_0001.mp4", 5, seconds=4)
    # The same picture as a messaging app passes it on, mirrored, grey; an unrelated one.
    small = strike.resize((320, 240))
    (w2 / "forwarded.jpg").write_bytes(jpeg(small, 60))
    (w2 / "mirrored.jpg").write_bytes(jpeg(ImageOps.mirror(strike), 80))
    (w2 / "grey.jpg").write_bytes(jpeg(ImageOps.grayscale(strike), 80))
    (w2 / "unrelated-b.jpg").write_bytes(jpeg(scene(3), 80))
    # The video re-encoded smaller and trimmed (its seconds 1 to 3).
    write_video(w2 / "trimmed.mp4", 5, seconds=3, start=1, size=(160, 120))
    write_video(w2 / "flipped.mp4", 5, seconds=4, mirror=True)  # a mirrored re-upload
    return w1, w2


def ingest_both(env: Env, w1: Path, w2: Path) -> tuple[Path, Path]:
    out = []
    (env.tmp / "holdings").mkdir(exist_ok=True)
    for n, source in enumerate((w1, w2), start=1):
        result = env.run(
            "ingest",
            source,
            "--case",
            CASE,
            "--exhibit",
            f"W/{n}",
            "--out",
            env.tmp / "holdings" / f"b{n}",
            "--json",
        )
        assert result.exit_code == 0, result.output
        out.append(Path(json.loads(result.stdout)["bundle"]))
    return out[0], out[1]


def group_paths(data: dict) -> list[set[str]]:
    return [{m["path"] for m in g["members"]} for g in data["groups"]]


def test_a_case_groups_what_matches_and_nothing_else(
    env: Env, officer: dict, two_witnesses: tuple[Path, Path]
) -> None:
    b1, b2 = ingest_both(env, *two_witnesses)
    signed = json.loads((b1 / "custody" / "statement.json").read_text())
    assert "similar_sha256" in signed
    result, data = env.run_json("similar", "--case", CASE, "--in", env.tmp / "holdings")
    assert result.exit_code == 0, result.output
    validate("similar", data)
    assert data["thresholds"] == {"max_distance": 31, "min_quality": 50}
    groups = group_paths(data)
    assert {"IMG_0001.jpg", "forwarded.jpg", "mirrored.jpg", "grey.jpg"} in groups
    assert {"VID_0001.mp4", "trimmed.mp4", "flipped.mp4"} in groups
    assert all("unrelated-a.png" not in g and "unrelated-b.jpg" not in g for g in groups)
    photo = next(g for g in data["groups"] if len(g["members"]) == 4)
    members = photo["members"]
    assert members[photo["largest"]]["path"] == "IMG_0001.jpg"
    hows = {p["how"] for p in photo["pairs"]}
    assert "mirrored or rotated" in hows
    assert {m["exhibit"] for m in members} == {"W/1", "W/2"}
    assert all(m["submitted_by"] == "PC Jane Smith, War Crimes Team" for m in members)
    clip = next(g for g in data["groups"] if "trimmed.mp4" in {m["path"] for m in g["members"]})
    names = [m["path"] for m in clip["members"]]
    pair = next(
        p
        for p in clip["pairs"]
        if {names[p["a"]], names[p["b"]]} == {"VID_0001.mp4", "trimmed.mp4"}
    )
    assert pair["how"] == "frames" and pair["frames"]
    full = "a" if names[pair["a"]] == "VID_0001.mp4" else "b"
    # The trimmed copy holds seconds 1-3 of the original: matched there, not at 0.
    assert all(start >= 1000 for start, _ in pair[f"{full}_ranges_ms"])
    assert pair[f"{full}_share_percent"] < 100

    # The table: 80 columns wide on a terminal, the same facts in a pipe.
    table = env.run("similar", b1, b2)
    assert table.exit_code == 0
    assert '"not detected", which never means "different"' in table.stdout
    assert "IMG_0001.jpg" in table.stdout


def test_confirm_and_reject_are_signed_ledger_entries(
    env: Env, officer: dict, two_witnesses: tuple[Path, Path]
) -> None:
    b1, b2 = ingest_both(env, *two_witnesses)
    _, data = env.run_json("similar", b1, b2)
    photo = next(g for g in data["groups"] if len(g["members"]) == 4)
    sha = {m["path"]: m["sha256"] for m in photo["members"]}
    result, decided = env.run_json(
        "similar",
        "confirm",
        sha["IMG_0001.jpg"],
        sha["forwarded.jpg"],
        "--case",
        CASE,
        "--note",
        "Same strike: W1's original, W2's forward",
        "--in",
        env.tmp / "holdings",
    )
    assert result.exit_code == 0, result.output
    validate("similar-decision", decided)
    result, _ = env.run_json(
        "similar",
        "reject",
        sha["grey.jpg"],
        sha["IMG_0001.jpg"],
        "--case",
        CASE,
        "--note",
        "Grey copy is a different frame",
        "--in",
        env.tmp / "holdings",
    )
    assert result.exit_code == 0
    _, after = env.run_json("similar", b1, b2)
    validate("similar", after)
    rejected = after["rejected"]
    assert len(rejected) == 1 and rejected[0]["decision"]["note"].startswith("Grey copy")
    statuses = [
        p["status"] for g in after["groups"] for p in g["pairs"] if p["decision"] is not None
    ]
    assert statuses == ["confirmed"]
    ledger = env.run("ledger", "show", "--case", CASE)
    assert "similar-confirm" in ledger.stdout and "similar-reject" in ledger.stdout
    assert env.run("ledger", "verify").exit_code == 0
    # Nothing merged or deleted: both bundles still verify, every file still there.
    for b in (b1, b2):
        assert env.run("verify", b).exit_code == 0
    bad = env.run("similar", "confirm", "abc", sha["grey.jpg"], "--case", CASE, "--note", "x")
    assert bad.exit_code == 2 and "not a SHA-256" in bad.output
    # A well-formed SHA-256 that is no file of the case's bundles: refused, nothing signed.
    before = env.run("ledger", "show", "--case", CASE).stdout
    stranger = "ab" * 32
    for verdict, pair in (
        ("confirm", (stranger, sha["grey.jpg"])),
        ("reject", (sha["grey.jpg"], stranger)),
    ):
        refused = env.run(
            "similar", verdict, *pair, "--case", CASE, "--note", "x", "--in", env.tmp / "holdings"
        )
        assert refused.exit_code == 2, refused.output
        lines = refused.output.strip().splitlines()
        assert len(lines) == 1 and stranger in lines[0] and "not a file of case" in lines[0]
    # The same files under another case, or with --in pointing elsewhere: refused too.
    elsewhere = env.run(
        "similar",
        "confirm",
        sha["IMG_0001.jpg"],
        sha["grey.jpg"],
        "--case",
        CASE,
        "--note",
        "x",
        "--in",
        env.tmp / "w1",
    )
    assert elsewhere.exit_code == 2 and "not a file of case" in elsewhere.output
    assert env.run("ledger", "show", "--case", CASE).stdout == before


def test_contact_sheet_blurred_and_escaped(
    env: Env, officer: dict, two_witnesses: tuple[Path, Path]
) -> None:
    w1, w2 = two_witnesses
    hostile = "<img src=x onerror=alert(1)>\u202e.jpg"
    shutil.copy(w1 / "IMG_0001.jpg", w2 / hostile)
    b1, b2 = ingest_both(env, w1, w2)
    sheet = env.tmp / "sheet.html"
    for mode in ("blur", "show", "none"):
        result = env.run("similar", b1, b2, "--report", sheet, "--thumbnails", mode)
        assert result.exit_code == 0, result.output
        page = sheet.read_text()
        assert "<img src=x" not in page and "\u202e" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "Confirmed by an analyst" in page and "Rejected by an analyst" in page
        assert ("data:image/jpeg;base64," in page) == (mode != "none")
        assert "custody similar confirm" in page


def test_tampered_or_unsigned_analysis_is_found(
    env: Env, officer: dict, two_witnesses: tuple[Path, Path]
) -> None:
    w1, _ = two_witnesses
    result = env.run("ingest", w1, "--case", CASE, "--out", env.tmp / "b", "--json")
    bundle = Path(json.loads(result.stdout)["bundle"])
    target = bundle / "custody" / "similar.json"
    target.write_bytes(target.read_bytes().replace(b'"quality": ', b'"quality":  ', 1))
    refresh_tag_manifest(bundle)
    _, report = env.run_json("verify", bundle)
    kinds = {(p["kind"], p["path"]) for p in report["problems"]}
    assert ("statement_mismatch", "custody/similar.json") in kinds
    target.unlink()
    refresh_tag_manifest(bundle)
    _, report = env.run_json("verify", bundle)
    assert ("missing", "custody/similar.json") in {
        (p["kind"], p["path"]) for p in report["problems"]
    }
    # A bundle with no image or video has no analysis file, and its statement
    # signs none: one slipped in (tag manifest recomputed) is reported.
    (env.tmp / "texts").mkdir()
    (env.tmp / "texts" / "note.txt").write_text("no pictures here\n")
    result = env.run("ingest", env.tmp / "texts", "--case", CASE, "--out", env.tmp / "c")
    other = env.tmp / "c"
    assert result.exit_code == 0 and not (other / "custody" / "similar.json").exists()
    assert "similar_sha256" not in json.loads((other / "custody" / "statement.json").read_text())
    (other / "custody" / "similar.json").write_bytes(b"{}")
    lines = (other / "tagmanifest-sha256.txt").read_text()
    (other / "tagmanifest-sha256.txt").write_text(lines + "0" * 64 + "  custody/similar.json\n")
    refresh_tag_manifest(other)
    _, report = env.run_json("verify", other)
    assert ("extra", "custody/similar.json") in {(p["kind"], p["path"]) for p in report["problems"]}


def write_hostile_inputs(folder: Path) -> None:
    folder.mkdir()
    good = jpeg(scene(11), 90)
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "noise.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(20000))
    # A PNG whose header claims 60,000 x 60,000 pixels (a decompression bomb).
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
    bomb += struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    (folder / "bomb.png").write_bytes(bomb)
    # A real video whose frame data is overwritten: no frame decodes.
    write_video(folder / "ruined.mp4", 12, seconds=2)
    data = bytearray((folder / "ruined.mp4").read_bytes())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4 : at], "big")
    data[at + 4 : at - 4 + size] = bytes(size - 8)  # the frames, not the index after them
    (folder / "ruined.mp4").write_bytes(bytes(data))
    (folder / "fine.jpg").write_bytes(good)


def test_hostile_media_is_recorded_not_analysed(env: Env, officer: dict, tmp_path: Path) -> None:
    write_hostile_inputs(tmp_path / "hostile")
    result = env.run(
        "ingest", tmp_path / "hostile", "--case", CASE, "--out", tmp_path / "b", "--json"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "b" / "custody" / "similar.json").read_text())
    by_path = {f["path"]: f for f in doc["files"]}
    assert "pdq" in by_path["fine.jpg"]
    for name in (
        "truncated.jpg",
        "garbage.jpg",
        "empty.mp4",
        "noise.mp4",
        "bomb.png",
        "ruined.mp4",
    ):
        assert by_path[name].get("not_analysed"), name
    assert "too large" in by_path["bomb.png"]["not_analysed"]
    assert by_path["empty.mp4"]["not_analysed"] == "empty file"
    assert by_path["ruined.mp4"]["not_analysed"].startswith("no decodable frame")
    # A reason never names the bundle's temporary folder: the same file, the same record.
    text = (tmp_path / "b" / "custody" / "similar.json").read_text()
    assert str(tmp_path) not in text and ".partial" not in text
    result, data = env.run_json("similar", tmp_path / "b")
    assert result.exit_code == 0
    assert {x["path"] for x in data["not_analysed"]} >= {"bomb.png", "empty.mp4", "ruined.mp4"}
    table = env.run("similar", tmp_path / "b")
    assert "Not analysed" in table.stdout


def test_without_the_extra_ingest_works_says_so_and_similar_analyses_later(
    env: Env, officer: dict, two_witnesses: tuple[Path, Path], tmp_path: Path
) -> None:
    """pdqhash made unimportable for one real ingest process: the bundle records
    every image and video as not analysed; `similar --record` analyses it later,
    keeps that analysis signed in the ledger, and never touches the bundle."""
    w1, w2 = two_witnesses
    blocker = tmp_path / "no-extra"
    blocker.mkdir()
    (env.tmp / "holdings").mkdir()
    (blocker / "pdqhash.py").write_text("raise ImportError('pdqhash is not installed')\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "custody",
            "ingest",
            str(w1),
            "--case",
            CASE,
            "--exhibit",
            "W/1",
            "--out",
            str(env.tmp / "holdings" / "b1"),
        ],
        env={
            **os.environ,
            "PYTHONPATH": str(blocker),
            "CUSTODY_HOME": str(env.home),
            "CUSTODY_PASSPHRASE": "correct horse battery staple",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "custody[similar]" in run.stderr and run.stderr.count("\n") <= 3
    b1 = env.tmp / "holdings" / "b1"
    doc = json.loads((b1 / "custody" / "similar.json").read_text())
    assert all("not installed" in f["not_analysed"] for f in doc["files"])
    before = {p: p.read_bytes() for p in b1.rglob("*") if p.is_file()}
    result = env.run(
        "ingest", w2, "--case", CASE, "--exhibit", "W/2", "--out", env.tmp / "holdings" / "b2"
    )
    assert result.exit_code == 0
    result, data = env.run_json("similar", "--case", CASE, "--in", env.tmp / "holdings", "--record")
    assert result.exit_code == 0, result.output
    assert len(data["recorded_entries"]) == 1
    assert {"IMG_0001.jpg", "forwarded.jpg", "mirrored.jpg", "grey.jpg"} in group_paths(data)
    sources = {m["path"]: m["analysis"] for g in data["groups"] for m in g["members"]}
    assert sources["IMG_0001.jpg"] == "now" and sources["forwarded.jpg"] == "bundle"
    assert before == {p: p.read_bytes() for p in b1.rglob("*") if p.is_file()}
    # Next time the recorded analysis is used, checked against its ledger entry.
    _, again = env.run_json("similar", "--case", CASE, "--in", env.tmp / "holdings")
    sources = {m["path"]: m["analysis"] for g in again["groups"] for m in g["members"]}
    assert sources["IMG_0001.jpg"] == "ledger"
    assert env.run("ledger", "verify").exit_code == 0


def test_nothing_to_compare_is_a_usage_error(env: Env, officer: dict) -> None:
    assert env.run("similar").exit_code == 2
    result = env.run("similar", "--case", "NO-SUCH-CASE")
    assert result.exit_code == 2 and "NO-SUCH-CASE" in result.output
    result = env.run("similar", env.tmp / "nothing-here")
    assert result.exit_code == 2
