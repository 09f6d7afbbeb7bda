"""custody disclose and custody verify PACKAGE: real photos (EXIF/GPS JPEG, PNG
with text chunks), a real WhatsApp export, real keys and signatures, the real
CLI. Every kind of decision, every tampering the issue names, and a search of
every byte of each package (folder and zip) for everything withheld."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from conftest import EXAMPLES, Env, validate
from custody.bundle.format import commitments as L
from custody.disclosure.package import leaves_line, record_bytes
from custody.disclosure.parts import split_jpeg

CASE = ("--case", "ICC-2026-014", "--exhibit", "JS/1")
NOTE = "Handed over by W1, Андрій Мельник, at his flat"
WITHHELD = "W1 Андрій statement.txt"
WITHHELD_BODY = b"Statement of witness W1 (protected)\n" + b"x" * (123457 - 37)
PHOTO = "IMG_20220225_140310.jpg"
CHAT = "WhatsApp Chat - Olena K/_chat.txt"
BASIS = "81(4): identity of witness"


def _png(path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Zoryana Kovalenko, flat 14")
    Image.new("RGB", (40, 30), (200, 10, 10)).save(path, pnginfo=info)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "evidence"
    shutil.copytree(EXAMPLES, src)
    (src / WITHHELD).write_bytes(WITHHELD_BODY)
    _png(src / "map.png")
    (src / "blurred.jpg").write_bytes(b"")  # placeholder name never ingested below
    (src / "blurred.jpg").unlink()
    return src


@pytest.fixture
def bundle(env: Env, officer: dict, source: Path) -> Path:
    result = env.run("ingest", source, *CASE, "--note", NOTE, "--out", env.tmp / "out", "--json")
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.stdout)["bundle"])


def _blurred(env: Env) -> Path:
    path = env.tmp / "blurred.jpg"
    Image.new("RGB", (32, 24), (90, 90, 90)).save(path, "JPEG")
    return path


def disclose(env: Env, bundle: Path, name: str, *extra: str | Path) -> tuple[Path, dict]:
    out = env.tmp / name
    result = env.run(
        "disclose", bundle, "-o", out, "--to", "Defence for the accused", "--json", *extra
    )
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.fixture
def package(env: Env, bundle: Path) -> Path:
    out, _ = disclose(
        env,
        bundle,
        "pkg",
        "--withhold",
        WITHHELD,
        "--basis",
        BASIS,
        "--withhold-field",
        f"{PHOTO}:gps",
        "--strip-metadata",
        "IMG_20220225_140955.jpg",
        "--strip-metadata",
        "map.png",
        "--redact-messages",
        f"{CHAT}:2-3",
        "--derived",
        f"VID_20220225_141500.mp4={_blurred(env)}",
        "--method",
        "blurring",
        "--zip",
    )
    return out


def verify(env: Env, target: Path, *extra: str | Path) -> tuple[int, dict]:
    result = env.run("verify", target, "--json", *extra)
    assert result.stdout, result.output
    return result.exit_code, json.loads(result.stdout)


def kinds(report: dict) -> set[str]:
    return {p["kind"] for p in report["problems"]}


def test_every_decision_verifies_folder_and_zip(env: Env, package: Path) -> None:
    for target in (package, package.with_name("pkg.zip")):
        code, report = verify(env, target)
        assert code == 0, report["problems"]
        d = report["disclosure"]
        assert (d["committed"], d["disclosed"], d["stripped"], d["withheld"]) == (8, 3, 2, 1)
        assert d["messages_redacted"][0]["redacted"] == 2
        assert d["derived"][0]["method"] == "blurring"
        assert d["withheld_by_basis"] == {BASIS: 1}
        assert d["note"] == "withheld"
        assert report["summary"] == (
            "8 committed: 3 disclosed intact, 2 with metadata stripped (proven), 1 chat with 2 "
            "of 7 messages redacted (proven), 1 derived by blurring (attested by PC Jane Smith, "
            f"War Crimes Team), 1 withheld under {BASIS}"
        )
        validate("verify-package", report)
    text = env.run("verify", package)
    assert text.exit_code == 0 and "VERIFIED DISCLOSURE" in text.stdout
    assert "1 withheld under 81(4)" in text.stdout.replace("\n", " ")


def test_package_is_a_valid_bagit_bag(package: Path) -> None:
    import bagit

    bag = bagit.Bag(str(package))
    bag.validate()
    assert len(list(bag.payload_entries())) == 7


def test_stripped_copies_lose_only_metadata(env: Env, bundle: Path, package: Path) -> None:
    original = (bundle / "data/IMG_20220225_140955.jpg").read_bytes()
    copy = (package / "data/IMG_20220225_140955.jpg").read_bytes()
    assert b"Exif" in original and b"Exif" not in copy
    assert [p.type for p in split_jpeg(copy) or []] == [
        p.type for p in split_jpeg(original) or [] if p.role == "data"
    ]
    with Image.open(package / "data/IMG_20220225_140955.jpg") as im:
        im.load()  # still a JPEG every viewer opens
    png = (package / "data/map.png").read_bytes()
    assert b"tEXt" not in png and b"Andrii" not in png
    chat = (package / f"data/{CHAT}").read_text()
    assert "[message 2 redacted]\n[message 3 redacted]\n" in chat


def _secrets(bundle: Path) -> list[bytes]:
    """Everything the package must not reveal, as bytes."""
    lines = (bundle / "custody/commitments.jsonl").read_bytes().splitlines()
    parsed = [json.loads(x) for x in lines]
    files = {p["path"]: i for i, p in enumerate(parsed) if p["kind"] == "file"}
    w = files[f"data/{WITHHELD}"]
    photo = files[f"data/{PHOTO}"]
    digest = hashlib.sha256(WITHHELD_BODY).digest()
    out = [
        WITHHELD.encode(),
        WITHHELD.encode("unicode_escape"),
        json.dumps(WITHHELD).encode(),
        b"123457",
        digest.hex().encode(),
        digest,
        WITHHELD_BODY[:40],
        parsed[w]["salt"].encode(),
        bytes.fromhex(parsed[w]["salt"]),
        NOTE.encode(),
        json.dumps(NOTE).encode(),
        "Мельник".encode(),
        b"Zoryana Kovalenko",
        b"50.44751111",
        b"50.44699",  # PNG text, stripped and derived GPS
    ]
    for leaf in parsed:
        withheld_field = leaf.get("file") == photo and leaf.get("name") == "gps"
        if leaf.get("file") == w or withheld_field or leaf["kind"] == "note":
            out.append(leaf["salt"].encode())
    # The stripped EXIF segments and the redacted messages.
    # (every 24-byte window of them that no other file of the bundle holds: EXIF
    # headers from one camera share bytes with the photos disclosed intact).
    name = "IMG_20220225_140955.jpg"
    data = (bundle / "data" / name).read_bytes()
    others = b"".join(
        p.read_bytes() for p in (bundle / "data").rglob("*") if p.is_file() and p.name != name
    )
    stripped = 0
    for p in split_jpeg(data) or []:
        if p.role == "metadata":
            for at in range(p.start, p.end - 24, 8):
                window = data[at : at + 24]
                if window not in others:
                    out.append(window)
                    stripped += 1
    assert stripped > 10
    chat = (bundle / f"data/{CHAT}").read_bytes().splitlines()
    out += [chat[1][22:], chat[2][22:]]
    # As they appear inside JSON, and inside a JSON string inside JSON.
    once = [json.dumps(x.decode("utf-8", "replace"))[1:-1].encode() for x in out]
    twice = [json.dumps(x.decode())[1:-1].encode() for x in once]
    return [x for x in out + once + twice if len(x) >= 6]


def test_nothing_withheld_leaks(env: Env, bundle: Path, package: Path) -> None:
    blobs = {str(p): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    blobs["zip"] = package.with_name("pkg.zip").read_bytes()
    with zipfile.ZipFile(package.with_name("pkg.zip")) as zf:
        blobs.update({f"zip:{n}": zf.read(n) for n in zf.namelist()})
    secrets = _secrets(bundle)
    for where, data in blobs.items():
        for secret in secrets:
            assert secret not in data, (where, secret[:40])


def _refresh(package: Path) -> None:
    """Recompute both manifests, as a careful forger would."""
    lines = []
    for p in sorted(package.rglob("*")):
        rel = p.relative_to(package).as_posix()
        if p.is_file() and rel.startswith("data/"):
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}")
    (package / "manifest-sha256.txt").write_text("".join(x + "\n" for x in lines))
    tags = []
    for p in sorted(package.rglob("*"), key=lambda p: p.relative_to(package).as_posix()):
        rel = p.relative_to(package).as_posix()
        if p.is_file() and not rel.startswith("data/") and rel != "tagmanifest-sha256.txt":
            tags.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}")
    (package / "tagmanifest-sha256.txt").write_text(
        "".join(x + "\n" for x in sorted(tags, key=lambda x: x[66:].encode()))
    )


def _resign(env: Env, package: Path, change: Any) -> None:
    """Change the record and sign it again with the officer's own key."""
    from custody.base.keys import find_key, load_private_key
    from custody.base.signing import sign_bytes

    record = json.loads((package / "custody/disclosure/record.json").read_bytes())
    change(record)
    data = record_bytes(record)
    key = load_private_key(find_key(home=env.home, selector=None), b"correct horse battery staple")
    (package / "custody/disclosure/record.json").write_bytes(data)
    (package / "custody/disclosure/record.sig").write_bytes(sign_bytes(key, data))
    (package / "custody/disclosure/ledger-proof.json").unlink()


def _guessed_leaf(env: Env, package: Path) -> None:
    leaves = package / "custody/disclosure/leaves.jsonl"
    first = json.loads(leaves.read_bytes().splitlines()[0])
    guess = L.file_leaf(f"data/{WITHHELD}", hashlib.sha256(WITHHELD_BODY).hexdigest(), 123457)
    line = leaves_line(first["index"] + 0, guess, [bytes.fromhex(p) for p in first["proof"]])
    rest = leaves.read_bytes().splitlines(keepends=True)[1:]
    leaves.write_bytes(line + b"".join(rest))
    (package / f"data/{WITHHELD}").write_bytes(WITHHELD_BODY)
    _refresh(package)


def _byte(env: Env, package: Path) -> None:
    p = package / "data/photos from Shevchenka street.eml"
    data = bytearray(p.read_bytes())
    data[100] ^= 1
    p.write_bytes(bytes(data))


def _extra(env: Env, package: Path) -> None:
    (package / "data/planted.jpg").write_bytes(b"\xff\xd8planted")
    _refresh(package)


def _swap(env: Env, package: Path) -> None:
    a, b = package / f"data/{PHOTO}", package / "data/photos from Shevchenka street.eml"
    x, y = a.read_bytes(), b.read_bytes()
    a.write_bytes(y)
    b.write_bytes(x)
    _refresh(package)


def _image_data(env: Env, package: Path) -> None:
    p = package / "data/IMG_20220225_140955.jpg"
    data = bytearray(p.read_bytes())
    data[-20] ^= 0xFF
    p.write_bytes(bytes(data))
    _refresh(package)


def _reorder(env: Env, package: Path) -> None:
    p = package / f"data/{CHAT}"
    lines = p.read_bytes().splitlines(keepends=True)
    lines[4], lines[5] = lines[5], lines[4]
    p.write_bytes(b"".join(lines))
    _refresh(package)


def _forge(env: Env, package: Path) -> None:
    p = package / f"data/{CHAT}"
    p.write_bytes(p.read_bytes().replace(b"Keep the originals", b"Delete the originals"))
    _refresh(package)


def _counts(env: Env, package: Path) -> None:
    _resign(env, package, lambda r: r.update(withheld=[]))


def _other_record(env: Env, package: Path) -> None:
    other = package.parent / "pkg-other"
    for name in ("record.json", "record.sig", "ledger-proof.json"):
        shutil.copy(other / "custody/disclosure" / name, package / "custody/disclosure" / name)
    _refresh(package)


TAMPERINGS = {
    "changed byte": (_byte, {"changed"}),
    "extra file": (_extra, {"extra", "disclosure_mismatch"}),
    "swapped files": (_swap, {"changed", "disclosure_mismatch"}),
    "withheld item with a guessed salt": (_guessed_leaf, {"bad_proof"}),
    "stripped copy with changed image data": (_image_data, {"bad_stripped_copy"}),
    "reordered messages": (_reorder, {"bad_redaction"}),
    "forged message": (_forge, {"bad_redaction"}),
    "counts that do not add up": (_counts, {"counts_mismatch"}),
    "record from another package": (_other_record, {"disclosure_mismatch"}),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_tampering_is_named(env: Env, bundle: Path, package: Path, name: str) -> None:
    if name == "record from another package":
        disclose(env, bundle, "pkg-other", "--withhold", WITHHELD, "--basis", BASIS)
    damage, expected = TAMPERINGS[name]
    damage(env, package)
    code, report = verify(env, package)
    assert code == 1
    assert expected <= kinds(report), report["problems"]
    text = env.run("verify", package)
    assert text.exit_code == 1 and text.stdout.startswith("NOT VERIFIED")
    assert "Traceback" not in text.output


def test_record_signed_by_an_untrusted_key(env: Env, bundle: Path, officer: dict) -> None:
    second = env.run("keygen", "--name", "Clerk Unknown", "--json")
    assert second.exit_code == 0, second.output
    out, _ = disclose(
        env, bundle, "pkg2", "--key", "Clerk Unknown", "--withhold", WITHHELD, "--basis", BASIS
    )
    code, report = verify(env, out, "--no-trust-store", "--trust", officer["fingerprint"])
    assert code == 1 and "untrusted_discloser" in kinds(report)
    assert report["signer"]["trusted"] is True


def test_note_only_with_disclose_note(env: Env, bundle: Path) -> None:
    out, data = disclose(env, bundle, "with-note", "--disclose-note")
    validate("disclose", data)
    assert data["disclosure"]["disclosed"] == 8
    code, report = verify(env, out)
    assert code == 0 and report["disclosure"]["note"] == "disclosed"
    leaves = (out / "custody/disclosure/leaves.jsonl").read_text()
    assert json.dumps(json.dumps(NOTE))[2:-2] in leaves


def test_reveal_makes_a_supplement(env: Env, bundle: Path, package: Path) -> None:
    record = json.loads((package / "custody/disclosure/record.json").read_bytes())
    out, _ = disclose(
        env, bundle, "supp", "--reveal", WITHHELD, "--supplement-to", record["disclosure_id"]
    )
    code, report = verify(env, out)
    assert code == 0, report["problems"]
    assert (out / f"data/{WITHHELD}").read_bytes() == WITHHELD_BODY
    assert report["disclosure"]["disclosed"] == 1 and report["disclosure"]["withheld"] == 7


def test_bad_requests_are_one_line(env: Env, bundle: Path) -> None:
    for extra, words in (
        (("--withhold", "nope.jpg", "--basis", "b"), "no such file"),
        (("--withhold", WITHHELD), "--basis"),
        (("--strip-metadata", WITHHELD), "no parts"),
        (("--redact-messages", f"{CHAT}:99", "--basis", "b"), "no 99"),
        (("--withhold-field", f"{PHOTO}:shoe", "--basis", "b"), "no field"),
    ):
        result = env.run("disclose", bundle, "-o", env.tmp / "x", "--to", "D", *extra)
        assert result.exit_code == 2, result.output
        assert words in result.stderr and "Traceback" not in result.output
        assert not (env.tmp / "x").exists()


def test_old_bundle_is_disclosed_whole_only(env: Env, officer: dict, tmp_path: Path) -> None:
    """A bundle as custody wrote it before commitments: statement without them."""
    from custody.base.keys import find_key, load_private_key
    from custody.base.signing import sign_bytes

    result = env.run("ingest", EXAMPLES, *CASE, "--out", env.tmp / "old", "--json")
    old = Path(json.loads(result.stdout)["bundle"])
    st = json.loads((old / "custody/statement.json").read_bytes())
    del st["commitments"]
    stmt = record_bytes(st)
    key = load_private_key(find_key(home=env.home, selector=None), b"correct horse battery staple")
    (old / "custody/statement.json").write_bytes(stmt)
    (old / "custody/statement.sig").write_bytes(sign_bytes(key, stmt))
    (old / "custody/commitments.jsonl").unlink()
    (old / "custody/ledger-proof.json").unlink()
    from conftest import refresh_tag_manifest

    refresh_tag_manifest(old)
    assert env.run("verify", old).exit_code == 0
    refused = env.run(
        "disclose", old, "-o", env.tmp / "x", "--to", "D", "--withhold", PHOTO, "--basis", "b"
    )
    assert refused.exit_code == 2
    assert "made before commitments existed" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    out, data = disclose(env, old, "whole")
    assert data["committed"] is False
    code, report = verify(env, out)
    assert code == 0, report["problems"]
    assert report["disclosure"]["whole"] is True
    assert "disclosed whole" in report["summary"]
    os.remove(out / f"data/{PHOTO}")
    _refresh(out)
    code, report = verify(env, out)
    assert code == 1 and "missing" in kinds(report)


def test_by_hand_recipe_checks_a_disclosed_file(env: Env, package: Path, officer: dict) -> None:
    import re
    import subprocess

    from conftest import REPO

    text = (REPO / "docs/verify-by-hand.md").read_text("utf-8")
    m = re.search(r"<!-- disclosure-recipe.*?-->\n```sh\n(.*?)```\n", text, re.S)
    assert m, "docs/verify-by-hand.md lost its disclosure recipe"

    def run(file: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + m.group(1)],
            env={
                **os.environ,
                "PACKAGE": str(package),
                "FILE": file,
                "OFFICER_KEY": officer["public_key"],
                "LC_ALL": "C.UTF-8",
            },
            capture_output=True,
            text=True,
        )

    done = run(f"data/{PHOTO}")
    assert done.returncode == 0, done.stdout + done.stderr
    p = package / "data/photos from Shevchenka street.eml"
    p.write_bytes(p.read_bytes() + b"x")
    assert run("data/photos from Shevchenka street.eml").returncode != 0


def test_mp4_stripped_keeps_every_offset(env: Env, officer: dict, tmp_path: Path) -> None:
    """An MP4 made by ffmpeg with its moov first (faststart): the metadata box is
    replaced by a free box of its size, so the copy still plays; a changed media
    byte is named."""
    src = tmp_path / "video"
    src.mkdir()
    video = src / "flat.mp4"
    done = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x48:rate=5",
            "-c:v",
            "mpeg4",
            "-metadata",
            "location=+50.4470+030.5220/",
            "-metadata",
            "title=Flat of W1 Zoryana",
            "-movflags",
            "+faststart",
            str(video),
        ],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("ffmpeg cannot make an MP4 here")
    result = env.run("ingest", src, *CASE, "--out", env.tmp / "vb", "--json")
    bundle = Path(json.loads(result.stdout)["bundle"])
    out, _ = disclose(env, bundle, "vpkg", "--strip-metadata", "flat.mp4")
    code, report = verify(env, out)
    assert code == 0 and report["disclosure"]["stripped"] == 1, report["problems"]
    copy = (out / "data/flat.mp4").read_bytes()
    original = video.read_bytes()
    assert len(copy) == len(original) and b"Zoryana" not in copy and b"+50.4470" not in copy
    assert b"Zoryana" in original
    for blob in (p.read_bytes() for p in out.rglob("*") if p.is_file()):
        assert b"Zoryana" not in blob and b"+50.4470" not in blob
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", str(out / "data/flat.mp4")],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0 and "codec_name=mpeg4" in probe.stdout
    data = bytearray(copy)
    data[-10] ^= 0xFF
    (out / "data/flat.mp4").write_bytes(bytes(data))
    _refresh(out)
    code, report = verify(env, out)
    assert code == 1 and "bad_stripped_copy" in kinds(report)


def test_a_damaged_bundle_is_refused_in_one_line(env: Env, bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "damaged"
    shutil.copytree(bundle, copy)
    (copy / f"data/{PHOTO}").unlink()
    result = env.run("disclose", copy, "-o", env.tmp / "x", "--to", "D")
    assert result.exit_code == 2 and "run custody verify" in result.stderr
    (copy / f"data/{PHOTO}").write_bytes(b"other")
    result = env.run("disclose", copy, "-o", env.tmp / "x", "--to", "D")
    assert result.exit_code == 2 and "differs from its committed SHA-256" in result.stderr
    lines = (copy / "custody/commitments.jsonl").read_bytes().splitlines(keepends=True)
    (copy / "custody/commitments.jsonl").write_bytes(b"".join(lines[:-1]))
    result = env.run("disclose", copy, "-o", env.tmp / "x", "--to", "D")
    assert result.exit_code == 2 and "leaves, the statement committed" in result.stderr
    assert not (env.tmp / "x").exists() and "Traceback" not in result.output


def test_package_report_html(env: Env, package: Path) -> None:
    report = env.tmp / "report.html"
    result = env.run("verify", package, "--report", report)
    assert result.exit_code == 0, result.output
    html = report.read_text()
    assert "VERIFIED DISCLOSURE" in html and "Disclosure summary" in html
    assert "Derived (attested, not proven)" in html and "81(4)" in html
    assert "Мельник" not in html and WITHHELD not in html


def test_withheld_field_is_not_repeated_elsewhere(env: Env, officer: dict, tmp_path: Path) -> None:
    """The raw EXIF tags under `details` repeat the GPS position and the device:
    withholding `gps` or `device` withholds them too."""
    src = tmp_path / "one"
    src.mkdir()
    img = Image.new("RGB", (32, 24), (10, 120, 30))
    exif = Image.Exif()
    exif[0x010F] = "Nokia"
    exif[0x0110] = "TA-1234 serial 77X"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    img.save(src / "x.jpg", exif=exif)
    result = env.run("ingest", src, *CASE, "--out", env.tmp / "gb", "--json")
    bundle = Path(json.loads(result.stdout)["bundle"])
    out, done = disclose(
        env,
        bundle,
        "gpkg",
        "--withhold-field",
        "x.jpg:gps",
        "--withhold-field",
        "x.jpg:device",
        "--basis",
        BASIS,
    )
    assert "x.jpg is disclosed intact: its own bytes still carry" in done["notes"][0]
    code, report = verify(env, out)
    assert code == 0 and report["disclosure"]["withheld_fields"] >= 3
    leaves = (out / "custody/disclosure/leaves.jsonl").read_bytes()
    for secret in (b"48.858", b"[48, 51, 29]", b"Nokia", b"TA-1234"):
        assert secret not in leaves
    assert b"image/jpeg" in leaves  # the fields that say nothing of it are disclosed


EML = "photos from Shevchenka street.eml"


def email_package(env: Env, bundle: Path) -> Path:
    out, _ = disclose(env, bundle, "mail", "--redact-messages", f"{EML}:2", "--basis", BASIS)
    return out


def test_email_attachment_redacted(env: Env, bundle: Path) -> None:
    out = email_package(env, bundle)
    code, report = verify(env, out)
    assert code == 0, report["problems"]
    assert report["disclosure"]["messages_redacted"][0]["of"] == 2
    copy = (out / f"data/{EML}").read_bytes()
    original = (bundle / f"data/{EML}").read_bytes()
    attachment = original[original.index(b"/9j/") :][:200]
    assert attachment not in copy and b"[message 2 redacted]" in copy
    assert b"Attached is the photo I took" in copy
    for blob in (p.read_bytes() for p in out.rglob("*") if p.is_file()):
        assert attachment not in blob
    p = out / f"data/{EML}"
    p.write_bytes(copy.replace(b"near the school", b"near the bridge"))
    _refresh(out)
    code, report = verify(env, out)
    assert code == 1 and "bad_redaction" in kinds(report)
