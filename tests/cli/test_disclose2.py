"""custody disclose, second round: several grounds in one run, disclosure
packages verified as packages among bundles (verify P1 P2 ..., --from), and
stripped copies written streaming. Real bundles, keys and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_disclose import (  # noqa: F401 - fixtures
    BASIS,
    CHAT,
    PHOTO,
    WITHHELD,
    bundle,
    disclose,
    source,
)

from conftest import Env, validate
from custody.disclosure.request import BASIS as B
from custody.disclosure.request import assign_bases

OTHER = "81(2): national security"


def test_each_withhold_takes_the_basis_after_it(env: Env, bundle: Path) -> None:  # noqa: F811
    out, made = disclose(
        env,
        bundle,
        "bases",
        "--basis",
        "default ground",
        "--withhold",
        WITHHELD,
        "--basis",
        BASIS,
        "--withhold",
        "map.png",
        "--withhold",
        PHOTO,
        "--basis",
        OTHER,
        "--redact-messages",
        f"{CHAT}:1",
    )
    assert made["disclosure"]["withheld_by_basis"] == {BASIS: 1, OTHER: 2}
    record = json.loads((out / "custody/disclosure/record.json").read_text())
    assert sorted(w["basis"] for w in record["withheld"]) == sorted([BASIS, OTHER])
    redacted = [i for i in record["items"] if i["treatment"] == "redacted"]
    assert redacted[0]["basis"] == "default ground"
    result = env.run("verify", out, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report["problems"]
    assert report["disclosure"]["withheld_by_basis"] == {BASIS: 1, OTHER: 2}
    assert f"2 withheld under {OTHER}, 1 withheld under {BASIS}" in report["summary"]


def test_a_withhold_without_its_basis_is_refused(env: Env, bundle: Path) -> None:  # noqa: F811
    result = env.run(
        "disclose",
        bundle,
        "-o",
        env.tmp / "x",
        "--to",
        "Defence",
        "--withhold",
        WITHHELD,
        "--basis",
        BASIS,
        "--withhold",
        "map.png",
        "--basis",
        OTHER,
        "--withhold",
        PHOTO,
    )
    assert result.exit_code == 2
    assert "no --basis after it" in result.output and "Traceback" not in result.output
    assert not (env.tmp / "x").exists()


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("w:a", ""), (B, "X")], ("X", {})),
        ([(B, "X"), ("w:a", "")], ("X", {})),
        ([("w:a", ""), (B, "X"), ("w:b", ""), (B, "Y")], (None, {"w:a": "X", "w:b": "Y"})),
        ([(B, "D"), ("w:a", ""), (B, "X"), ("w:b", "")], ("D", {"w:a": "X", "w:b": "D"})),
    ],
)
def test_assign_bases(events: list, expected: tuple) -> None:
    assert assign_bases(events) == expected


def test_packages_among_bundles_are_verified_as_packages(
    env: Env,
    bundle: Path,  # noqa: F811
) -> None:
    out, _ = disclose(env, bundle, "pkg", "--withhold", WITHHELD, "--basis", BASIS, "--zip")
    broken, _ = disclose(env, bundle, "broken", "--withhold", WITHHELD, "--basis", BASIS)
    (broken / f"data/{PHOTO}").write_bytes(b"changed")
    listing = env.tmp / "list.txt"
    listing.write_text(f"{bundle}\n{out}\n{out.with_name('pkg.zip')}\n{broken}\n")
    result = env.run("verify", "--from", listing, "--json")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 1
    for line in lines:
        validate("verify-many-line", line)
    kinds = [x.get("kind") for x in lines[:4]]
    assert kinds == ["bundle", "disclosure", "disclosure", "disclosure"]
    assert [x["verified"] for x in lines[:4]] == [True, True, True, False]
    assert lines[1]["disclosure"]["withheld_by_basis"] == {BASIS: 1}
    assert "changed" in {p["kind"] for p in lines[3]["problems"]}
    assert lines[4]["summary"]["verified"] == 3
    text = env.run("verify", bundle, out, broken)
    assert text.exit_code == 1
    assert "(disclosure package: 8 committed:" in text.stdout
    assert "NOT VERIFIED  " in text.stdout and "(disclosure package): changed" in text.stdout


# --- chat exports inside ZIP archives ----------------------------------------------

ZIP = "WhatsApp Chat - Olena K.zip"
ZCHAT = f"{ZIP}/_chat.txt"
ZPHOTO = f"{ZIP}/00000012-PHOTO-2022-02-25-14-03-10.jpg"


@pytest.fixture
def zipped(env: Env, officer: dict, tmp_path: Path) -> Path:
    """A bundle holding a WhatsApp export as it is handed over: one ZIP."""
    import zipfile

    from conftest import EXAMPLES

    src = tmp_path / "zipped"
    src.mkdir()
    folder = EXAMPLES / "WhatsApp Chat - Olena K"
    with zipfile.ZipFile(src / ZIP, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    (src / "notes.txt").write_bytes(b"Investigator's notes, nothing protected\n")
    result = env.run("ingest", src, "--case", "ICC-2026-014", "--out", env.tmp / "zb", "--json")
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.stdout)["bundle"])


def zip_package(env: Env, zb: Path, name: str = "zpkg") -> tuple[Path, dict]:
    return disclose(
        env,
        zb,
        name,
        "--withhold",
        ZPHOTO,
        "--basis",
        BASIS,
        "--redact-messages",
        f"{ZCHAT}:2-3",
        "--basis",
        OTHER,
        "--zip",
    )


def test_members_leaves_are_committed(zipped: Path) -> None:
    lines = [
        json.loads(x) for x in (zipped / "custody/commitments.jsonl").read_bytes().splitlines()
    ]
    members = [x for x in lines if x["kind"] == "members"]
    assert len(members) == 1 and members[0]["count"] == 2
    first = members[0]["first"]
    paths = [lines[first + n]["path"] for n in range(2)]
    assert paths == [f"data/{ZPHOTO}", f"data/{ZCHAT}"]
    layouts = [x for x in lines if x["kind"] == "layout"]
    assert {x["format"] for x in layouts} == {"jpeg", "chat"}
    details = next(x for x in lines if x["kind"] == "field" and x["name"] == "details")
    assert "members" not in details["value"]["archive"]  # each member's metadata is its own


def test_zip_members_withheld_and_redacted(env: Env, zipped: Path) -> None:
    out, made = zip_package(env, zipped)
    archive = made["disclosure"]["archives"][0]
    assert (archive["members"], archive["redacted"], archive["withheld"]) == (2, 1, 1)
    assert archive["withheld_by_basis"] == {BASIS: 1}
    files = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*") if p.is_file())
    assert files == [f"data/{ZCHAT}", "data/notes.txt"]  # the zip's own bytes are not there
    chat = (out / f"data/{ZCHAT}").read_text()
    assert "[message 2 redacted]\n[message 3 redacted]\n" in chat
    for target in (out, out.with_name("zpkg.zip")):
        result = env.run("verify", target, "--json")
        report = json.loads(result.stdout)
        assert result.exit_code == 0, report["problems"]
        validate("verify-package", report)
        assert report["disclosure"]["archives"] == made["disclosure"]["archives"]
        assert report["summary"] == (
            "2 committed: 1 disclosed intact, 1 archive disclosed as its 2 members (1 chat "
            f"with 2 of 7 messages redacted (proven), 1 withheld under {BASIS})"
        )


def test_zip_member_intact_and_stripped(env: Env, zipped: Path) -> None:
    out, _ = disclose(env, zipped, "zs", "--strip-metadata", ZPHOTO)
    photo = (out / f"data/{ZPHOTO}").read_bytes()
    assert photo.startswith(b"\xff\xd8") and b"Exif" not in photo
    assert (out / f"data/{ZCHAT}").read_bytes() == _member(zipped, "_chat.txt")
    code, report = _verify(env, out)
    assert code == 0, report["problems"]
    assert report["disclosure"]["archives"][0]["stripped"] == 1


def _member(zb: Path, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(zb / "data" / ZIP) as zf:
        return zf.read(name)


def _verify(env: Env, target: Path) -> tuple[int, dict]:
    result = env.run("verify", target, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_nothing_withheld_from_a_zip_leaks(env: Env, zipped: Path) -> None:
    import zipfile

    out, _ = zip_package(env, zipped)
    lines = [
        json.loads(x) for x in (zipped / "custody/commitments.jsonl").read_bytes().splitlines()
    ]
    photo = _member(zipped, "00000012-PHOTO-2022-02-25-14-03-10.jpg")
    chat = _member(zipped, "_chat.txt").splitlines()
    member = next(x for i, x in enumerate(lines) if x.get("path") == f"data/{ZPHOTO}")
    index = lines.index(member)
    secrets = [
        b"00000012-PHOTO",
        member["sha256"].encode(),
        bytes.fromhex(member["sha256"]),
        photo[200:240],
        photo[-64:],
        b"SM-G991B",  # the photo's device, in its own metadata
        b"50.447",  # and its GPS position
        chat[1][22:],
        chat[2][22:],
        lines[0]["sha256"].encode(),  # the zip's own hash
        bytes.fromhex(lines[0]["sha256"]),
    ]
    # every salt of the archive's own leaves but the members leaf (disclosed: a count),
    # and of the withheld member's
    secrets += [
        x["salt"].encode()
        for x in lines
        if (x.get("file") == 0 and x["kind"] != "members") or x.get("file") == index
    ]
    blobs = {str(p): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    blobs["zip"] = out.with_name("zpkg.zip").read_bytes()
    with zipfile.ZipFile(out.with_name("zpkg.zip")) as zf:
        blobs.update({f"zip:{n}": zf.read(n) for n in zf.namelist()})
    for where, data in blobs.items():
        for secret in secrets:
            assert secret not in data, (where, secret[:40])


def _zip_forge(env: Env, out: Path) -> None:
    from test_disclose import _refresh

    p = out / f"data/{ZCHAT}"
    p.write_bytes(p.read_bytes().replace(b"Keep the originals", b"Delete the originals"))
    _refresh(out)


def _zip_uncount(env: Env, out: Path) -> None:
    from test_disclose import _resign

    def drop(record: dict) -> None:
        for item in record["items"]:
            if item["treatment"] == "members":
                item["withheld"] = []

    _resign(env, out, drop)


def _zip_planted(env: Env, out: Path) -> None:
    from test_disclose import _refresh

    (out / f"data/{ZPHOTO}").write_bytes(b"\xff\xd8 a photo the archive never held")
    _refresh(out)


ZIP_TAMPERINGS = {
    "forged member message": (_zip_forge, {"bad_redaction"}),
    "withheld member left uncounted": (_zip_uncount, {"counts_mismatch"}),
    "planted member": (_zip_planted, {"extra", "disclosure_mismatch"}),
}


@pytest.mark.parametrize("name", list(ZIP_TAMPERINGS))
def test_zip_tampering_is_named(env: Env, zipped: Path, name: str) -> None:
    out, _ = zip_package(env, zipped)
    change, expected = ZIP_TAMPERINGS[name]
    change(env, out)
    code, report = _verify(env, out)
    assert code == 1
    assert expected <= {p["kind"] for p in report["problems"]}, report["problems"]


def test_member_decisions_refused_in_one_line(env: Env, zipped: Path) -> None:
    for extra in (
        ("--withhold", f"{ZIP}/nothing.jpg", "--basis", BASIS),
        ("--withhold", ZIP, "--strip-metadata", ZPHOTO, "--basis", BASIS),
        ("--derived", f"{ZPHOTO}=/dev/null", "--method", "blur", "--basis", BASIS),
    ):
        result = env.run("disclose", zipped, "-o", env.tmp / "bad", "--to", "D", *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
        assert not (env.tmp / "bad").exists()


def test_old_style_whole_zip_still_intact(env: Env, zipped: Path) -> None:
    out, made = disclose(env, zipped, "whole")
    assert made["disclosure"]["archives"] == []
    assert (out / "data" / ZIP).read_bytes() == (zipped / "data" / ZIP).read_bytes()
    assert _verify(env, out)[0] == 0


def test_by_hand_recipe_checks_a_member(env: Env, zipped: Path, officer: dict) -> None:
    import os
    import re
    import subprocess

    from conftest import REPO

    out, _ = disclose(env, zipped, "zh", "--withhold", ZPHOTO, "--basis", BASIS)
    text = (REPO / "docs/verify-by-hand.md").read_text("utf-8")
    m = re.search(r"<!-- disclosure-recipe.*?-->\n```sh\n(.*?)```\n", text, re.S)
    assert m

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + m.group(1)],
            env={
                **os.environ,
                "PACKAGE": str(out),
                "FILE": f"data/{ZCHAT}",
                "OFFICER_KEY": officer["public_key"],
                "LC_ALL": "C.UTF-8",
            },
            capture_output=True,
            text=True,
        )

    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    p = out / f"data/{ZCHAT}"
    p.write_bytes(p.read_bytes() + b"x")
    assert run().returncode != 0


def test_member_field_withheld(env: Env, zipped: Path) -> None:
    out, made = disclose(
        env,
        zipped,
        "zf",
        "--redact-messages",
        f"{ZCHAT}:1",
        "--withhold-field",
        f"{ZPHOTO}:gps",
        "--basis",
        BASIS,
    )
    assert any("--strip-metadata" in n for n in made["notes"])  # its bytes still carry GPS
    code, report = _verify(env, out)
    assert code == 0, report["problems"]
    assert report["disclosure"]["withheld_fields"] >= 1
    leaves = (out / "custody/disclosure/leaves.jsonl").read_bytes()
    assert b"50.447" not in leaves and b"SM-G991B" in leaves  # gps withheld, device not


EMAIL = "photos from Shevchenka street.eml"
ATTACHED = "IMG_20220225_140955.jpg"  # the e-mail's attachment, also a file of the bundle


def test_an_email_holding_a_withheld_photo_is_named_and_its_part_can_be_redacted(
    env: Env,
    bundle: Path,  # noqa: F811
) -> None:
    attached = (bundle / "data" / ATTACHED).read_bytes()
    warned = env.run(
        "disclose",
        bundle,
        "-o",
        env.tmp / "p1",
        "--to",
        "Defence",
        "--withhold",
        ATTACHED,
        "--basis",
        BASIS,
    )
    assert warned.exit_code == 0, warned.output
    assert f"{EMAIL} is disclosed intact, but its own bytes hold or name" in warned.stderr
    redacted = env.run(
        "disclose",
        bundle,
        "-o",
        env.tmp / "p2",
        "--to",
        "Defence",
        "--withhold",
        ATTACHED,
        "--basis",
        BASIS,
        "--redact-messages",
        f"{EMAIL}:2",
    )
    assert redacted.exit_code == 0, redacted.output
    assert "its own bytes hold or name" not in redacted.stderr
    import hashlib

    digest = hashlib.sha256(attached).hexdigest().encode()
    for path in (env.tmp / "p2").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert ATTACHED.encode() not in data and digest not in data, path
    assert env.run("verify", env.tmp / "p2").exit_code == 0


def test_scope_for_a_package_is_checked_not_ignored(env: Env, bundle: Path) -> None:  # noqa: F811
    """verify PACKAGE --scope checks the record (tests/cli/test_scope_use.py); a
    record that is not there is one line, exit 2, never silently ignored."""
    out, _ = disclose(env, bundle, "scoped", "--withhold", WITHHELD, "--basis", BASIS)
    result = env.run("verify", out, "--scope", env.tmp / "no-such-scope")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"custody: error: {env.tmp / 'no-such-scope'}: not a scope record (a folder with "
        "scope.json)"
    ]
