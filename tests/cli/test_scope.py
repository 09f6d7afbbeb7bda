"""The scope record: `custody select`, `show --scope`, `verify --scope --used`,
on a bundle of loose files, a chat export zip and a phone extraction."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import EXAMPLES, Env, validate
from extraction_tools import Item, jpeg_with_exif, make_ufdr

WHERE = 'captured >= 2022-02-24 and (type = image or type = video or chat ~ "Olena K*")'


@pytest.fixture
def case(env: Env, ingest, tmp_path: Path) -> dict:
    source = tmp_path / "phone"
    source.mkdir()
    shutil.copy(EXAMPLES / "IMG_20220225_140955.jpg", source)
    (source / "before.jpg").write_bytes(jpeg_with_exif("2021:12:31 23:00:00"))
    chat = EXAMPLES / "WhatsApp Chat - Olena K"
    with zipfile.ZipFile(source / "WhatsApp Chat - Olena K.zip", "w") as zf:
        for p in sorted(chat.iterdir()):
            zf.write(p, p.name)
    make_ufdr(
        source / "W1.ufdr",
        [
            Item("/private/var/mobile/Media/DCIM/IMG_1.JPG", jpeg_with_exif(), "Image"),
            Item(
                "/private/var/mobile/Media/DCIM/IMG_0.JPG",
                jpeg_with_exif("2020:01:01 00:00:00", seed=2),
                "Image",
            ),
            Item("/private/var/mobile/notes.txt", b"notes\n", "Text"),
        ],
    )
    result, data = ingest(source, "--out", str(tmp_path / "bundle"))
    assert result.exit_code == 0, result.output
    notice = tmp_path / "notice.pdf"
    notice.write_bytes(b"%PDF-1.4 s.37 notice to W1\n")
    return {"bundle": Path(data["bundle"]), "notice": notice, "tmp": tmp_path}


def select(env: Env, case: dict, where: str = WHERE, *extra: str):
    return env.run(
        "select",
        case["bundle"],
        "--where",
        where,
        "--notice",
        case["notice"],
        "--reason",
        "Images and the chat with O.K. after 24 Feb 2022",
        "--out",
        case["tmp"] / "scope",
        *extra,
    )


def selected(record: Path) -> list[list[str]]:
    return [json.loads(line) for line in (record / "selected.jsonl").read_text().splitlines()]


def test_select_writes_a_signed_recorded_scope(env, case):
    result = select(env, case, WHERE, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    validate("select", out)
    record = case["tmp"] / "scope"
    items = selected(record)
    assert ["data/IMG_20220225_140955.jpg", ""] in items
    assert ["data/W1.ufdr", "files/Image/IMG_1.JPG"] in items
    assert ["data/WhatsApp Chat - Olena K.zip", "_chat.txt"] in items
    assert ["data/before.jpg", ""] not in items
    assert ["data/W1.ufdr", "files/Image/IMG_0.JPG"] not in items
    assert ["data/W1.ufdr", "files/Text/notes.txt"] not in items
    assert out["selected"] == len(items) and out["considered"] > len(items)
    scope = json.loads((record / "scope.json").read_bytes())
    assert scope["where"] == WHERE
    assert scope["notice"]["name"] == "notice.pdf"
    assert (record / "notice.pdf").read_bytes() == case["notice"].read_bytes()
    # The signature is checkable with openssl-style tools: raw Ed25519 over scope.json.
    from custody.base.keys import parse_public_key_file

    key = parse_public_key_file((record / "signer.pub").read_bytes())
    key.public_key.verify((record / "scope.sig").read_bytes(), (record / "scope.json").read_bytes())
    entries = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    last = entries[-1]
    assert last["action"] == "select" and last["bundle_id"] == scope["bundle"]["bundle_id"]
    assert last["detail"] == f"scope {out['scope_id'][:8]}: {len(items)} items selected"


def test_verify_scope_and_used_items(env, case):
    assert select(env, case).exit_code == 0
    record = case["tmp"] / "scope"
    result = env.run("verify", case["bundle"], "--scope", record, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["scope"]["valid"] is True and report["scope"]["outside"] == []
    validate("verify-scope", report["scope"])
    used = case["tmp"] / "used.txt"
    used.write_text(
        '["data/W1.ufdr","files/Image/IMG_1.JPG"]\n# a comment\ndata/IMG_20220225_140955.jpg\n'
    )
    assert env.run("verify", case["bundle"], "--scope", record, "--used", used).exit_code == 0
    used.write_text('data/before.jpg\n["data/W1.ufdr","files/Text/notes.txt"]\n')
    result = env.run("verify", case["bundle"], "--scope", record, "--used", used)
    assert result.exit_code == 1
    assert "OUTSIDE SCOPE: 2 of 2 item(s) used" in result.output
    assert "data/W1.ufdr :: files/Text/notes.txt" in result.output


@pytest.mark.parametrize(
    "damage, problem",
    [
        ("selected", "selected.jsonl differs from the list scope.json signed"),
        ("notice", "the notice differs from the one scope.json names"),
        ("scope", "scope.sig is not a valid signature over scope.json"),
        ("sig", "scope.sig is not a valid signature over scope.json"),
    ],
)
def test_damaged_scope_record_is_not_valid(env, case, damage, problem):
    assert select(env, case).exit_code == 0
    record = case["tmp"] / "scope"
    if damage == "selected":
        lines = (record / "selected.jsonl").read_text().splitlines()
        (record / "selected.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    elif damage == "notice":
        (record / "notice.pdf").write_bytes(b"%PDF-1.4 another notice\n")
    elif damage == "scope":
        scope = json.loads((record / "scope.json").read_bytes())
        scope["reason"] = "Everything"
        import rfc8785

        (record / "scope.json").write_bytes(rfc8785.dumps(scope))
    else:
        sig = bytearray((record / "scope.sig").read_bytes())
        sig[0] ^= 1
        (record / "scope.sig").write_bytes(bytes(sig))
    result = env.run("verify", case["bundle"], "--scope", record)
    assert result.exit_code == 1
    assert "SCOPE NOT VALID" in result.output and problem in result.output


def test_a_list_that_is_not_the_filter_result_is_not_valid(env, case):
    """A record re-signed by its officer over a list the filter does not give."""
    assert select(env, case, "type = image").exit_code == 0
    record = case["tmp"] / "scope"
    scope = json.loads((record / "scope.json").read_bytes())
    lines = (record / "selected.jsonl").read_bytes().splitlines(keepends=True)
    extra = b'["data/W1.ufdr","files/Text/notes.txt"]\n'
    from custody.scope.record import scope_bytes, summarise_lines

    data = b"".join(lines) + extra
    (record / "selected.jsonl").write_bytes(data)
    scope["selected"] = summarise_lines(data)
    signed = scope_bytes(scope)
    (record / "scope.json").write_bytes(signed)
    from custody.base.keys import find_key, load_private_key

    pair = find_key(home=env.home, selector=None)
    key = load_private_key(pair, b"correct horse battery staple")
    (record / "scope.sig").write_bytes(key.sign(signed))
    result = env.run("verify", case["bundle"], "--scope", record)
    assert result.exit_code == 1
    assert "the filter does not select the listed items in this bundle" in result.output


def test_untrusted_signer_and_other_bundle(env, case, tmp_path):
    assert select(env, case).exit_code == 0
    record = case["tmp"] / "scope"
    result = env.run("verify", case["bundle"], "--scope", record, "--no-trust-store")
    assert result.exit_code == 1
    assert "signed by a key you do not trust" in result.output


def test_show_scope_limits_output(env, case):
    assert select(env, case, 'chat ~ "Olena*" or path = data/before.jpg').exit_code == 0
    result = env.run("show", case["bundle"], "--scope", case["tmp"] / "scope", "--json")
    assert result.exit_code == 0, result.output
    paths = [f["path"] for f in json.loads(result.stdout)["files"]]
    assert paths == ["WhatsApp Chat - Olena K.zip", "before.jpg"]
    chat = next(f for f in json.loads(result.stdout)["files"] if f["path"].endswith(".zip"))
    assert [m["path"] for m in chat["details"]["archive"]["members"]] == ["_chat.txt"]


@pytest.mark.parametrize(
    "where, message",
    [
        ("captured >= ", "--where: column 13: expected a value after '>='"),
        ("type = car", "--where: column 8: unknown type 'car'"),
        ("(type = image", "--where: column 14: expected ')' to close the '(' at column 1"),
        ("colour = red", "--where: column 1: unknown field 'colour'"),
        ("size ~ 10", "--where: column 6: 'size' takes = != < <= > >=, not '~'"),
        ("captured > 2022-02-30", "--where: column 12: '2022-02-30' is not a real date"),
    ],
)
def test_bad_filter_is_one_line_with_its_column(env, case, where, message):
    result = select(env, case, where)
    assert result.exit_code == 2
    assert message in result.output
    assert not (case["tmp"] / "scope").exists()


def test_select_refuses_missing_notice_and_existing_out(env, case):
    case_missing = {**case, "notice": case["tmp"] / "nope.pdf"}
    result = select(env, case_missing)
    assert result.exit_code == 2 and "the notice must be a regular file" in result.output
    (case["tmp"] / "scope").mkdir()
    result = select(env, case)
    assert result.exit_code == 2 and "already exists; nothing was replaced" in result.output
    assert list((case["tmp"] / "scope").iterdir()) == []


def scope_recipe() -> str:
    import re

    from conftest import REPO

    text = (REPO / "docs" / "extraction.md").read_text("utf-8")
    m = re.search(r"<!-- scope-recipe.*?-->\n```sh\n(.*?)```", text, re.S)
    assert m, "docs/extraction.md lost its scope recipe"
    return m.group(1)


def run_scope_recipe(record: Path):
    import os
    import subprocess

    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + scope_recipe()],
        env={**os.environ, "RECORD": str(record), "LC_ALL": "C.UTF-8"},
        capture_output=True,
        text=True,
    )


def test_scope_record_checks_by_hand(env, case):
    assert select(env, case).exit_code == 0
    record = case["tmp"] / "scope"
    done = run_scope_recipe(record)
    assert done.returncode == 0, done.stdout + done.stderr
    (record / "selected.jsonl").write_bytes(b"")
    assert run_scope_recipe(record).returncode != 0
