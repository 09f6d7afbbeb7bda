"""custody verify: every kind of tampering is caught and named; honest copies verify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Env


def verify(env: Env, target: Path, *extra: str) -> tuple[int, dict]:
    result = env.run("verify", target, "--json", *extra)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def kinds(report: dict) -> set[tuple[str, str | None]]:
    return {(p["kind"], p["path"]) for p in report["problems"]}


def test_fresh_bundle_verifies(env: Env, bundle: Path, officer: dict) -> None:
    code, report = verify(env, bundle)
    assert code == 0
    assert report["verified"] is True and report["problems"] == []
    assert report["signer"]["fingerprint"] == officer["fingerprint"]
    assert report["signer"]["trusted"] is True
    assert report["signer"]["name"] == "PC Jane Smith, War Crimes Team"


def test_human_output_says_verified(env: Env, bundle: Path) -> None:
    result = env.run("verify", bundle)
    assert result.exit_code == 0
    assert result.stdout.startswith("VERIFIED")


def _payload_files(bundle: Path) -> list[Path]:
    return sorted(p for p in (bundle / "data").rglob("*") if p.is_file())


def test_one_changed_byte_in_any_file_is_detected(env: Env, bundle: Path) -> None:
    files = [p for p in _payload_files(bundle) if p.stat().st_size > 0]
    assert len(files) >= 8
    for path in files:
        original = path.read_bytes()
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        code, report = verify(env, bundle)
        rel = path.relative_to(bundle).as_posix()
        assert code == 1, rel
        assert kinds(report) == {("changed", rel)}, rel
        path.write_bytes(original)
    assert verify(env, bundle)[0] == 0


def test_removed_file(env: Env, bundle: Path) -> None:
    (bundle / "data/empty.txt").unlink()
    code, report = verify(env, bundle)
    assert code == 1
    assert ("missing", "data/empty.txt") in kinds(report)


def test_added_file(env: Env, bundle: Path) -> None:
    (bundle / "data/planted.jpg").write_bytes(b"not evidence")
    code, report = verify(env, bundle)
    assert code == 1
    assert ("extra", "data/planted.jpg") in kinds(report)


def test_renamed_file(env: Env, bundle: Path) -> None:
    os.rename(bundle / "data/IMG_20220225_140310.jpg", bundle / "data/IMG_0001.jpg")
    code, report = verify(env, bundle)
    assert code == 1
    problems = [p for p in report["problems"] if p["kind"] == "renamed"]
    assert problems[0]["path"] == "data/IMG_0001.jpg"
    assert "data/IMG_20220225_140310.jpg" in problems[0]["detail"]


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
}


@pytest.mark.parametrize("name", sorted(TAG_EDITS))
def test_any_edit_to_a_tag_file_is_detected(env: Env, bundle: Path, name: str) -> None:
    TAG_EDITS[name](bundle / name)
    code, report = verify(env, bundle)
    assert code == 1
    assert any(p["path"] == name for p in report["problems"]), report["problems"]


@pytest.mark.parametrize(
    "name",
    [
        "custody/statement.json",
        "custody/statement.sig",
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
        "custody/signer.pub",
        "bag-info.txt",
    ],
)
def test_deleted_tag_file_is_detected(env: Env, bundle: Path, name: str) -> None:
    (bundle / name).unlink()
    code, report = verify(env, bundle)
    assert code == 1
    assert ("missing", name) in kinds(report)


def test_edit_with_recomputed_manifests_still_fails_on_the_statement(
    env: Env, bundle: Path
) -> None:
    """An attacker who edits a photo and fixes both manifests is stopped by the signature."""
    import hashlib

    target = bundle / "data/IMG_20220225_140955.jpg"
    target.write_bytes(target.read_bytes() + b"edited")
    lines = []
    for line in (bundle / "manifest-sha256.txt").read_text().splitlines():
        if line.endswith("data/IMG_20220225_140955.jpg"):
            line = hashlib.sha256(target.read_bytes()).hexdigest() + line[64:]
        lines.append(line)
    (bundle / "manifest-sha256.txt").write_text("\n".join(lines) + "\n")
    tags = []
    for line in (bundle / "tagmanifest-sha256.txt").read_text().splitlines():
        name = line[66:]
        tags.append(hashlib.sha256((bundle / name).read_bytes()).hexdigest() + "  " + name)
    (bundle / "tagmanifest-sha256.txt").write_text("\n".join(tags) + "\n")
    code, report = verify(env, bundle)
    assert code == 1
    assert ("statement_mismatch", "manifest-sha256.txt") in kinds(report)


def test_bundle_resigned_with_another_key_is_not_trusted(
    env: Env, evidence: Path, bundle: Path, tmp_path: Path
) -> None:
    """Mallory re-ingests altered evidence with her own key and swaps the bundle."""
    mallory = Env(home=tmp_path / "mallory", tmp=tmp_path)
    assert mallory.run("keygen", "--name", "PC Jane Smith, War Crimes Team").exit_code == 0
    (evidence / "empty.txt").write_text("planted")
    forged = tmp_path / "forged"
    result = mallory.run("ingest", evidence, "--case", "ICC-2026-014", "--out", forged)
    assert result.exit_code == 0
    code, report = verify(env, forged)
    assert code == 1
    assert report["signer"]["trusted"] is False
    assert report["signer"]["signature_valid"] is True
    assert {k for k, _ in kinds(report)} == {"untrusted_signer"}
    # Swapping only the statement, signature and key into the genuine bundle fails too.
    for name in ("custody/statement.json", "custody/statement.sig", "custody/signer.pub"):
        shutil.copy(forged / name, bundle / name)
    code, report = verify(env, bundle)
    assert code == 1
    assert "untrusted_signer" in {k for k, _ in kinds(report)}


def test_trust_comes_from_the_verifier_not_the_bundle(
    env: Env, bundle: Path, officer: dict, tmp_path: Path
) -> None:
    clerk = Env(home=tmp_path / "clerk", tmp=tmp_path)
    code, report = verify(clerk, bundle)
    assert code == 1
    assert report["signer"]["signature_valid"] is True
    assert kinds(report) == {("untrusted_signer", "custody/statement.json")}
    assert verify(clerk, bundle, "--trust", officer["public_key"])[0] == 0
    spaced = " ".join(officer["fingerprint"][i : i + 4] for i in range(0, 64, 4))
    assert verify(clerk, bundle, "--trust", spaced)[0] == 0
    code, _ = verify(env, bundle, "--no-trust-store")
    assert code == 1


def test_bad_trust_argument_is_a_usage_error(env: Env, bundle: Path) -> None:
    result = env.run("verify", bundle, "--trust", "abcd")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1


def test_honest_copies_verify(env: Env, bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", bundle, copy], check=True)
    assert verify(env, copy)[0] == 0
    subprocess.run(["zip", "-qr", tmp_path / "b.zip", bundle.name], cwd=bundle.parent, check=True)
    subprocess.run(["zip", "-qr", tmp_path / "flat.zip", "."], cwd=bundle, check=True)
    subprocess.run(["tar", "cf", tmp_path / "b.tar", "-C", bundle.parent, bundle.name], check=True)
    subprocess.run(["tar", "czf", tmp_path / "b.tar.gz", "-C", bundle, "."], check=True)
    for archive in ("b.zip", "flat.zip", "b.tar", "b.tar.gz"):
        code, report = verify(env, tmp_path / archive)
        assert code == 0, (archive, report["problems"])
        assert report["files_checked"] == len(_payload_files(bundle))


def test_archives_are_read_in_place(env: Env, bundle: Path, tmp_path: Path) -> None:
    subprocess.run(["zip", "-qr", tmp_path / "b.zip", bundle.name], cwd=bundle.parent, check=True)
    before = sorted(os.listdir(tmp_path))
    assert verify(env, tmp_path / "b.zip")[0] == 0
    assert sorted(os.listdir(tmp_path)) == before


def test_tampered_archive_is_detected(env: Env, bundle: Path, tmp_path: Path) -> None:
    target = bundle / "data/VID_20220225_141500.mp4"
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as zf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(bundle).as_posix())
    code, report = verify(env, tmp_path / "t.zip")
    assert code == 1
    assert kinds(report) == {("changed", "data/VID_20220225_141500.mp4")}


def test_symlink_in_bundle_is_never_followed(env: Env, bundle: Path, tmp_path: Path) -> None:
    victim = bundle / "data/empty.txt"
    outside = tmp_path / "outside.txt"
    outside.write_bytes(victim.read_bytes())  # same hash as the manifest says
    victim.unlink()
    victim.symlink_to(outside)
    code, report = verify(env, bundle)
    assert code == 1
    assert ("not_regular_file", "data/empty.txt") in kinds(report)


def test_tar_symlink_member_is_rejected(env: Env, bundle: Path, tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tf:
        for p in sorted(bundle.rglob("*")):
            rel = p.relative_to(bundle).as_posix()
            if rel == "data/empty.txt":
                info = tarfile.TarInfo(rel)
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                tf.addfile(info)
            else:
                tf.add(p, rel, recursive=False)
    code, report = verify(env, archive)
    assert code == 1
    assert ("not_regular_file", "data/empty.txt") in kinds(report)


@pytest.mark.parametrize("what", ["folder", "random", "empty", "missing"])
def test_not_a_bundle_is_exit_2_with_one_line(env: Env, tmp_path: Path, what: str) -> None:
    target = tmp_path / "thing"
    if what == "folder":
        target.mkdir()
        (target / "a.txt").write_text("a")
    elif what == "random":
        target.write_bytes(os.urandom(4096))
    elif what == "empty":
        target.write_bytes(b"")
    result = env.run("verify", target)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and str(target) in result.stderr
    assert result.stdout == ""


def test_library_raising_style(env: Env, bundle: Path, officer: dict) -> None:
    """The library offers both styles: a report that never raises, and a call that does."""
    from custody.base.errors import VerificationFailed
    from custody.base.keys import read_public_key_file
    from custody.bundle.verify.evaluate import check_bundle, verify_bundle
    from custody.policy import TrustPolicy

    key = read_public_key_file(Path(officer["public_key"]))
    assert check_bundle(bundle=bundle, policy=TrustPolicy(keys=(key,))).verified
    (bundle / "data/empty.txt").write_text("changed")
    assert not verify_bundle(bundle=bundle, policy=TrustPolicy(keys=(key,))).verified
    with pytest.raises(VerificationFailed) as caught:
        check_bundle(bundle=bundle, policy=TrustPolicy(keys=(key,)))
    assert caught.value.exit_code == 1 and "data/empty.txt" in str(caught.value)
