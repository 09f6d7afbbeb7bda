"""Evidence as phones make it: C2PA Content Credentials, ZIP archives handed
over as they are, chat exports linked to their attachments, app file-name
dates. The C2PA files are the SDKs' own test fixtures (tests/fixtures/c2pa,
from contentauth/c2pa-rs and contentauth/c2pa-python, MIT/Apache-2.0); the
expected states are the ones those projects' tests assert, cited beside each."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from conftest import REPO, TESTS, Env
from custody.metadata import NO_CAPTURE_METADATA, extract_record
from custody.metadata.c2pa import TrustList, read_c2pa
from custody.metadata.filenames import LABEL

FIXTURES = TESTS / "fixtures" / "c2pa"
C2PA_FILES = ("C.jpg", "XCA.jpg", "E-sig-CA.jpg", "cloud.jpg", "no_manifest.jpg", "video1.mp4")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def records_of(bundle: Path) -> dict[str, dict]:
    doc = json.loads((bundle / "custody" / "metadata.json").read_bytes())
    return {r["path"]: r for r in doc["files"]}


def ingest_ok(env: Env, source: Path, *extra: str) -> Path:
    out = env.tmp / f"bundle-{source.name}"
    result = env.run("ingest", source, "--case", "ICC-2026-014", "--out", out, "--json", *extra)
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.stdout)["bundle"])


@pytest.fixture
def c2pa_bundle(env: Env, officer: dict, tmp_path: Path) -> Path:
    src = tmp_path / "signed"
    src.mkdir()
    for name in C2PA_FILES:
        shutil.copy(FIXTURES / name, src / name)
    return ingest_ok(env, src)


# --- C2PA -------------------------------------------------------------------------


def test_c2pa_states_match_the_reference_implementation(c2pa_bundle: Path) -> None:
    r = records_of(c2pa_bundle)
    # c2pa-python tests/test_unit_tests.py test_stream_read_get_validation_state: "Valid"
    # (its test signer is not on the C2PA trust list).
    c = r["C.jpg"]["c2pa"]
    assert c["state"] == "valid"
    assert "signingCredential.untrusted" in c["failures"]
    assert c["title"] == "C.jpg"  # c2pa-python: manifest title == DEFAULT_TEST_FILE_NAME
    assert c["signer"]["issuer"] and c["claim_generator"]
    assert c["actions"][0]["action"] == "c2pa.created"
    assert c["ingredients"] == 0
    # c2pa-rs sdk/src/reader.rs (XCA.jpg): ValidationState::Invalid, ASSERTION_DATAHASH_MISMATCH
    x = r["XCA.jpg"]["c2pa"]
    assert x["state"] == "invalid"
    assert "assertion.dataHash.mismatch" in x["failures"]
    assert x["ingredients"] == 1
    # c2pa-rs sdk/src/ingredient.rs names E-sig-CA.jpg its BAD_SIGNATURE_JPEG.
    assert r["E-sig-CA.jpg"]["c2pa"]["state"] == "invalid"
    # c2pa-python test_reader_get_remote_url: the manifest is remote, at this URL.
    assert r["cloud.jpg"]["c2pa"]["state"] == "remote, not fetched"
    assert r["cloud.jpg"]["c2pa"]["remote_url"] == (
        "https://cai-manifests.adobe.com/manifests/"
        "adobe-urn-uuid-5f37e182-3687-462e-a7fb-573462780391"
    )
    # c2pa-rs names it no_manifest.jpg: no manifest at all is null, never "not checked".
    assert r["no_manifest.jpg"]["c2pa"] is None
    # c2pa-python test_stream_get_non_active_manifest_by_label: video1.mp4 holds two.
    v = r["video1.mp4"]["c2pa"]
    assert v["state"] in ("valid", "trusted") and v["manifests"] == 2
    for name in ("C.jpg", "XCA.jpg", "video1.mp4"):
        assert r[name]["c2pa"]["trust_list"]["date"] == "2026-08-13"
        assert r[name]["c2pa"]["sdk"].startswith("c2pa-python ")


def test_trusted_with_the_reference_test_trust_anchors() -> None:
    # c2pa-python test_stream_read_get_validation_state_with_trust_config: "Trusted"
    settings = json.loads((FIXTURES / "trust_config_test_settings.json").read_text())
    anchors = settings["trust"]["trust_anchors"]
    trust = TrustList(anchors, "", "test", "c2pa-python tests", sha(anchors.encode()), "")
    data = (FIXTURES / "C.jpg").read_bytes()
    result = read_c2pa(io.BytesIO(data), "image/jpeg", len(data), trust)
    assert result.summary is not None and result.summary["state"] == "trusted"


def test_the_shipped_trust_list_is_what_the_record_says() -> None:
    from custody.metadata.c2pa import shipped_trust_list

    trust = shipped_trust_list()
    pem = REPO / "src/custody/metadata/trust/C2PA-TRUST-LIST.pem"
    assert trust.sha256 == sha(pem.read_bytes())
    assert pem.read_text().count("BEGIN CERTIFICATE") >= 10


def test_reports_are_tag_files_covered_by_the_signature(env: Env, c2pa_bundle: Path) -> None:
    r = records_of(c2pa_bundle)
    report = c2pa_bundle / r["XCA.jpg"]["c2pa"]["report"]
    assert report.relative_to(c2pa_bundle).as_posix() == "custody/c2pa/XCA.jpg.json"
    assert sha(report.read_bytes()) == r["XCA.jpg"]["c2pa"]["report_sha256"]
    store = json.loads(report.read_bytes())
    assert store["validation_state"] == "Invalid"
    tagmanifest = (c2pa_bundle / "tagmanifest-sha256.txt").read_text()
    assert f"{sha(report.read_bytes())}  custody/c2pa/XCA.jpg.json" in tagmanifest
    bag_info = (c2pa_bundle / "bag-info.txt").read_text()
    assert "Custody-C2PA-Reports: 4\n" in bag_info  # C, XCA, E-sig-CA, video1
    assert env.run("verify", c2pa_bundle).exit_code == 0


def _rewrite_tagmanifest(bundle: Path, drop: str | None = None) -> None:
    lines = []
    for line in (bundle / "tagmanifest-sha256.txt").read_text().splitlines():
        path = line.split("  ", 1)[1]
        if path == drop:
            continue
        data = (bundle / path).read_bytes()
        lines.append(f"{sha(data)}  {path}")
    (bundle / "tagmanifest-sha256.txt").write_text("\n".join(lines) + "\n")


def test_a_forged_report_fails_verify_even_with_a_matching_tag_manifest(
    env: Env, c2pa_bundle: Path
) -> None:
    report = c2pa_bundle / "custody/c2pa/XCA.jpg.json"
    forged = report.read_bytes().replace(b'"Invalid"', b'"Trusted"')
    assert forged != report.read_bytes()
    report.write_bytes(forged)
    _rewrite_tagmanifest(c2pa_bundle)
    result = env.run("verify", c2pa_bundle, "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert any(p["path"] == "custody/c2pa/XCA.jpg.json" for p in problems)


def test_a_removed_report_fails_verify(env: Env, c2pa_bundle: Path) -> None:
    (c2pa_bundle / "custody/c2pa/C.jpg.json").unlink()
    _rewrite_tagmanifest(c2pa_bundle, drop="custody/c2pa/C.jpg.json")
    result = env.run("verify", c2pa_bundle, "--json")
    assert result.exit_code == 1
    assert "custody/c2pa/C.jpg.json" in result.stdout


def test_all_reports_removed_fails_verify(env: Env, c2pa_bundle: Path) -> None:
    shutil.rmtree(c2pa_bundle / "custody/c2pa")
    lines = [
        li
        for li in (c2pa_bundle / "tagmanifest-sha256.txt").read_text().splitlines()
        if " custody/c2pa/" not in li
    ]
    (c2pa_bundle / "tagmanifest-sha256.txt").write_text("\n".join(lines) + "\n")
    result = env.run("verify", c2pa_bundle)
    assert result.exit_code == 1  # the signed metadata still names them


def test_not_checked_without_the_sdk(tmp_path: Path) -> None:
    # A real interpreter where `import c2pa` fails, as on an install without the extra.
    copy = tmp_path / "C.jpg"
    shutil.copy(FIXTURES / "C.jpg", copy)
    code = (
        "import sys, json; sys.modules['c2pa'] = None\n"
        "from custody.metadata import extract_record\n"
        f"r = extract_record(copy_path=__import__('pathlib').Path({str(copy)!r}),"
        " rel_path='C.jpg', sha256='0'*64, size=1)\n"
        "print(json.dumps(r['c2pa']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {
        "state": "not checked",
        "reason": "c2pa-python is not installed",
    }


def test_show_displays_c2pa_and_recheck_reports_no_change(env: Env, c2pa_bundle: Path) -> None:
    table = env.run("show", c2pa_bundle, env={"COLUMNS": "400"})
    assert table.exit_code == 0
    assert "assertion.dataHash.mismatch" in table.stdout
    assert "remote, not fetched" in table.stdout
    assert "2026-08-13" in table.stderr  # the trust list used, said beside the table
    result = env.run("show", c2pa_bundle, "--recheck", "--json")
    assert result.exit_code == 0, result.output
    recheck = json.loads(result.stdout)["c2pa_recheck"]
    assert recheck["checked"] == 5  # the four with reports and the remote one
    assert recheck["changed"] == 0
    states = {f["path"]: f["state"] for f in recheck["files"]}
    assert states["XCA.jpg"] == "invalid"
    people = env.run("show", c2pa_bundle, "--recheck")
    assert "0 changed" in people.stdout


def test_recheck_reports_a_change_of_trust(c2pa_bundle: Path) -> None:
    from custody.ops.recheck import recheck_c2pa

    settings = json.loads((FIXTURES / "trust_config_test_settings.json").read_text())
    anchors = settings["trust"]["trust_anchors"]
    trust = TrustList(anchors, "", "test", "c2pa-python tests", sha(anchors.encode()), "")
    result = recheck_c2pa(bundle=c2pa_bundle, trust=trust)
    rows = {f["path"]: f for f in result.files}
    assert rows["C.jpg"]["recorded_state"] == "valid"
    assert rows["C.jpg"]["state"] == "trusted" and rows["C.jpg"]["changed"]


def test_recheck_refuses_a_changed_file(c2pa_bundle: Path) -> None:
    from custody.ops.recheck import recheck_c2pa

    path = c2pa_bundle / "data" / "C.jpg"
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"x")
    rows = {f["path"]: f for f in recheck_c2pa(bundle=c2pa_bundle).files}
    assert "differs" in rows["C.jpg"]["error"]


# --- ZIP archives as handed over -----------------------------------------------------

IOS_CHAT = (
    "\u200e[25/02/2022, 13:58:02] Olena K.: \u200eMessages and calls are end-to-end encrypted.\n"
    "[25/02/2022, 14:03:10] Olena K.: \u200e<attached: 00000012-PHOTO-2022-02-25-14-03-10.jpg>\n"
    "[25/02/2022, 14:05:00] Andrii M.: Where was this?\n"
    "second line of the same message\n"
    "[25/02/2022, 14:15:00] Olena K.: \u200e<attached: 00000013-VIDEO-2022-02-25-14-15-00.mp4>\n"
)


def whatsapp_zip(path: Path, with_video: bool = False) -> dict[str, bytes]:
    members = {
        "_chat.txt": IOS_CHAT.encode(),
        "00000012-PHOTO-2022-02-25-14-03-10.jpg": (FIXTURES / "C.jpg").read_bytes(),
    }
    if with_video:
        members["00000013-VIDEO-2022-02-25-14-15-00.mp4"] = (FIXTURES / "video1.mp4").read_bytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return members


def test_a_whatsapp_zip_is_kept_byte_exact_and_its_members_recorded(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    zpath = tmp_path / "WhatsApp Chat - Olena K.zip"
    members = whatsapp_zip(zpath)
    original = zpath.read_bytes()
    bundle = ingest_ok(env, zpath)
    assert (bundle / "data" / zpath.name).read_bytes() == original
    assert sorted(p.name for p in (bundle / "data").iterdir()) == [zpath.name]
    record = records_of(bundle)[zpath.name]
    assert record["mime"] == "application/zip"
    archive = record["details"]["archive"]
    listed = {m["path"]: m for m in archive["members"]}
    assert set(listed) == set(members)
    with zipfile.ZipFile(zpath) as zf:
        for name, data in members.items():
            m = listed[name]
            assert m["sha256"] == sha(data) and m["size"] == len(data)
            assert m["crc32"] == f"{zf.getinfo(name).CRC:08x}"
    photo = listed["00000012-PHOTO-2022-02-25-14-03-10.jpg"]
    assert photo["mime"] == "image/jpeg" and photo["c2pa"]["state"] == "valid"
    report = bundle / photo["c2pa"]["report"]
    assert sha(report.read_bytes()) == photo["c2pa"]["report_sha256"]
    chat = listed["_chat.txt"]["details"]["chat"]
    assert chat["dialect"] == "whatsapp-ios"
    attachments = [a for m in chat["messages"] for a in m["attachments"]]
    assert attachments[0]["sha256"] == sha(members["00000012-PHOTO-2022-02-25-14-03-10.jpg"])
    assert attachments[0]["path"] == f"{zpath.name}/00000012-PHOTO-2022-02-25-14-03-10.jpg"
    assert attachments[1]["status"] == "referenced but not handed over"
    assert attachments[1]["sha256"] is None
    assert env.run("verify", bundle).exit_code == 0
    shown = env.run("show", bundle, "--chat", f"{zpath.name}/_chat.txt")
    assert shown.exit_code == 0, shown.output
    assert sha(members["00000012-PHOTO-2022-02-25-14-03-10.jpg"]) in shown.stdout
    assert "referenced but not handed over" in shown.stdout
    assert "second line of the same message" in shown.stdout


def test_a_zip_found_in_the_folder_is_read_in_place(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src = tmp_path / "usb"
    src.mkdir()
    whatsapp_zip(src / "chat.zip", with_video=True)
    bundle = ingest_ok(env, src)
    record = records_of(bundle)["chat.zip"]
    names = {m["path"] for m in record["details"]["archive"]["members"]}
    assert "00000013-VIDEO-2022-02-25-14-15-00.mp4" in names
    assert sorted(p.name for p in (bundle / "data").iterdir()) == ["chat.zip"]
    chat = next(m for m in record["details"]["archive"]["members"] if m["path"] == "_chat.txt")[
        "details"
    ]["chat"]
    assert all(a["sha256"] for m in chat["messages"] for a in m["attachments"])


def _hostile_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok.txt", b"fine\n")
        zf.writestr("../escape.txt", b"out\n")
        zf.writestr("/etc/absolute.txt", b"abs\n")
        link = zipfile.ZipInfo("link")
        link.external_attr = (0o120777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("ok.txt.dup", b"x")
    data = bytearray(path.read_bytes())
    # Mark the last member encrypted (general-purpose flag bit 0), in both headers.
    name = b"ok.txt.dup"
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = 0
        while (pos := data.find(sig, pos)) >= 0:
            name_at = pos + (30 if sig == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                data[pos + flag_at] |= 1
            pos += 4
    path.write_bytes(bytes(data))


def test_hostile_members_are_recorded_never_followed(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    zpath = tmp_path / "hostile.zip"
    _hostile_zip(zpath)
    before = sorted(p.name for p in tmp_path.iterdir())
    bundle = ingest_ok(env, zpath)
    archive = records_of(bundle)["hostile.zip"]["details"]["archive"]
    assert [m["path"] for m in archive["members"]] == ["ok.txt"]
    reasons = {r["name"]: r["reason"] for r in archive["rejected"]}
    assert reasons["../escape.txt"].startswith("unsafe name")
    assert reasons["/etc/absolute.txt"].startswith("unsafe name")
    assert reasons["link"].startswith("symbolic link")
    assert reasons["ok.txt.dup"].startswith("encrypted")
    assert not (tmp_path / "escape.txt").exists() and not Path("/etc/absolute.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != bundle.name) == before
    assert env.run("verify", bundle).exit_code == 0


def test_a_damaged_zip_is_kept_and_the_damage_recorded(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    zpath = tmp_path / "chat.zip"
    whatsapp_zip(zpath)
    data = bytearray(zpath.read_bytes())
    # Corrupt the deflated bytes of the first member, _chat.txt.
    start = data.find(b"PK\x03\x04") + 30 + len("_chat.txt") + 5
    data[start : start + 8] = b"\xff" * 8
    zpath.write_bytes(bytes(data))
    bundle = ingest_ok(env, zpath)
    assert (bundle / "data/chat.zip").read_bytes() == bytes(data)
    members = {
        m["path"]: m for m in records_of(bundle)["chat.zip"]["details"]["archive"]["members"]
    }
    assert members["_chat.txt"]["errors"]
    assert members["00000012-PHOTO-2022-02-25-14-03-10.jpg"]["sha256"]


# --- Chats, every dialect -------------------------------------------------------------


def _raw(data: bytes, message: dict) -> bytes:
    return data[message["offset"] : message["offset"] + message["length"]]


def _chat_folder(tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    src = tmp_path / name
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    return src


def test_whatsapp_ios_24_hour(env: Env, officer: dict, tmp_path: Path) -> None:
    photo = (FIXTURES / "no_manifest.jpg").read_bytes()
    chat = IOS_CHAT.encode()
    src = _chat_folder(
        tmp_path, "ios", {"_chat.txt": chat, "00000012-PHOTO-2022-02-25-14-03-10.jpg": photo}
    )
    r = records_of(ingest_ok(env, src))["_chat.txt"]["details"]["chat"]
    assert r["dialect"] == "whatsapp-ios" and r["clock"] == "24-hour"
    assert r["time_assumption"].startswith("day/month")
    m = r["messages"]
    assert [x["sender"] for x in m] == ["Olena K.", "Olena K.", "Andrii M.", "Olena K."]
    assert (
        m[1]["time_as_written"] == "25/02/2022, 14:03:10" and m[1]["time"] == "2022-02-25T14:03:10"
    )
    assert (
        _raw(chat, m[2])
        == b"[25/02/2022, 14:05:00] Andrii M.: Where was this?\nsecond line of the same message"
    )
    assert m[1]["attachments"][0]["sha256"] == sha(photo)
    assert m[1]["attachments"][0]["path"] == "00000012-PHOTO-2022-02-25-14-03-10.jpg"
    assert m[3]["attachments"][0]["status"] == "referenced but not handed over"


def test_whatsapp_android_12_hour_with_narrow_space(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    photo = (FIXTURES / "no_manifest.jpg").read_bytes()
    chat = (
        "2/3/22, 9:15\u202fAM - Maria: Hello\n"
        "2/3/22, 9:16\u202fPM - You: IMG-20220302-WA0001.jpg (file attached)\n"
        "2/13/22, 12:01\u202fAM - Maria: <Media omitted>\n"
    ).encode()
    src = _chat_folder(
        tmp_path,
        "android",
        {"WhatsApp Chat with Maria.txt": chat, "IMG-20220302-WA0001.jpg": photo},
    )
    records = records_of(ingest_ok(env, src))
    r = records["WhatsApp Chat with Maria.txt"]["details"]["chat"]
    assert r["dialect"] == "whatsapp-android" and r["clock"] == "12-hour"
    assert r["time_assumption"].startswith("month/day")  # 2/13/22 decides it
    m = r["messages"]
    assert [x["time"] for x in m] == [
        "2022-02-03T09:15:00",
        "2022-02-03T21:16:00",
        "2022-02-13T00:01:00",
    ]
    assert m[1]["time_as_written"] == "2/3/22, 9:16\u202fPM"
    assert m[1]["attachments"][0]["sha256"] == sha(photo)
    assert m[2]["attachments"][0]["status"].startswith("omitted")
    assert _raw(chat, m[0]) == "2/3/22, 9:15\u202fAM - Maria: Hello".encode()
    # The photo's name carries the date WhatsApp saved it, with its label.
    d = records["IMG-20220302-WA0001.jpg"]["details"]["file_name_date"]
    assert d == {"value": "2022-03-02", "app": "WhatsApp", "label": LABEL}


def test_whatsapp_shared_location() -> None:
    from custody.metadata.chats.whatsapp import parse_whatsapp

    line = "[25/02/2022, 14:20:11] Olena K.: location: https://maps.google.com/?q=50.4501,30.5234\n"
    chat = parse_whatsapp(line.encode(), "_chat.txt", frozenset())
    assert chat is not None
    assert chat["messages"][0]["location"] == {"lat": 50.4501, "lon": 30.5234}


def test_whatsapp_ambiguous_dates_say_so(tmp_path: Path) -> None:
    from custody.metadata.chats.whatsapp import parse_whatsapp

    chat = parse_whatsapp(
        b"03/04/2022, 10:00 - A: x\n05/06/2022, 11:00 - B: y\n", "c.txt", frozenset()
    )
    assert chat is not None
    assert chat["time_assumption"].startswith("ambiguous")
    assert chat["messages"][0]["time"] == "2022-04-03T10:00:00"


def test_telegram_result_json(env: Env, officer: dict, tmp_path: Path) -> None:
    photo = (FIXTURES / "no_manifest.jpg").read_bytes()
    doc = {
        "name": "Olena K",
        "type": "personal_chat",
        "id": 1,
        "messages": [
            {
                "id": 1,
                "type": "message",
                "date": "2022-02-25T16:15:00",
                "date_unixtime": "1645798500",
                "from": "Olena K",
                "from_id": "user1",
                "text": "Привіт",
                "text_entities": [],
            },
            {
                "id": 2,
                "type": "message",
                "date": "2022-02-25T16:16:00",
                "date_unixtime": "1645798560",
                "from": "Olena K",
                "photo": "photos/photo_1@25-02-2022_16-16-00.jpg",
                "text": "",
            },
            {
                "id": 3,
                "type": "message",
                "date": "2022-02-25T16:17:00",
                "date_unixtime": "1645798620",
                "from": "Andrii",
                "file": "(File not included. Change data exporting settings to download.)",
                "file_name": "VID_2022.mp4",
                "media_type": "video_file",
                "text": "",
            },
            {
                "id": 4,
                "type": "message",
                "date": "2022-02-25T16:18:00",
                "date_unixtime": "1645798680",
                "from": "Olena K",
                "location_information": {"latitude": 50.4501, "longitude": 30.5234},
                "text": "",
            },
        ],
    }
    data = json.dumps(doc, ensure_ascii=False, indent=1).encode()
    src = _chat_folder(
        tmp_path,
        "tg",
        {
            "ChatExport_2022-02-26/result.json": data,
            "ChatExport_2022-02-26/photos/photo_1@25-02-2022_16-16-00.jpg": photo,
        },
    )
    r = records_of(ingest_ok(env, src))["ChatExport_2022-02-26/result.json"]["details"]["chat"]
    m = r["messages"]
    assert r["dialect"] == "telegram-json"
    assert (
        m[0]["time"] == "2022-02-25T14:15:00Z" and m[0]["time_as_written"] == "2022-02-25T16:15:00"
    )
    assert json.loads(_raw(data, m[0]))["text"] == "Привіт"
    assert json.loads(_raw(data, m[3]))["id"] == 4
    assert m[1]["attachments"][0]["sha256"] == sha(photo)
    assert m[2]["attachments"][0]["status"].startswith("not included")
    assert m[3]["location"] == {"lat": 50.4501, "lon": 30.5234}


def _tg_message(ident: str, hhmm: str, sender: str | None, inner: str, joined: bool = False) -> str:
    """One message of a Telegram Desktop messages.html, as the exporter writes it."""
    name = f'<div class="from_name">{sender}</div>' if sender else ""
    return (
        f'<div class="message default clearfix{" joined" if joined else ""}" id="{ident}">\n'
        f'<div class="body"><div class="pull_right date details" '
        f'title="25.02.2022 {hhmm}:00 UTC+02:00">{hhmm}</div>\n{name}{inner}</div></div>\n'
    )


def test_telegram_messages_html(env: Env, officer: dict, tmp_path: Path) -> None:
    photo = (FIXTURES / "no_manifest.jpg").read_bytes()
    photo_href = "photos/photo_1@25-02-2022_16-16-00.jpg"
    maps = "https://maps.google.com/maps?q=50.4501,30.5234&ll=50.4501,30.5234&z=16"
    not_included = "Not included, change data exporting settings to download."
    page = "".join(
        [
            '<!DOCTYPE html><html><body><div class="history">\n',
            '<div class="message service" id="message-1">',
            '<div class="body details">25 February 2022</div></div>\n',
            _tg_message("message1", "16:15", "Olena K", '<div class="text">Привіт</div>'),
            _tg_message(
                "message2",
                "16:16",
                None,
                f'<div class="media_wrap clearfix"><a class="photo_wrap clearfix pull_left" '
                f'href="{photo_href}"><img class="photo" src="{photo_href}_thumb.jpg"/></a></div>',
                joined=True,
            ),
            _tg_message(
                "message3",
                "16:17",
                "Andrii",
                '<div class="media_wrap clearfix"><div class="media clearfix pull_left '
                'media_video"><div class="body"><div class="title bold">Video file</div>'
                f'<div class="description">{not_included}</div></div></div></div>',
            ),
            _tg_message(
                "message4",
                "16:18",
                "Olena K",
                '<div class="media_wrap clearfix"><a class="media clearfix pull_left '
                f'block_link media_location" href="{maps}"></a></div>',
            ),
            "</div></body></html>\n",
        ]
    ).encode()
    src = _chat_folder(
        tmp_path,
        "tghtml",
        {
            "ChatExport/messages.html": page,
            "ChatExport/photos/photo_1@25-02-2022_16-16-00.jpg": photo,
        },
    )
    bundle = ingest_ok(env, src)
    r = records_of(bundle)["ChatExport/messages.html"]["details"]
    shown = env.run("show", bundle, "--chat", "ChatExport/messages.html")
    assert shown.exit_code == 0, shown.output
    assert "[25.02.2022 16:16:00 UTC+02:00] Olena K" in shown.stdout
    assert sha(photo) in shown.stdout and "location 50.4501, 30.5234" in shown.stdout
    assert "attachment None" not in shown.stdout
    assert "    attachment (no file name in the export): not included in the export" in shown.stdout
    m = r["chat"]["messages"]
    assert r["chat"]["dialect"] == "telegram-html"
    real = [x for x in m if x["type"] == "message"]
    assert [x["sender"] for x in real] == ["Olena K", "Olena K", "Andrii", "Olena K"]
    assert real[0]["time"] == "2022-02-25T16:15:00+02:00"
    assert real[0]["time_as_written"] == "25.02.2022 16:15:00 UTC+02:00"
    assert real[1]["attachments"][0]["sha256"] == sha(photo)
    assert real[2]["attachments"][0]["status"].startswith("not included")
    assert real[3]["location"] == {"lat": 50.4501, "lon": 30.5234}
    assert _raw(page, real[0]).startswith(b'<div class="message default clearfix" id="message1">')


def test_signal_export(env: Env, officer: dict, tmp_path: Path) -> None:
    photo = (FIXTURES / "no_manifest.jpg").read_bytes()
    chat = (
        b"[2022-02-25 14:15:00] Olena K: Are you safe?\n"
        b"[2022-02-25 14:16:00] Me: "
        b"![signal-2022-02-25-141600.jpg](./media/signal-2022-02-25-141600.jpg)  \n"
        b"[2022-02-25 14:17:00] Olena K: [voice.m4a](./media/voice.m4a)  \n"
    )
    src = _chat_folder(
        tmp_path,
        "signal",
        {"Olena K/chat.md": chat, "Olena K/media/signal-2022-02-25-141600.jpg": photo},
    )
    records = records_of(ingest_ok(env, src))
    r = records["Olena K/chat.md"]["details"]
    assert r["family"] == "signal" and r["chat"]["dialect"] == "signal-export"
    m = r["chat"]["messages"]
    assert [x["sender"] for x in m] == ["Olena K", "Me", "Olena K"]
    assert m[1]["attachments"][0]["path"] == "Olena K/media/signal-2022-02-25-141600.jpg"
    assert m[1]["attachments"][0]["sha256"] == sha(photo)
    assert m[2]["attachments"][0]["status"] == "referenced but not handed over"
    assert _raw(chat, m[0]) == b"[2022-02-25 14:15:00] Olena K: Are you safe?"
    name_date = records["Olena K/media/signal-2022-02-25-141600.jpg"]["details"]["file_name_date"]
    assert name_date["value"] == "2022-02-25T14:16:00" and name_date["label"] == LABEL


# --- File names, missing capture metadata ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "app"),
    [
        ("IMG-20220225-WA0001.jpg", "2022-02-25", "WhatsApp"),
        ("VID-20220225-WA0003.mp4", "2022-02-25", "WhatsApp"),
        ("PXL_20250901_101112345.jpg", "2025-09-01T10:11:12.345", "Pixel camera"),
        ("signal-2022-02-25-141500.jpg", "2022-02-25T14:15:00", "Signal"),
        ("photo_2022-02-25_14-15-00.jpg", "2022-02-25T14:15:00", "Telegram"),
    ],
)
def test_dates_in_app_file_names(name: str, value: str, app: str) -> None:
    from custody.metadata.filenames import date_from_name

    assert date_from_name(name) == {"value": value, "app": app, "label": LABEL}


def test_impossible_file_name_dates_are_not_recorded() -> None:
    from custody.metadata.filenames import date_from_name

    assert date_from_name("IMG-20221345-WA0001.jpg") is None
    assert date_from_name("holiday.jpg") is None


def test_a_stripped_photo_says_it_has_no_capture_metadata(tmp_path: Path) -> None:
    path = tmp_path / "IMG-20220225-WA0001.jpg"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(path, "JPEG")
    record = extract_record(copy_path=path, rel_path=path.name, sha256="0" * 64, size=1)
    assert record["details"]["capture_metadata"] == NO_CAPTURE_METADATA
    assert record["details"]["file_name_date"]["label"] == LABEL


def test_a_photo_with_exif_has_no_such_note(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Google"
    exif[0x0110] = "Pixel 9"
    Image.new("RGB", (64, 48)).save(path, "JPEG", exif=exif.tobytes())
    record = extract_record(copy_path=path, rel_path=path.name, sha256="0" * 64, size=1)
    assert record["device"]["make"] == "Google"
    assert "capture_metadata" not in record["details"]


# --- What phones write: WebP EXIF, QuickTime keys (against exiftool) --------------------

needs_tools = pytest.mark.skipif(
    shutil.which("exiftool") is None or shutil.which("ffmpeg") is None,
    reason="exiftool and ffmpeg are installed by .ci/run",
)


def exiftool(path: Path, *tags: str) -> dict:
    out = subprocess.run(
        ["exiftool", "-j", "-n", *[f"-{t}" for t in tags], str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout)[0])


@needs_tools
def test_exif_inside_webp_matches_exiftool(tmp_path: Path) -> None:
    path = tmp_path / "Screenshot_20250901-101112.webp"
    exif = Image.Exif()
    exif[0x010F] = "samsung"
    exif[0x0110] = "SM-S928B"
    exif[0x0131] = "S928BXXU1AXB5"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2025:09:01 10:11:12"
    sub[0x9011] = "+03:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (50.0, 27.0, 0.36), 3: "E", 4: (30.0, 31.0, 24.24)})
    Image.new("RGB", (40, 30), (1, 2, 3)).save(path, "WEBP", exif=exif.tobytes())
    ref = exiftool(
        path, "Make", "Model", "Software", "DateTimeOriginal", "GPSLatitude", "GPSLongitude"
    )
    r = extract_record(copy_path=path, rel_path=path.name, sha256="0" * 64, size=1)
    assert r["mime"] == "image/webp"
    assert r["device"] == {"make": ref["Make"], "model": ref["Model"], "software": ref["Software"]}
    assert (
        r["captured_at"]
        == ref["DateTimeOriginal"].replace(":", "-", 2).replace(" ", "T") + "+03:00"
    )
    assert r["gps"]["lat"] == pytest.approx(ref["GPSLatitude"], abs=1e-6)
    assert r["gps"]["lon"] == pytest.approx(ref["GPSLongitude"], abs=1e-6)


@needs_tools
def test_quicktime_make_model_software_match_exiftool(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0042.MOV"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=64x48:d=0.2",
            "-c:v", "mpeg4", "-movflags", "use_metadata_tags",
            "-metadata", "com.apple.quicktime.make=Apple",
            "-metadata", "com.apple.quicktime.model=iPhone 15 Pro",
            "-metadata", "com.apple.quicktime.software=17.4.1",
            "-metadata", "com.apple.quicktime.location.ISO6709=+50.4501+030.5234+150.000/",
            str(path),
        ],
        check=True,
    )  # fmt: skip
    ref = exiftool(path, "Make", "Model", "Software", "GPSLatitude", "GPSLongitude")
    r = extract_record(
        copy_path=path, rel_path=path.name, sha256="0" * 64, size=path.stat().st_size
    )
    assert r["mime"] == "video/quicktime"
    assert r["device"] == {
        "make": ref["Make"],
        "model": ref["Model"],
        "software": str(ref["Software"]),
    }
    assert r["gps"]["lat"] == pytest.approx(ref["GPSLatitude"], abs=1e-6)
    assert r["details"]["quicktime"]["com.apple.quicktime.model"] == "iPhone 15 Pro"


def test_expand_writes_working_copies_linked_to_their_member(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    zpath = tmp_path / "chat.zip"
    members = whatsapp_zip(zpath)
    _hostile_zip(tmp_path / "hostile.zip")
    src = tmp_path / "handed-over"
    src.mkdir()
    shutil.copy(zpath, src / "chat.zip")
    shutil.copy(tmp_path / "hostile.zip", src / "hostile.zip")
    bundle = ingest_ok(env, src, "--expand")
    assert (bundle / "data/chat.zip").read_bytes() == zpath.read_bytes()
    records = records_of(bundle)
    for name, data in members.items():
        rel = f"chat.zip.expanded/{name}"
        assert (bundle / "data" / rel).read_bytes() == data
        assert records[rel]["sha256"] == sha(data)
        assert records[rel]["details"]["expanded_from"] == {
            "archive": "chat.zip",
            "member": name,
            "member_sha256": sha(data),
        }
    # Only the member the archive reader accepts is written; nothing escapes data/.
    written = sorted(
        p.relative_to(bundle / "data").as_posix()
        for p in (bundle / "data").rglob("*")
        if p.is_file()
    )
    assert "hostile.zip.expanded/ok.txt" in written
    assert not any("escape" in w or "absolute" in w or w.endswith("link") for w in written)
    assert not (tmp_path / "escape.txt").exists()
    # The working copy of the photo carries its C2PA like the member does.
    photo = records["chat.zip.expanded/00000012-PHOTO-2022-02-25-14-03-10.jpg"]
    assert photo["c2pa"]["state"] == "valid"
    assert env.run("verify", bundle).exit_code == 0


def test_records_and_show_output_match_their_schemas(
    env: Env, officer: dict, c2pa_bundle: Path, tmp_path: Path
) -> None:
    from jsonschema import Draft202012Validator

    schemas = REPO / "docs" / "schemas"
    record_schema = json.loads((schemas / "metadata-record.schema.json").read_text())
    show_schema = json.loads((schemas / "show.schema.json").read_text())
    zpath = tmp_path / "chat.zip"
    whatsapp_zip(zpath, with_video=True)
    zip_bundle = ingest_ok(env, zpath)
    for bundle in (c2pa_bundle, zip_bundle):
        for record in records_of(bundle).values():
            Draft202012Validator(record_schema).validate(record)
            for member in record["details"].get("archive", {}).get("members", []):
                # A member's record is a file's record plus what the archive says of it.
                extra = ("compressed_size", "crc32", "compression", "modified")
                assert all(k in member for k in extra)
                plain = {k: v for k, v in member.items() if k not in extra}
                Draft202012Validator(record_schema).validate(plain)
        result = env.run("show", bundle, "--json")
        Draft202012Validator(show_schema).validate(json.loads(result.stdout))


def test_no_metadata_records_c2pa_as_not_checked(env: Env, officer: dict, tmp_path: Path) -> None:
    src = tmp_path / "quick"
    src.mkdir()
    shutil.copy(FIXTURES / "C.jpg", src / "C.jpg")
    (src / "notes.txt").write_text("plain\n")
    bundle = ingest_ok(env, src, "--no-metadata")
    r = records_of(bundle)
    assert r["C.jpg"]["c2pa"]["state"] == "not checked"
    assert r["notes.txt"]["c2pa"] is None
    assert not (bundle / "custody" / "c2pa").exists()
    assert "Custody-C2PA-Reports" not in (bundle / "bag-info.txt").read_text()


def test_show_chat_of_a_file_that_is_no_chat_is_one_line(env: Env, c2pa_bundle: Path) -> None:
    for path in ("C.jpg", "nothing-here.txt"):
        result = env.run("show", c2pa_bundle, "--chat", path)
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_a_zipped_bundle_verifies_and_rechecks(env: Env, c2pa_bundle: Path, tmp_path: Path) -> None:
    archive = shutil.make_archive(
        str(tmp_path / "sealed"), "zip", c2pa_bundle.parent, c2pa_bundle.name
    )
    assert env.run("verify", archive).exit_code == 0
    result = env.run("show", archive, "--recheck", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["c2pa_recheck"]["changed"] == 0


def test_damaged_manifests_are_invalid_never_a_crash() -> None:
    # Flipped bytes in the manifest store and truncations of signed files: the SDK
    # either reports a validation state or refuses the store; custody records both.
    data = (FIXTURES / "C.jpg").read_bytes()
    app11 = data.find(b"\xff\xeb")  # the JUMBF segment that holds the manifest
    assert app11 > 0
    seen = set()
    for i in range(40):
        damaged = bytearray(data)
        damaged[app11 + 40 + i * 97] ^= 0x5A
        result = read_c2pa(io.BytesIO(bytes(damaged)), "image/jpeg", len(damaged))
        assert result.summary is not None
        seen.add(result.summary["state"])
        assert result.summary["state"] in ("invalid", "valid")
        if result.summary["state"] == "valid":  # a flip the SDK does not cover
            continue
        assert result.summary["failures"] or result.summary["error"]
    assert "invalid" in seen
    for cut in (app11 + 10, app11 + 2000, len(data) // 2):
        result = read_c2pa(io.BytesIO(data[:cut]), "image/jpeg", cut)
        assert result.summary is None or result.summary["state"] in ("invalid", "not checked")


def test_a_zip_bomb_member_is_recorded_not_read(env: Env, officer: dict, tmp_path: Path) -> None:
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", b"hello\n")
        zf.writestr("zeros.bin", bytes(4096))
    # Its central directory now claims 300 MiB from a few bytes, as a bomb's does.
    data = bytearray(zpath.read_bytes())
    cd = data.find(b"PK\x01\x02")
    while data[cd + 46 : cd + 46 + 9] != b"zeros.bin":
        cd = data.find(b"PK\x01\x02", cd + 4)
    data[cd + 24 : cd + 28] = (300 * 1024 * 1024).to_bytes(4, "little")
    zpath.write_bytes(bytes(data))
    bundle = ingest_ok(env, zpath)
    archive = records_of(bundle)["bomb.zip"]["details"]["archive"]
    assert [m["path"] for m in archive["members"]] == ["readme.txt"]
    assert "zip bomb" in archive["rejected"][0]["reason"]
    assert archive["rejected"][0]["size"] == 300 * 1024 * 1024


def test_nested_archives_stop_at_two_levels(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep.txt", b"deep\n")
    level = inner.getvalue()
    for name in ("level2.zip", "level1.zip"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(name.replace("level", "inner"), level)
        level = buf.getvalue()
    path = tmp_path / "outer.zip"
    path.write_bytes(level)
    record = extract_record(copy_path=path, rel_path="outer.zip", sha256="0" * 64, size=len(level))
    first = record["details"]["archive"]["members"][0]
    assert first["path"] == "inner1.zip"
    second = first["details"]["archive"]["members"][0]
    assert second["path"] == "inner2.zip" and second["sha256"]
    assert "archive" not in second["details"]
    assert "nested 2 deep" in second["errors"][0]
