"""Metadata extraction on real files: what investigators and courts rely on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, Env

SHARED_CORPUS = REPO.parent / "shared" / "corpus" / "exif-samples"


def ingest_and_read(env: Env, src: Path, *extra: str) -> tuple[Path, dict[str, dict]]:
    out = env.tmp / f"bundle-{len(list(env.tmp.glob('bundle-*')))}"
    result = env.run("ingest", src, "--case", "META", "--out", out, *extra)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "custody/metadata.json").read_bytes())
    return out, {r["path"]: r for r in doc["files"]}


@pytest.fixture
def examples(env: Env, officer: dict) -> dict[str, dict]:
    return ingest_and_read(env, EXAMPLES)[1]


FIELDS = {
    "path",
    "sha256",
    "size",
    "mime",
    "extension_mismatch",
    "captured_at",
    "gps",
    "device",
    "duration_s",
    "width",
    "height",
    "c2pa",
    "details",
    "errors",
}


def test_every_record_has_the_same_fields(examples: dict[str, dict]) -> None:
    for record in examples.values():
        assert set(record) == FIELDS


def test_photo(examples: dict[str, dict]) -> None:
    r = examples["IMG_20220225_140310.jpg"]
    assert r["mime"] == "image/jpeg" and r["extension_mismatch"] is False
    assert r["captured_at"] == "2022-02-25T14:03:10+02:00"
    assert r["gps"]["lat"] == pytest.approx(50.44702, abs=1e-5)
    assert r["gps"]["lon"] == pytest.approx(30.52205, abs=1e-5)
    assert r["gps"]["alt"] == pytest.approx(179.0)
    assert r["device"] == {"make": "Samsung", "model": "SM-G991B", "software": "G991BXXU5CVJB"}
    assert (r["width"], r["height"]) == (320, 240)
    assert r["details"]["orientation"] == 1
    assert r["errors"] == []


def test_video(examples: dict[str, dict]) -> None:
    r = examples["VID_20220225_141500.mp4"]
    assert r["mime"] == "video/mp4"
    assert r["captured_at"] == "2022-02-25T12:15:00Z"
    assert r["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert (r["width"], r["height"]) == (160, 120)
    assert r["details"]["codecs"] == ["avc1", "mp4a"]
    assert r["gps"]["lat"] == pytest.approx(50.447, abs=1e-4)
    assert r["gps"]["lon"] == pytest.approx(30.522, abs=1e-4)


def test_email(examples: dict[str, dict]) -> None:
    r = examples["photos from Shevchenka street.eml"]
    d = r["details"]
    assert r["mime"] == "message/rfc822" and d["family"] == "email"
    assert d["subject"] == "Фото з вулиці Шевченка (photos from Shevchenka street)"
    assert d["from"] == ["Andrii Melnyk <andrii.m@example.org>"]
    assert d["message_id"] == "<20220226091200.4411@example.org>"
    assert r["captured_at"] == "2022-02-26T09:12:00+02:00"
    photo = (EXAMPLES / "IMG_20220225_140955.jpg").read_bytes()
    import hashlib

    assert d["attachments"] == [
        {
            "name": "IMG_20220225_140955.jpg",
            "type": "image/jpeg",
            "size": len(photo),
            "sha256": hashlib.sha256(photo).hexdigest(),
        }
    ]


def test_whatsapp_export(examples: dict[str, dict]) -> None:
    d = examples["WhatsApp Chat - Olena K/_chat.txt"]["details"]
    assert d["family"] == "whatsapp"
    assert d["participants"] == ["Andrii M.", "Olena K."]
    assert d["message_count"] == 7
    assert d["first_message"] == "2022-02-25T13:58:02"
    assert d["last_message"] == "2022-02-25T14:20:11"
    assert d["attachments"] == [
        {"name": "00000012-PHOTO-2022-02-25-14-03-10.jpg", "present": True},
        {"name": "00000013-VIDEO-2022-02-25-14-15-00.mp4", "present": False},
    ]


def test_android_whatsapp_and_telegram_and_mbox(env: Env, officer: dict, tmp_path: Path) -> None:
    src = tmp_path / "msgs"
    (src / "chat").mkdir(parents=True)
    (src / "chat" / "WhatsApp Chat with Maria.txt").write_text(
        "13/03/2022, 09:15 - Maria: Hello\n"
        "13/03/2022, 09:16 - You: IMG-20220313-WA0001.jpg (file attached)\n"
        "14/03/2022, 21:01 - Maria: ok\n"
    )
    (src / "tg").mkdir()
    (src / "tg" / "result.json").write_text(
        json.dumps(
            {
                "name": "Family",
                "type": "private_group",
                "id": 1,
                "messages": [
                    {
                        "id": 1,
                        "type": "message",
                        "date": "2022-03-01T10:00:00",
                        "date_unixtime": "1646128800",
                        "from": "Ivan",
                        "text": "hi",
                    },
                    {"id": 2, "type": "service", "date": "2022-03-01T10:01:00", "actor": "Ivan"},
                    {
                        "id": 3,
                        "type": "message",
                        "date": "2022-03-02T08:00:00",
                        "date_unixtime": "1646208000",
                        "from": "Oksana",
                        "text": "yes",
                    },
                ],
            }
        )
    )
    (src / "mail.mbox").write_bytes(
        b"From a@example.org Mon Mar  7 10:00:00 2022\n"
        b"From: A <a@example.org>\nTo: b@example.org\nSubject: first\n"
        b"Date: Mon, 07 Mar 2022 10:00:00 +0100\n\nbody one\n>From the start\n\n"
        b"From b@example.org Tue Mar  8 11:00:00 2022\n"
        b"From: B <b@example.org>\nTo: a@example.org\nSubject: =?utf-8?q?Caf=C3=A9?=\n"
        b"Date: Tue, 08 Mar 2022 11:00:00 +0100\n\nbody two\n"
    )
    _, records = ingest_and_read(env, src)
    wa = records["chat/WhatsApp Chat with Maria.txt"]["details"]
    assert wa["participants"] == ["Maria", "You"] and wa["message_count"] == 3
    assert wa["date_order"] == "day/month"
    assert wa["last_message"] == "2022-03-14T21:01:00"
    assert wa["attachments"] == [{"name": "IMG-20220313-WA0001.jpg", "present": False}]
    tg = records["tg/result.json"]["details"]
    assert tg["family"] == "telegram" and tg["name"] == "Family"
    assert tg["participants"] == ["Ivan", "Oksana"] and tg["message_count"] == 2
    assert tg["first_message"] == "2022-03-01T10:00:00Z"
    mb = records["mail.mbox"]["details"]
    assert mb["family"] == "mbox" and mb["message_count"] == 2
    assert [m["subject"] for m in mb["messages"]] == ["first", "Café"]


def test_extension_that_lies_is_flagged(env: Env, officer: dict, tmp_path: Path) -> None:
    src = tmp_path / "lies"
    src.mkdir()
    shutil.copy(EXAMPLES / "IMG_20220225_140310.jpg", src / "holiday.mp4")
    shutil.copy(EXAMPLES / "VID_20220225_141500.mp4", src / "clip.jpg")
    shutil.copy(EXAMPLES / "IMG_20220225_140955.jpg", src / "honest.jpeg")
    _, records = ingest_and_read(env, src)
    assert records["holiday.mp4"]["mime"] == "image/jpeg"
    assert records["holiday.mp4"]["extension_mismatch"] is True
    assert records["holiday.mp4"]["captured_at"] == "2022-02-25T14:03:10+02:00"
    assert records["clip.jpg"]["extension_mismatch"] is True
    assert records["clip.jpg"]["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert records["honest.jpeg"]["extension_mismatch"] is False


def _corrupt_set(root: Path) -> dict[str, bytes]:
    photo = (EXAMPLES / "IMG_20220225_140310.jpg").read_bytes()
    video = (EXAMPLES / "VID_20220225_141500.mp4").read_bytes()
    mail = (EXAMPLES / "photos from Shevchenka street.eml").read_bytes()
    flipped = bytearray(photo)
    for i in range(20, 400, 7):
        flipped[i] ^= 0xFF
    moov = video.find(b"moov") - 4
    loop = bytearray(video)
    loop[moov : moov + 4] = (0xFFFFFFF0).to_bytes(4, "big")  # a box larger than the file
    files = {
        "truncated.jpg": photo[:300],
        "flipped.jpg": bytes(flipped),
        "random.mp4": os.urandom(5000),
        "truncated.mp4": video[: len(video) // 3],
        "huge-box.mp4": bytes(loop),
        "empty.jpg": b"",
        "nested.json": b"[" * 100_000 + b"]" * 100_000,
        "half.eml": mail[: len(mail) // 2],
        "junk.mkv": b"\x1a\x45\xdf\xa3" + os.urandom(3000),
        "junk.mp3": b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + os.urandom(2000),
        "header-only.png": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR",
    }
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


def test_corrupt_media_is_kept_with_its_errors(env: Env, officer: dict, tmp_path: Path) -> None:
    files = _corrupt_set(tmp_path / "corrupt")
    bundle, records = ingest_and_read(env, tmp_path / "corrupt")
    for name, data in files.items():
        assert (bundle / "data" / name).read_bytes() == data, name
        assert records[name]["size"] == len(data)
    assert records["truncated.mp4"]["errors"]
    assert records["huge-box.mp4"]["errors"]
    assert records["random.mp4"]["mime"] is None
    assert records["random.mp4"]["extension_mismatch"] is None
    assert env.run("verify", bundle).exit_code == 0


def test_metadata_is_deterministic(env: Env, officer: dict, tmp_path: Path) -> None:
    _corrupt_set(tmp_path / "src")
    shutil.copytree(EXAMPLES, tmp_path / "src" / "examples")
    a, _ = ingest_and_read(env, tmp_path / "src")
    b, _ = ingest_and_read(env, tmp_path / "src", "--again")
    assert (a / "custody/metadata.json").read_bytes() == (b / "custody/metadata.json").read_bytes()


def test_metadata_can_be_switched_off(env: Env, officer: dict) -> None:
    _, records = ingest_and_read(env, EXAMPLES, "--no-metadata")
    r = records["IMG_20220225_140310.jpg"]
    assert r["mime"] == "image/jpeg" and r["captured_at"] is None


def test_show(env: Env, officer: dict) -> None:
    bundle, _ = ingest_and_read(env, EXAMPLES)
    result = env.run("show", bundle, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["metadata_matches_statement"] is True
    assert {f["path"] for f in doc["files"]} >= {"IMG_20220225_140310.jpg"}
    table = env.run("show", bundle, env={"COLUMNS": "200"})
    assert "2022-02-25T14:03:10+02:00" in table.stdout and "Samsung" in table.stdout
    assert env.run("show", env.tmp).exit_code == 2


# --- against exiftool, on files made by real cameras and by ffmpeg ---------------------

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool absent")


def exiftool(paths: list[Path]) -> dict[str, dict]:
    out = subprocess.run(
        ["exiftool", "-json", "-n", "-api", "QuickTimeUTC=1", *map(str, paths)],
        capture_output=True,
        check=False,
    ).stdout
    return {Path(e["SourceFile"]).name: e for e in json.loads(out or b"[]")}


@needs_exiftool
@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_camera_images_match_exiftool(env: Env, officer: dict, tmp_path: Path) -> None:
    src = tmp_path / "corpus"
    shutil.copytree(SHARED_CORPUS, src)
    _, records = ingest_and_read(env, src)
    files = [p for p in src.rglob("*") if p.is_file() and p.name != "README"]
    reference = exiftool(files)
    compared = 0
    for p in files:
        e, r = reference[p.name], records[p.relative_to(src).as_posix()]
        dto = str(e.get("DateTimeOriginal", ""))
        if dto and not dto.startswith("0000"):
            assert (r["captured_at"] or "")[:19] == dto[:19].replace(":", "-", 2).replace(" ", "T")
            compared += 1
        if "GPSLatitude" in e and "GPSLongitude" in e:
            assert r["gps"]["lat"] == pytest.approx(e["GPSLatitude"], abs=1e-5), p
            assert r["gps"]["lon"] == pytest.approx(e["GPSLongitude"], abs=1e-5), p
            compared += 1
        for ours, theirs in (("make", "Make"), ("model", "Model")):
            if e.get(theirs):
                assert (r["device"] or {}).get(ours) == str(e[theirs]).strip(), p
    assert compared > 20


FFMPEG_CASES = {
    "clip.mov": ["-c:v", "mpeg4", "-c:a", "aac"],
    "clip.mkv": ["-c:v", "mpeg4", "-c:a", "aac"],
    "clip.webm": ["-c:v", "libvpx", "-c:a", "libopus"],
    "clip.avi": ["-c:v", "mpeg4", "-c:a", "mp3"],
    "clip.3gp": ["-c:v", "mpeg4", "-s", "176x144", "-c:a", "aac", "-ar", "8000", "-ac", "1"],
    "voice.m4a": ["-vn", "-c:a", "aac"],
    "voice.mp3": ["-vn", "-c:a", "libmp3lame"],
    "voice.ogg": ["-vn", "-c:a", "libopus"],
    "voice.wav": ["-vn", "-c:a", "pcm_s16le"],
}


def _ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip())


def _seconds(value: object) -> float:
    """exiftool's Duration: seconds, or 'HH:MM:SS.fff' for some containers."""
    text = str(value)
    if ":" in text:
        h, m, s = text.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    return float(text)


@needs_exiftool
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg absent")
def test_video_and_audio_match_exiftool(env: Env, officer: dict, tmp_path: Path) -> None:
    src = tmp_path / "av"
    src.mkdir()
    for name, args in FFMPEG_CASES.items():
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=15:duration=3.4",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=300:duration=3.4",
                *args,
                "-shortest",
                "-metadata",
                "creation_time=2023-05-06T07:08:09Z",
                str(src / name),
            ],
            check=True,
        )
    _, records = ingest_and_read(env, src)
    reference = exiftool(sorted(src.iterdir()))
    for name in FFMPEG_CASES:
        r, e = records[name], reference[name]
        assert r["errors"] == [], (name, r["errors"])
        assert r["extension_mismatch"] is False, (name, r["mime"])
        # exiftool estimates MP3 durations from the bit rate and gives none for Opus;
        # ffprobe decodes the stream.
        if name.endswith((".mp3", ".ogg")) or "Duration" not in e:
            truth = _ffprobe_duration(src / name)
        else:
            truth = _seconds(e["Duration"])
        assert r["duration_s"] == pytest.approx(truth, abs=0.1), name
        if name.endswith((".mov", ".3gp", ".m4a")):
            assert r["captured_at"] == "2023-05-06T07:08:09Z", name
        if not name.startswith("voice"):
            assert (r["width"], r["height"]) == (e["ImageWidth"], e["ImageHeight"]), name
