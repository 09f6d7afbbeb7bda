"""The offline verifier page (`custody verifier`) in a real headless Chromium:
over the same bundles as custody's own tamper tests, folder and zip, its
verdict and problems (kinds and paths) must be `custody verify --json`'s."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from browser_page import Page, browser, chromium_missing
from conftest import REPO, Env, make_evidence, refresh_tag_manifest

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


@dataclass(frozen=True)
class Template:
    home: Path
    officer: dict[str, Any]
    bundle: Path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """One officer and one bundle for the whole module (a key and an ingest cost
    seconds); every test gets its own copies of both."""
    root = tmp_path_factory.mktemp("verifier-page")
    maker = Env(home=root / "home", tmp=root)
    result, officer = maker.run_json("keygen", "--name", "PC Jane Smith, War Crimes Team")
    assert result.exit_code == 0, result.output
    evidence = make_evidence(root / "evidence")
    result = maker.run(
        "ingest", evidence, "--case", "ICC-2026-014", "--exhibit", "JS/1", "--out", root / "out"
    )
    assert result.exit_code == 0, result.output
    return Template(root / "home", officer, root / "out")


@pytest.fixture
def env(tmp_path: Path, template: Template) -> Env:
    shutil.copytree(template.home, tmp_path / "home", symlinks=True)
    return Env(home=tmp_path / "home", tmp=tmp_path)


@pytest.fixture
def officer(env: Env, template: Template) -> dict[str, Any]:
    key = Path(template.officer["public_key"]).relative_to(template.home)
    return {**template.officer, "public_key": str(env.home / key)}


@pytest.fixture
def bundle(tmp_path: Path, template: Template) -> Path:
    out = tmp_path / "out"
    shutil.copytree(template.bundle, out, symlinks=True)
    return out


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with browser() as d:
        yield d


@pytest.fixture
def page_file(env: Env) -> Path:
    out = env.tmp / "verify-bundle.html"
    result = env.run("verifier", "-o", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def page(driver: Any, page_file: Path) -> Page:
    return Page(driver, page_file)


def kinds(report: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(p["kind"], p["path"]) for p in report["problems"]}


def custody_verify(env: Env, target: Path, trust: Path | str | None) -> dict[str, Any]:
    args: list[str | os.PathLike[str]] = ["verify", target, "--json", "--no-trust-store"]
    if trust is not None:
        args += ["--trust", trust]
    result = env.run(*args)
    assert result.exit_code in (0, 1, 2), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def same_verdict(env: Env, page: Page, target: Path, trust: Path | str | None) -> dict[str, Any]:
    """Both verifiers over `target` with the same trusted key: same verdict,
    same problems, same signer and counts. Returns custody's report."""
    expected = custody_verify(env, target, trust)
    page.driver.refresh()
    page.wait(lambda: page.state() == "ready", 30)
    if isinstance(trust, Path):
        page.trust_key_file(trust)
    elif trust is not None:
        page.trust_fingerprint(trust)
    got = page.verify(target)
    if "error" in expected:  # not a bundle at all: the page says so too
        assert got["error"]["message"] == expected["error"]["message"], got
        return expected
    assert "error" not in got, got
    assert kinds(got) == kinds(expected), (target, got["problems"], expected["problems"])
    assert got["verified"] is expected["verified"]
    assert got["open_handover"] == expected["open_handover"]
    for field in (
        "bundle_id",
        "bundle_fingerprint",
        "statement_sha256",
        "files_checked",
        "bytes_checked",
        "case",
    ):
        assert got[field] == expected[field], field
    for field in ("fingerprint", "trusted", "signature_valid"):
        assert got["signer"][field] == expected["signer"][field], field
    return expected


def zip_of(folder: Path, out: Path, *, flat: bool = False, **options: Any) -> Path:
    """A zip of a bundle folder (under its own name, or flat), made by Python."""
    with zipfile.ZipFile(out, "w", **options) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                rel = p.relative_to(folder if flat else folder.parent).as_posix()
                zf.write(p, rel)
    return out


@pytest.fixture
def key(officer: dict[str, Any]) -> Path:
    return Path(officer["public_key"])


# --- honest bundles ---------------------------------------------------------------


def test_the_command_writes_the_page_and_prints_its_sha256(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "court" / "verify-bundle.html"
    out.parent.mkdir()
    result = env.run("verifier", "-o", out)
    assert result.exit_code == 0
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.stdout == f"{digest}  {out}\n"
    check = subprocess.run(
        ["sha256sum", "-c"], input=result.stdout, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    result, data = env.run_json("verifier", "-o", out)
    assert data == {"path": str(out), "sha256": digest, "bytes": out.stat().st_size}
    schema = json.loads((REPO / "docs/schemas/verifier.schema.json").read_text())
    Draft202012Validator(schema).validate(data)
    assert [p.name for p in out.parent.iterdir()] == ["verify-bundle.html"]


def test_unwritable_output_is_one_line_and_exit_3(env: Env, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    result = env.run("verifier", "-o", tmp_path / "a-file" / "page.html")
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_the_page_is_self_contained_under_a_strict_csp(page_file: Path) -> None:
    html = page_file.read_text(encoding="utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'none'"
    assert directives["worker-src"] == "blob:"
    assert "unsafe-inline" not in csp.group(1) and "http" not in csp.group(1)
    # Nothing is loaded from anywhere: no src= or href= at all.
    assert not re.search(r"\b(src|href)\s*=", html.split("<script>")[0])
    for licence in ("@noble/curves", "@noble/hashes", "hash-wasm", "MIT License"):
        assert licence in html


def test_pristine_folder_and_zips(
    env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path
) -> None:
    assert same_verdict(env, page, bundle, key)["verified"] is True
    subprocess.run(["zip", "-qr", tmp_path / "b.zip", bundle.name], cwd=bundle.parent, check=True)
    subprocess.run(["zip", "-qr", tmp_path / "flat.zip", "."], cwd=bundle, check=True)
    for archive in (
        tmp_path / "b.zip",
        tmp_path / "flat.zip",
        zip_of(bundle, tmp_path / "deflated.zip", compression=zipfile.ZIP_DEFLATED),
    ):
        assert same_verdict(env, page, archive, key)["verified"] is True, archive


def test_zip64_archive(env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path) -> None:
    archive = tmp_path / "z64.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                with zf.open(p.relative_to(bundle).as_posix(), "w", force_zip64=True) as out:
                    out.write(p.read_bytes())
    assert b"\x01\x00" in archive.read_bytes()  # zip64 extra fields are there
    assert same_verdict(env, page, archive, key)["verified"] is True
    # Info-ZIP's forced zip64: zip64 end record and locator, as a multi-GB zip has.
    forced = tmp_path / "fz.zip"
    subprocess.run(["zip", "-qr", "-fz", forced, "."], cwd=bundle, check=True)
    assert b"PK\x06\x06" in forced.read_bytes() and b"PK\x06\x07" in forced.read_bytes()
    assert same_verdict(env, page, forced, key)["verified"] is True


def test_trust_by_typed_fingerprint(
    env: Env, page: Page, bundle: Path, officer: dict[str, Any]
) -> None:
    spaced = " ".join(officer["fingerprint"][i : i + 4] for i in range(0, 64, 4))
    assert same_verdict(env, page, bundle, spaced)["verified"] is True


def test_no_key_or_the_wrong_key_is_not_verified(
    env: Env, page: Page, bundle: Path, tmp_path: Path
) -> None:
    report = same_verdict(env, page, bundle, None)
    assert kinds(report) == {("untrusted_signer", "custody/statement.json")}
    other = Env(home=tmp_path / "other", tmp=tmp_path)
    _, data = other.run_json("keygen", "--name", "Someone Else")
    report = same_verdict(env, page, bundle, Path(data["public_key"]))
    assert report["signer"]["signature_valid"] is True
    assert not report["verified"]
    report = same_verdict(env, page, bundle, data["fingerprint"])
    assert not report["verified"]


def test_the_page_shows_a_printable_verdict(page: Page, bundle: Path, key: Path) -> None:
    page.trust_key_file(key)
    page.verify(bundle)
    text = page.driver.find_element("id", "result").text
    assert "VERIFIED" in text and "ICC-2026-014" in text
    assert "not checked here" in page.driver.find_element("id", "not-checked").text
    pdf = page.driver.print_page()  # the summary prints (base64 PDF)
    assert len(pdf) > 1000


def test_a_team_proof_listed_or_left_unlisted_by_a_crash(
    env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """custody/team-proof.json is hashed like any tag file, and need not be listed
    (a staple interrupted by a crash), as in custody; the page says it does not
    check the proof itself."""
    from pg_server import available

    if not available():
        pytest.skip("PostgreSQL server binaries not installed")
    url = request.getfixturevalue("pg").new_database()
    lead = Env(home=tmp_path / "lead", tmp=tmp_path)
    assert lead.run("team", "init", "--database", url, "--name", "Team").exit_code == 0
    assert env.run("team", "join", url).exit_code == 0
    result = env.run("team", "proof", bundle)
    assert result.exit_code == 0, result.output
    assert same_verdict(env, page, bundle, key)["verified"]
    assert "custody/team-proof.json" in page.driver.find_element("id", "not-checked").text
    manifest = bundle / "tagmanifest-sha256.txt"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(x for x in lines if "custody/team-proof.json" not in x))
    assert same_verdict(env, page, bundle, key)["verified"]


# --- tampering -----------------------------------------------------------------------

TAG_EDITS: dict[str, Callable[[Path], None]] = {
    "manifest-sha256.txt": lambda p: p.write_text(p.read_text().replace("data/", "data/x", 1)),
    "bag-info.txt": lambda p: p.write_text(p.read_text().replace("ICC-2026-014", "ICC-2026-015")),
    "custody/statement.json": lambda p: p.write_bytes(p.read_bytes().replace(b"JS/1", b"JS/2")),
    "custody/metadata.json": lambda p: p.write_text(p.read_text().replace("null", "1", 1)),
    "custody/statement.sig": lambda p: p.write_bytes(
        bytes([p.read_bytes()[0] ^ 1]) + p.read_bytes()[1:]
    ),
    "tagmanifest-sha256.txt": lambda p: p.write_text(p.read_text()[:-1] + "\n\n"),
    "bagit.txt": lambda p: p.write_text(
        "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
    ),
    "custody/signer.pub": lambda p: p.write_text("not a key\n"),
    "custody/ledger-proof.json": lambda p: p.write_text(
        p.read_text().replace('"leaf_index": 1', '"leaf_index": 0')
    ),
}


def _change_payload_byte(bundle: Path) -> None:
    target = bundle / "data/VID_20220225_141500.mp4"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 1
    target.write_bytes(bytes(data))


def _recompute_manifests(bundle: Path) -> None:
    target = bundle / "data/IMG_20220225_140955.jpg"
    target.write_bytes(target.read_bytes() + b"edited")
    lines = []
    for line in (bundle / "manifest-sha256.txt").read_text().splitlines():
        if line.endswith("data/IMG_20220225_140955.jpg"):
            line = hashlib.sha256(target.read_bytes()).hexdigest() + line[64:]
        lines.append(line)
    (bundle / "manifest-sha256.txt").write_text("\n".join(lines) + "\n")
    refresh_tag_manifest(bundle)


def _forge_ledger_proof(bundle: Path) -> None:
    proof = bundle / "custody/ledger-proof.json"
    doc = json.loads(proof.read_text())
    doc["inclusion_proof"] = [*doc["inclusion_proof"][::-1], doc["inclusion_proof"][0]]
    proof.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    refresh_tag_manifest(bundle)


def _refreshed(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    """An edit by a careful forger, who then recomputes the tag manifest."""

    def do(bundle: Path) -> None:
        edit(bundle)
        refresh_tag_manifest(bundle)

    return do


def _other_signer_key(bundle: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custody.base.keys import public_key_file_bytes

    other = Ed25519PrivateKey.generate().public_key()
    (bundle / "custody/signer.pub").write_bytes(
        public_key_file_bytes("PC Jane Smith, War Crimes Team", other)
    )


def _respell_proof(bundle: Path) -> None:
    proof = bundle / "custody/ledger-proof.json"
    proof.write_text(json.dumps(json.loads(proof.read_text()), sort_keys=True) + "\n")


def _float_leaf_index(bundle: Path) -> None:
    proof = bundle / "custody/ledger-proof.json"
    text = proof.read_text()
    proof.write_text(re.sub(r'"leaf_index": (\d+)', r'"leaf_index": \1.0', text))


def _edit_bytes(path: str, edit: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    return lambda bundle: (bundle / path).write_bytes(edit((bundle / path).read_bytes()))


TAMPERINGS: dict[str, Callable[[Path], None]] = {
    "tag manifest without final newline": _edit_bytes("tagmanifest-sha256.txt", lambda b: b[:-1]),
    "tag manifest with CRLF": _edit_bytes(
        "tagmanifest-sha256.txt", lambda b: b.replace(b"\n", b"\r\n")
    ),
    "tag manifest with BOM": _edit_bytes("tagmanifest-sha256.txt", lambda b: b"\xef\xbb\xbf" + b),
    "tag manifest reordered": _edit_bytes(
        "tagmanifest-sha256.txt",
        lambda b: b"".join(sorted(b.splitlines(keepends=True), reverse=True)),
    ),
    "tag manifest upper-case hex": _edit_bytes(
        "tagmanifest-sha256.txt", lambda b: b[:64].upper() + b[64:]
    ),
    "bagit.txt without final newline": _refreshed(_edit_bytes("bagit.txt", lambda b: b[:-1])),
    "signer.pub holds another key": _refreshed(_other_signer_key),
    "signer.pub header edited": _refreshed(
        _edit_bytes("custody/signer.pub", lambda b: b.replace(b"Name: PC Jane", b"Name: PC John"))
    ),
    "signer.pub algorithm damaged": _refreshed(
        _edit_bytes(
            "custody/signer.pub",
            lambda b: b.replace(b"K2Vw", b"K" + bytes([b"2"[0] ^ 0x5A]) + b"Vw", 1),
        )
    ),
    "ledger proof respelled": _refreshed(_respell_proof),
    "ledger proof float index": _refreshed(_float_leaf_index),
    "changed payload byte": _change_payload_byte,
    "removed file": lambda b: (b / "data/empty.txt").unlink(),
    "added file": lambda b: (b / "data/planted.jpg").write_bytes(b"not evidence"),
    "renamed file": lambda b: os.rename(
        b / "data/IMG_20220225_140310.jpg", b / "data/IMG_0001.jpg"
    ),
    "recomputed manifests": _recompute_manifests,
    "forged ledger proof": _forge_ledger_proof,
    "extra tag file": lambda b: (b / "custody/notes.txt").write_text("planted\n"),
    "bad manifest line": lambda b: (b / "manifest-sha256.txt").write_bytes(
        (b / "manifest-sha256.txt").read_bytes() + b"zz  ../../etc/passwd\n"
    ),
    "oxum": lambda b: (b / "bag-info.txt").write_text(
        re.sub(r"Payload-Oxum: \S+", "Payload-Oxum: 1.1", (b / "bag-info.txt").read_text())
    ),
    **{f"edit {name}": (lambda n: lambda b: TAG_EDITS[n](b / n))(name) for name in TAG_EDITS},
    **{
        f"delete {name}": (lambda n: lambda b: (b / n).unlink())(name)
        for name in (
            "custody/statement.json",
            "custody/statement.sig",
            "manifest-sha256.txt",
            "tagmanifest-sha256.txt",
            "custody/signer.pub",
            "bag-info.txt",
            "bagit.txt",
            "custody/metadata.json",
            "custody/ledger-proof.json",
        )
    },
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_every_tampering_folder_and_zip(
    env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path, name: str
) -> None:
    TAMPERINGS[name](bundle)
    report = same_verdict(env, page, bundle, key)
    if name != "delete custody/ledger-proof.json":
        assert not report.get("verified"), name
    if name in ZIPPED:
        same_verdict(env, page, zip_of(bundle, tmp_path / "t.zip"), key)


# The tamperings also read from a zip: those that change what the zip reader
# sees (members added, removed, renamed, changed); the others differ only in
# the checks, which are the same code for a folder and a zip.
ZIPPED = {
    "changed payload byte",
    "removed file",
    "added file",
    "renamed file",
    "recomputed manifests",
    "edit custody/statement.json",
    "signer.pub holds another key",
    "tag manifest with CRLF",
    "delete bagit.txt",
}


def test_one_changed_byte_in_any_file(env: Env, page: Page, bundle: Path, key: Path) -> None:
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.stat().st_size > 0)
    for path in files[::3]:
        original = path.read_bytes()
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        assert not same_verdict(env, page, bundle, key)["verified"], path
        path.write_bytes(original)


def test_resigned_by_another_key(
    env: Env, page: Page, evidence: Path, bundle: Path, key: Path, tmp_path: Path
) -> None:
    mallory = Env(home=tmp_path / "mallory", tmp=tmp_path)
    assert mallory.run("keygen", "--name", "PC Jane Smith, War Crimes Team").exit_code == 0
    (evidence / "empty.txt").write_text("planted")
    forged = tmp_path / "forged"
    assert mallory.run("ingest", evidence, "--case", "ICC-2026-014", "--out", forged).exit_code == 0
    report = same_verdict(env, page, forged, key)
    assert {k for k, _ in kinds(report)} == {"untrusted_signer"}
    for name in ("custody/statement.json", "custody/statement.sig", "custody/signer.pub"):
        shutil.copy(forged / name, bundle / name)
    assert not same_verdict(env, page, bundle, key)["verified"]


# --- hostile archives ---------------------------------------------------------------


def _members(bundle: Path) -> list[tuple[str, bytes]]:
    return [
        (p.relative_to(bundle).as_posix(), p.read_bytes())
        for p in sorted(bundle.rglob("*"))
        if p.is_file()
    ]


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # the duplicate is the point
def test_hostile_zips(env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    cases: dict[str, Callable[[zipfile.ZipFile], None]] = {
        "unsafe path": lambda zf: zf.writestr("../evil.txt", b"x"),
        "absolute path": lambda zf: zf.writestr("/etc/evil", b"x"),
        "duplicate": lambda zf: zf.writestr("data/empty.txt", b"again"),
        "outside": lambda zf: zf.writestr("other/x.txt", b"x"),
    }

    def symlink(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("data/link")
        info.external_attr = (0o120777 << 16) | 0
        zf.writestr(info, b"/etc/passwd")

    cases["symlink"] = symlink

    def encrypted(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("data/secret.bin")
        info.flag_bits |= 0x1
        zf.writestr(info, b"x" * 20)

    cases["encrypted flag"] = encrypted
    for label, add in cases.items():
        archive = tmp_path / f"{label}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for rel, data in members:
                zf.writestr(rel, data)
            add(zf)
        report = same_verdict(env, page, archive, key)
        # A duplicate is refused outright (test_archive_readings_page), the rest not verified.
        assert "error" in report or not report["verified"], label


def test_corrupted_zip_member(
    env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path
) -> None:
    """A byte flipped inside a stored member (CRC no longer matches): the
    page, as custody, reports the member unreadable, not as intact."""
    archive = zip_of(bundle, tmp_path / "c.zip")
    data = bytearray(archive.read_bytes())
    marker = (bundle / "data/VID_20220225_141500.mp4").read_bytes()[100:132]
    at = data.find(marker)
    assert at > 0
    data[at] ^= 1
    archive.write_bytes(bytes(data))
    report = same_verdict(env, page, archive, key)
    # Named bundle-relative, as in a folder (the archive's top folder stripped).
    assert ("unreadable", "data/VID_20220225_141500.mp4") in kinds(report)


def test_not_a_bundle(page: Page, tmp_path: Path) -> None:
    folder = make_evidence(tmp_path / "plain")
    got = page.verify(folder)
    assert got["error"]["message"] == "not a bundle (no bagit.txt)"
    junk = tmp_path / "junk.zip"
    junk.write_bytes(os.urandom(5000))
    got = page.verify(junk)
    assert got["error"]["message"].startswith("not a .zip archive")
    tar = tmp_path / "b.tar"
    subprocess.run(["tar", "cf", tar, "-C", folder, "."], check=True)
    got = page.verify(tar)
    assert "a .tar or .tar.gz is not read here" in got["error"]["message"]
    cut = tmp_path / "cut.zip"
    zip_of(folder, cut)
    cut.write_bytes(cut.read_bytes()[:-10])  # the end record is cut short
    assert page.verify(cut)["error"]["message"] == "damaged or truncated zip (no central directory)"


# --- hand-overs ------------------------------------------------------------------------


def test_chain_of_custody(env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path) -> None:
    bob = Env(home=tmp_path / "bob", tmp=tmp_path)
    assert bob.run("keygen", "--name", "DS Bob").exit_code == 0
    assert bob.run("keys", "export", "ds-bob", "-o", tmp_path / "bob.pub").exit_code == 0
    assert env.run("transfer", bundle, "--to", tmp_path / "bob.pub", "--reason", "x").exit_code == 0
    # Open: the page gives the CLI's verdict, in the CLI's words.
    report = same_verdict(env, page, bundle, key)
    assert report["verified"] is True and kinds(report) == set()
    assert report["open_handover"]["to"]["name"] == "DS Bob"
    cli_lines = env.run("verify", bundle, "--no-trust-store", "--trust", key).stdout.splitlines()
    assert cli_lines[0] == f"VERIFIED — hand-over open: {bundle}"
    assert page.driver.find_element("id", "verdict").text == "VERIFIED — hand-over open"
    assert page.driver.find_element("id", "open-handover").text == cli_lines[1]
    # The receiver countersigns a copy and exports the receipt; the sender closes hers.
    theirs = tmp_path / "bob-copy"
    shutil.copytree(bundle, theirs)
    assert bob.run("keys", "trust", key).exit_code == 0
    receipt = tmp_path / "receipt.json"
    assert bob.run("receive", theirs, "--export-receipt", receipt).exit_code == 0
    r = env.run("transfer", "--close", bundle, "--receipt", receipt)
    assert r.exit_code == 0, r.output
    report = same_verdict(env, page, bundle, key)
    assert report["verified"] is True and report["open_handover"] is None
    assert page.driver.find_element("id", "verdict").text == "VERIFIED"
    assert not page.driver.find_elements("id", "open-handover")
    receipt = bundle / "custody/chain/0001-receipt.json"
    receipt.write_bytes(receipt.read_bytes().replace(b"DS Bob", b"DS Rob"))
    report = same_verdict(env, page, bundle, key)
    assert ("bad_custody_signature", "custody/chain/0001-receipt.json") in kinds(report)


# --- no network -----------------------------------------------------------------------


def test_no_request_leaves_the_page(page: Page, bundle: Path, key: Path, tmp_path: Path) -> None:
    """Chrome's performance log sees every request: only the page's own file:
    URL, the bundle's files and the workers' blob: URLs, nothing else."""
    page.driver.get_log("performance")  # drop what came before
    page.driver.refresh()
    page.wait(lambda: page.state() == "ready", 30)
    page.trust_key_file(key)
    assert page.verify(zip_of(bundle, tmp_path / "n.zip"))["verified"] is True
    # A request the page might try despite the policy would show as blocked.
    page.driver.execute_script("fetch('http://127.0.0.1:9/x').catch(() => {});")
    urls = []
    for entry in page.driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert urls, "the performance log recorded nothing"
    outside = [u for u in urls if not u.startswith(("file:", "blob:", "data:"))]
    assert outside == [], outside
    console = " ".join(e["message"] for e in page.driver.get_log("browser"))
    assert "Content Security Policy" in console


# --- several GB, memory flat (opt-in: CUSTODY_BIG_TESTS=1) ------------------------------


@pytest.mark.skipif(
    os.environ.get("CUSTODY_BIG_TESTS") != "1",
    reason="writes and hashes 4 GiB; run with CUSTODY_BIG_TESTS=1",
)
def test_a_bundle_of_several_gb_keeps_memory_flat(
    env: Env, page: Page, officer: dict[str, Any], tmp_path: Path
) -> None:
    from browser_page import PeakSampler

    small = tmp_path / "small"
    small.mkdir()
    (small / "a.bin").write_bytes(os.urandom(1 << 20))
    big = tmp_path / "big"
    big.mkdir()
    with open(big / "VID_4GiB.mp4", "wb") as fh:
        chunk = os.urandom(16 << 20)
        for _ in range(256):
            fh.write(chunk)
    bundles = {}
    for name, src in (("small", small), ("big", big)):
        out = tmp_path / f"{name}-bundle"
        result = env.run("ingest", src, "--case", "BIG", "--no-metadata", "--out", out)
        assert result.exit_code == 0, result.output
        bundles[name] = out
    archive = zip_of(bundles["big"], tmp_path / "big.zip", flat=True, allowZip64=True)
    pid = page.driver.custody_driver_pid
    peaks = {}
    for label, target in (("small", bundles["small"]), ("big", bundles["big"]), ("zip", archive)):
        page.driver.refresh()
        page.wait(lambda: page.state() == "ready", 30)
        page.trust_key_file(Path(officer["public_key"]))
        with PeakSampler(pid) as sampler:
            result = page.verify(target, timeout=1800)
        assert result["verified"] is True, result["problems"]
        peaks[label] = sampler.peak
    # 4 GiB hashed as a folder and as a zip: the browser grows by far less than the file.
    for label in ("big", "zip"):
        assert peaks[label] - peaks["small"] < 768 * 1024, peaks


# --- RFC 3161 tokens (issue 12): the imprint only ---------------------------------------

TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = {serial}
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl_token(folder: Path, data: Path, digest: str = "sha256") -> bytes:
    """A real RFC 3161 reply from `openssl ts -reply`, by a throw-away TSA."""
    folder.mkdir(exist_ok=True)
    key, cert, config = folder / "tsa.key", folder / "tsa.pem", folder / "ts.cnf"
    if not cert.exists():
        (folder / "serial").write_text("01\n")
        config.write_text(TSA_CONFIG.format(serial=folder / "serial"))
        subprocess.run(
            [
                *(
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ),
                *("-nodes", "-subj", "/CN=Test TSA", "-days", "2", "-keyout", key, "-out", cert),
                *("-addext", "extendedKeyUsage=critical,timeStamping"),
            ],
            check=True,
            capture_output=True,
        )
    query, reply = folder / "q.tsq", folder / "r.tsr"
    subprocess.run(
        ["openssl", "ts", "-query", "-data", data, f"-{digest}", "-cert", "-out", query],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *("openssl", "ts", "-reply", "-queryfile", query, "-config", config),
            *("-inkey", key, "-signer", cert, "-out", reply),
        ],
        check=True,
        capture_output=True,
    )
    return reply.read_bytes()


def test_timestamp_imprints(env: Env, page: Page, bundle: Path, key: Path, tmp_path: Path) -> None:
    tsa = tmp_path / "tsa"
    stamps = bundle / "custody/timestamps"
    stamps.mkdir()
    (stamps / "1.tsr").write_bytes(_openssl_token(tsa, bundle / "custody/statement.sig"))
    (stamps / "2.tsr").write_bytes(_openssl_token(tsa, bundle / "custody/statement.sig", "sha512"))
    refresh_tag_manifest(bundle)
    lines = (bundle / "tagmanifest-sha256.txt").read_text().splitlines()
    for name in ("1.tsr", "2.tsr"):
        digest = hashlib.sha256((stamps / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  custody/timestamps/{name}")
    (bundle / "tagmanifest-sha256.txt").write_text(
        "\n".join(sorted(lines, key=lambda line: line[66:])) + "\n"
    )
    # custody verify with no TSA root chosen: the tokens are valid but untrusted.
    assert same_verdict(env, page, bundle, key)["verified"] is True
    page.driver.refresh()
    page.wait(lambda: page.state() == "ready", 30)
    page.trust_key_file(key)
    got = page.verify(bundle)
    assert got["problems"] == [] and got["verified"] is True
    # Valid tokens from a TSA no one chose: custody's "untrusted", as on the page.
    assert [t["status"] for t in got["timestamps"]] == ["untrusted", "untrusted"]
    assert any("timestamp authority" in w for w in got["warnings"])
    # A token over other bytes, and a file that is not N.tsr, are bad_timestamp.
    (stamps / "3.tsr").write_bytes(_openssl_token(tsa, bundle / "custody/statement.json"))
    (stamps / "notes.txt").write_text("x")
    report = same_verdict(env, page, bundle, key)
    assert {
        ("bad_timestamp", "custody/timestamps/3.tsr"),
        ("bad_timestamp", "custody/timestamps/notes.txt"),
    } <= kinds(report)


def test_without_webassembly_the_answer_is_the_same(
    env: Env, driver: Any, page_file: Path, officer: dict[str, Any], tmp_path: Path
) -> None:
    """A browser that refuses WebAssembly under the page's policy (the policy
    without 'wasm-unsafe-eval' here): plain JavaScript hashes instead."""
    html = page_file.read_text(encoding="utf-8")
    assert " 'wasm-unsafe-eval'" in html
    no_wasm = tmp_path / "no-wasm.html"
    no_wasm.write_text(html.replace(" 'wasm-unsafe-eval'", "", 1), encoding="utf-8")
    src = tmp_path / "big-src"
    src.mkdir()
    (src / "VID_40MiB.mp4").write_bytes(os.urandom(40 << 20))  # above the one-shot size
    (src / "note.txt").write_text("small\n")
    out = tmp_path / "big-bundle"
    assert env.run("ingest", src, "--case", "W", "--no-metadata", "--out", out).exit_code == 0
    page = Page(driver, no_wasm)
    key = Path(officer["public_key"])
    for target in (out, zip_of(out, tmp_path / "big.zip", compression=zipfile.ZIP_DEFLATED)):
        page.driver.refresh()
        page.wait(lambda: page.state() == "ready", 30)
        page.trust_key_file(key)
        assert page.verify(target)["verified"] is True, target
    data = bytearray((out / "data/VID_40MiB.mp4").read_bytes())
    data[-1] ^= 1
    (out / "data/VID_40MiB.mp4").write_bytes(bytes(data))
    page.driver.refresh()
    page.wait(lambda: page.state() == "ready", 30)
    page.trust_key_file(key)
    assert kinds(page.verify(out)) == {("changed", "data/VID_40MiB.mp4")}
