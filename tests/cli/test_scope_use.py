"""A scope record used: `custody disclose --scope`, `custody similar --scope`,
and `custody verify --scope` against a package or an analysis (issue 26, item
4), through the real CLI with real keys."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import EXAMPLES, Env, refresh_tag_manifest, validate
from extraction_tools import Item, jpeg_with_exif, make_ufdr

IMAGES = "type = image and captured >= 2022-02-24"


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
            Item("/private/var/mobile/notes.txt", b"notes\n", "Text"),
        ],
    )
    result, data = ingest(source, "--out", str(tmp_path / "bundle"))
    assert result.exit_code == 0, result.output
    notice = tmp_path / "notice.pdf"
    notice.write_bytes(b"%PDF-1.4 s.37 notice to W1\n")
    return {"bundle": Path(data["bundle"]), "notice": notice, "tmp": tmp_path}


def select(env: Env, case: dict, where: str, name: str = "scope") -> Path:
    record = case["tmp"] / name
    result = env.run(
        "select",
        case["bundle"],
        "--where",
        where,
        "--notice",
        case["notice"],
        "--reason",
        "Photos after 24 Feb 2022",
        "--out",
        record,
    )
    assert result.exit_code == 0, result.output
    return record


def disclose(env: Env, case: dict, out: str, *extra: str | Path):
    return env.run("disclose", case["bundle"], "-o", case["tmp"] / out, "--to", "Defence", *extra)


UFDR = ("--withhold", "W1.ufdr", "--basis", "members not committed one by one")


def test_disclosure_under_a_scope_verifies_against_it(env, case):
    record = select(env, case, IMAGES)
    # The phone extraction has members in and out of the scope, and they are not
    # committed one by one: refused in one line, nothing written.
    result = disclose(env, case, "d0", "--scope", record)
    assert result.exit_code == 2
    assert "an extraction's members are not committed one by one" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (case["tmp"] / "d0").exists()
    result = disclose(env, case, "d1", "--scope", record, *UFDR, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    validate("disclose", out)
    scope_sha = hashlib.sha256((record / "scope.json").read_bytes()).hexdigest()
    assert out["scope"]["scope_sha256"] == scope_sha
    package = case["tmp"] / "d1"
    signed = json.loads((package / "custody/disclosure/record.json").read_bytes())
    assert signed["scope"]["scope_sha256"] == scope_sha
    # Only what the scope selects is in the package: the photo after 24 February and
    # the chat's photo; before.jpg and the chat text are withheld as outside it.
    payload = sorted(
        str(p.relative_to(package)) for p in (package / "data").rglob("*") if p.is_file()
    )
    assert payload == [
        "data/IMG_20220225_140955.jpg",
        "data/WhatsApp Chat - Olena K.zip/00000012-PHOTO-2022-02-25-14-03-10.jpg",
    ]
    assert (
        f"outside scope record {signed['scope']['scope_id']}"
        in out["disclosure"]["withheld_by_basis"]
    )
    result = env.run("verify", package, "--scope", record, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    validate("verify-package", report)
    validate("verify-scope", report["scope"])
    scope = report["scope"]
    assert scope["valid"] and scope["ok"] and scope["outside"] == []
    assert scope["filter_checked"] is False and scope["used"] == 2
    assert scope["use"] == {
        "kind": "package",
        "path": str(package),
        "scope_sha256": scope_sha,
        "problems": [],
    }
    text = env.run("verify", package, "--scope", record)
    assert text.exit_code == 0 and "All 2 item(s) used are inside the scope." in text.output
    # With the bundle at hand the filter is evaluated again, and the package is the list.
    result = env.run("verify", case["bundle"], "--scope", record, "--used", package, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scope"]["filter_checked"] is True
    # A package lists what it used: --used beside it is refused in one line.
    result = env.run("verify", package, "--scope", record, "--used", record / "scope.json")
    assert result.exit_code == 2 and "--used is for a bundle" in result.output


@pytest.mark.parametrize(
    "decision",
    [
        ("--strip-metadata", "before.jpg"),
        ("--reveal", "before.jpg"),
        ("--redact-messages", "WhatsApp Chat - Olena K.zip/_chat.txt:1"),
        ("--withhold-field", "before.jpg:gps"),
    ],
)
def test_an_item_outside_the_scope_is_refused(env, case, decision):
    record = select(env, case, IMAGES)
    result = disclose(env, case, "d1", "--scope", record, *UFDR, *decision, "--basis", "81")
    assert result.exit_code == 2, result.output
    assert "outside the scope record" in result.output and "nothing was written" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (case["tmp"] / "d1").exists()


def test_a_scope_about_another_bundle_is_refused(env, case, ingest):
    record = select(env, case, IMAGES)
    other = case["tmp"] / "other"
    other.mkdir()
    (other / "x.jpg").write_bytes(jpeg_with_exif(seed=5))
    result, data = ingest(other, "--out", str(case["tmp"] / "bundle2"))
    assert result.exit_code == 0, result.output
    result = env.run(
        "disclose", data["bundle"], "-o", case["tmp"] / "d2", "--to", "D", "--scope", record
    )
    assert result.exit_code == 2
    assert "the scope record is about another bundle" in result.output
    assert not (case["tmp"] / "d2").exists()
    # A package of that other bundle given as what was used from this one: named.
    out = case["tmp"] / "d3"
    assert env.run("disclose", data["bundle"], "-o", out, "--to", "D").exit_code == 0
    result = env.run("verify", case["bundle"], "--scope", record, "--used", out, "--json")
    assert result.exit_code == 1
    scope = json.loads(result.stdout)["scope"]
    assert scope["use"]["problems"] == ["the package is of another bundle (or another statement)"]
    assert scope["outside_problems"] == [
        "data/x.jpg: disclosed intact, but not selected by the scope"
    ]


def test_decisions_inside_the_scope_are_kept(env, case):
    record = select(env, case, IMAGES)
    result = disclose(
        env, case, "d1", "--scope", record, *UFDR, "--strip-metadata", "IMG_20220225_140955.jpg"
    )
    assert result.exit_code == 0, result.output
    result = env.run("verify", case["tmp"] / "d1", "--scope", record, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scope"]["used"] == 2


def forge(package: Path, record: Path, *, resign: bool) -> None:
    """Swap the scope record's digest in record.json for another scope's and,
    with `resign`, sign it again with a key of the forger's own."""
    import rfc8785
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custody.base.keys import fingerprint_of, public_key_file_bytes

    path = package / "custody/disclosure/record.json"
    signed = json.loads(path.read_bytes())
    signed["scope"]["scope_sha256"] = hashlib.sha256(
        (record / "scope.json").read_bytes()
    ).hexdigest()
    if resign:
        key = Ed25519PrivateKey.generate()
        signed["key_fingerprint"] = fingerprint_of(key.public_key())
        data = bytes(rfc8785.dumps(signed))
        (package / "custody/disclosure/record.sig").write_bytes(key.sign(data))
        (package / "custody/disclosure/discloser.pub").write_bytes(
            public_key_file_bytes("Mallory", key.public_key())
        )
    path.write_bytes(bytes(rfc8785.dumps(signed)))
    refresh_tag_manifest(package)


def test_forged_or_unscoped_packages_are_caught(env, case):
    record = select(env, case, IMAGES)
    # A package made without --scope discloses before.jpg: each item outside is named.
    assert disclose(env, case, "whole", *UFDR).exit_code == 0
    result = env.run("verify", case["tmp"] / "whole", "--scope", record, "--json")
    assert result.exit_code == 1
    scope = json.loads(result.stdout)["scope"]
    validate("verify-scope", scope)
    assert scope["valid"] is True and scope["ok"] is False
    assert ["data/before.jpg", ""] in scope["outside"]
    assert (
        "data/before.jpg: disclosed intact, but not selected by the scope"
        in (scope["outside_problems"])
    )
    assert scope["use"]["scope_sha256"] is None
    text = env.run("verify", case["tmp"] / "whole", "--scope", record).output
    assert "OUTSIDE SCOPE" in text and "names no scope record" in text
    # A wider scope, and a package made under it checked against the narrow one.
    wide = select(env, case, "type = image or type = chat", "wide")
    # (it selects both of the chat's members, not the zip: disclosed as its members)
    result = disclose(env, case, "wide-pkg", "--scope", wide, *UFDR)
    assert result.exit_code == 0, result.output
    result = env.run("verify", case["tmp"] / "wide-pkg", "--scope", record)
    assert result.exit_code == 1
    assert "made under another scope record" in result.output
    assert "data/before.jpg: disclosed intact, but not selected by the scope" in result.output
    # The narrow scope's digest swapped into the wide package's record: the record's
    # signature breaks; signed again by the forger's key: not a key the verifier trusts.
    for resign, problem in ((False, "does not verify"), (True, "untrust")):
        forged = case["tmp"] / f"forged-{resign}"
        shutil.copytree(case["tmp"] / "wide-pkg", forged)
        forge(forged, record, resign=resign)
        result = env.run("verify", forged, "--scope", record, "--json")
        assert result.exit_code == 1, result.output
        report = json.loads(result.stdout)
        assert report["verified"] is False
        assert any(problem in json.dumps(p) for p in report["problems"]), report["problems"]
        assert ["data/before.jpg", ""] in report["scope"]["outside"]
    # A scope record re-signed by another key than the verifier trusts.
    result = env.run(
        "verify", case["tmp"] / "wide-pkg", "--scope", wide, "--no-trust-store", "--json"
    )
    assert result.exit_code == 1
    assert any("do not trust" in p for p in json.loads(result.stdout)["scope"]["problems"])


def test_old_packages_still_verify(env, case):
    """A package made without --scope has no scope field: verified as before."""
    assert disclose(env, case, "plain", *UFDR).exit_code == 0
    signed = json.loads((case["tmp"] / "plain/custody/disclosure/record.json").read_bytes())
    assert "scope" not in signed
    assert env.run("verify", case["tmp"] / "plain").exit_code == 0


# --- custody similar --scope ------------------------------------------------------------


@pytest.fixture
def witnesses(env: Env, officer: dict, tmp_path: Path) -> dict:
    from similar_media import jpeg, png, scene

    w1, w2 = tmp_path / "w1", tmp_path / "w2"
    w1.mkdir()
    w2.mkdir()
    strike = scene(1)
    (w1 / "IMG_0001.jpg").write_bytes(jpeg(strike, 95))
    (w1 / "unrelated-a.png").write_bytes(png(scene(2)))
    (w2 / "forwarded.jpg").write_bytes(jpeg(strike.resize((320, 240)), 60))
    (w2 / "private.jpg").write_bytes(jpeg(strike, 80))  # the same picture, not in scope
    bundles = []
    (tmp_path / "holdings").mkdir()
    for n, source in enumerate((w1, w2), start=1):
        out = tmp_path / "holdings" / f"b{n}"
        result = env.run(
            "ingest", source, "--case", "ICC-2026-014", "--exhibit", f"W/{n}", "--out", out
        )
        assert result.exit_code == 0, result.output
        bundles.append(out)
    notice = tmp_path / "notice.pdf"
    notice.write_bytes(b"%PDF-1.4 notice\n")
    scopes = []
    for n, (bundle, where) in enumerate(
        ((bundles[0], "type = image"), (bundles[1], "path = data/forwarded.jpg")), start=1
    ):
        record = tmp_path / f"scope{n}"
        result = env.run(
            "select", bundle, "--where", where, "--notice", notice, "--reason", "R",
            "--out", record,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        scopes.append(record)
    return {"bundles": bundles, "scopes": scopes, "tmp": tmp_path}


def sha_of(bundle: Path, rel: str) -> str:
    return hashlib.sha256((bundle / "data" / rel).read_bytes()).hexdigest()


def test_similar_limited_to_scopes_and_checked_against_them(env, witnesses):
    (b1, b2), (s1, s2) = witnesses["bundles"], witnesses["scopes"]
    scoped = witnesses["tmp"] / "scoped.json"
    sheet = witnesses["tmp"] / "sheet.html"
    result = env.run("similar", b1, b2, "--scope", s1, "--scope", s2, "--json", "--report", sheet)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    validate("similar", data)
    scoped.write_text(result.stdout)
    paths = [{m["path"] for m in g["members"]} for g in data["groups"]]
    assert paths == [{"IMG_0001.jpg", "forwarded.jpg"}]  # private.jpg never compared
    digests = {s["bundle_id"]: s["scope_sha256"] for s in data["scopes"]}
    s2_sha = hashlib.sha256((s2 / "scope.json").read_bytes()).hexdigest()
    assert s2_sha in digests.values()
    assert [s["compared"] for s in data["scopes"]] == [2, 1]
    page = sheet.read_text()
    assert s2_sha in page and "Limited to the items these scope records select" in page
    # verify: the scoped analysis used nothing outside W2's scope.
    result = env.run("verify", b2, "--scope", s2, "--used", scoped, "--json")
    assert result.exit_code == 0, result.output
    scope = json.loads(result.stdout)["scope"]
    validate("verify-scope", scope)
    assert scope["ok"] and scope["used"] == 1 and scope["use"]["kind"] == "analysis"
    # An analysis made without --scope shows private.jpg: named, and not limited.
    result = env.run("similar", b1, b2, "--json")
    assert result.exit_code == 0, result.output
    (witnesses["tmp"] / "all.json").write_text(result.stdout)
    result = env.run("verify", b2, "--scope", s2, "--used", witnesses["tmp"] / "all.json")
    assert result.exit_code == 1
    assert "data/private.jpg: shown in a group of matching files, but not selected" in (
        result.output
    )
    assert "the analysis was not limited to a scope record for this bundle" in result.output
    # The scoped analysis checked against W1's scope on W2's... no: W1's record on W1.
    result = env.run("verify", b1, "--scope", s1, "--used", scoped)
    assert result.exit_code == 0, result.output


def test_similar_scope_refusals(env, witnesses):
    (b1, b2), (s1, s2) = witnesses["bundles"], witnesses["scopes"]
    result = env.run("similar", b1, b2, "--scope", s1)
    assert result.exit_code == 2
    assert "no --scope record is about this bundle" in result.output
    result = env.run("similar", b1, "--scope", s1, "--scope", s2)
    assert result.exit_code == 2 and "about no bundle compared here" in result.output
    result = env.run("similar", b1, "--scope", s1, "--record")
    assert result.exit_code == 2 and "cannot be made under --scope" in result.output
    holdings = witnesses["tmp"] / "holdings"
    inside, outside = sha_of(b1, "IMG_0001.jpg"), sha_of(b2, "private.jpg")
    common = ("--case", "ICC-2026-014", "--in", holdings, "--scope", s1, "--scope", s2)
    result = env.run("similar", "confirm", inside, outside, *common, "--note", "Same")
    assert result.exit_code == 2
    assert f"{outside} is outside the scope records given" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = env.run(
        "similar", "confirm", inside, sha_of(b2, "forwarded.jpg"), *common, "--note", "Same"
    )
    assert result.exit_code == 0, result.output
    entries = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    assert entries[-1]["action"] == "similar-confirm"
