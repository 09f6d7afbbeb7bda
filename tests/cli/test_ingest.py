"""custody ingest: what an officer gets, and what it never does to the evidence."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import unicodedata
from pathlib import Path

import pytest

from conftest import Env, make_evidence, tree_snapshot


def test_bundle_is_a_bagit_bag_with_custody_tag_files(bundle: Path) -> None:
    for name in (
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
        "custody/statement.json",
        "custody/statement.sig",
        "custody/signer.pub",
        "custody/metadata.json",
    ):
        assert (bundle / name).is_file(), name
    assert (bundle / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    assert len((bundle / "custody/statement.sig").read_bytes()) == 64


def test_copies_are_byte_exact_with_modification_times(evidence: Path, bundle: Path) -> None:
    source = tree_snapshot(evidence)
    copied = tree_snapshot(bundle / "data")
    assert source.keys() == copied.keys()
    for rel, (content, _mode, mtime) in source.items():
        assert copied[rel][0] == content, rel
        assert copied[rel][2] == mtime, rel


def test_source_is_never_modified(env: Env, evidence: Path, ingest) -> None:
    before = tree_snapshot(evidence)
    result, _ = ingest(evidence, "--out", str(env.tmp / "out"))
    assert result.exit_code == 0
    assert tree_snapshot(evidence) == before


def test_manifest_lists_every_file_with_its_sha256(evidence: Path, bundle: Path) -> None:
    lines = (bundle / "manifest-sha256.txt").read_text("utf-8").splitlines()
    listed = {line[66:]: line[:64] for line in lines}
    for path in evidence.rglob("*"):
        if path.is_file():
            rel = "data/" + path.relative_to(evidence).as_posix()
            assert listed[rel] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(listed) == sum(1 for p in evidence.rglob("*") if p.is_file())


def test_names_differing_only_by_normalisation_are_both_kept(
    env: Env, evidence: Path, ingest
) -> None:
    _, data = ingest(evidence, "--out", str(env.tmp / "o"))
    names = os.listdir(Path(data["bundle"]) / "data")
    assert unicodedata.normalize("NFC", "Café.txt") in names
    assert unicodedata.normalize("NFD", "Café.txt") in names
    assert len(data["warnings"]) == 1 and "normalisation" in data["warnings"][0]


def test_bag_info_and_statement_describe_the_ingest(
    env: Env, evidence: Path, bundle: Path, officer: dict
) -> None:
    info = dict(line.split(": ", 1) for line in (bundle / "bag-info.txt").read_text().splitlines())
    assert info["Custody-Case-Id"] == "ICC-2026-014"
    assert info["Custody-Exhibit-Ref"] == "JS/1"
    assert info["Custody-Officer"] == "PC Jane Smith, War Crimes Team"
    assert info["Custody-Key-Fingerprint"] == officer["fingerprint"]
    assert info["Custody-Source-Path"] == str(evidence)
    assert info["Custody-Source-Host"] == socket.gethostname()
    files = [p for p in evidence.rglob("*") if p.is_file()]
    assert info["Payload-Oxum"] == f"{sum(p.stat().st_size for p in files)}.{len(files)}"
    raw = (bundle / "custody/statement.json").read_bytes()
    st = json.loads(raw)
    assert st["format"] == "custody/statement/v1"
    assert st["case"] == "ICC-2026-014" and st["exhibit"] == "JS/1"
    assert st["key_fingerprint"] == officer["fingerprint"]
    assert st["file_count"] == len(files)
    for name, field in (
        ("manifest-sha256.txt", "manifest_sha256"),
        ("bag-info.txt", "bag_info_sha256"),
        ("custody/metadata.json", "metadata_sha256"),
    ):
        assert st[field] == hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    # Canonical JSON: sorted keys, no whitespace.
    assert raw == json.dumps(st, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_json_output_has_the_documented_fields(env: Env, evidence: Path, ingest) -> None:
    result, data = ingest(evidence, "--out", str(env.tmp / "o"))
    assert result.exit_code == 0
    for key in ("bundle", "case", "files", "bytes", "fingerprint", "bundle_id", "skipped"):
        assert key in data
    assert data["files"] == sum(1 for p in evidence.rglob("*") if p.is_file())
    assert result.stderr == ""  # no bar, no colour in a pipe


def test_note_is_kept_exactly_in_the_statement(env: Env, evidence: Path, ingest) -> None:
    note = "Handed over by W1\nin a sealed bag #A-17"
    result, data = ingest(evidence, "--out", str(env.tmp / "o"), "--note", note)
    assert result.exit_code == 0
    st = json.loads((Path(data["bundle"]) / "custody/statement.json").read_bytes())
    # Kept exactly as a salted commitment (ADR 0016): never clear text in the statement,
    # which a disclosure hands over.
    assert st["note"] is None
    lines = (Path(data["bundle"]) / "custody/commitments.jsonl").read_bytes().splitlines()
    assert json.loads(lines[st["commitments"]["note_leaf"]])["value"] == note
    info = (Path(data["bundle"]) / "bag-info.txt").read_text()
    assert "Internal-Sender-Description: Handed over by W1 in a sealed bag #A-17\n" in info


def test_out_folder_gets_a_named_bundle(env: Env, evidence: Path, ingest) -> None:
    out = env.tmp / "bundles"
    out.mkdir()
    first, a = ingest(evidence, "--out", str(out))
    second, b = ingest(evidence, "--out", str(out), "--again")
    assert first.exit_code == second.exit_code == 0
    assert a["bundle"] != b["bundle"]
    assert Path(a["bundle"]).parent == out
    assert Path(a["bundle"]).name.startswith("ICC-2026-014_JS-1_")
    assert sorted(os.listdir(out)) == sorted([Path(a["bundle"]).name, Path(b["bundle"]).name])


def test_out_that_is_a_bundle_is_refused(env: Env, evidence: Path, bundle: Path, ingest) -> None:
    before = tree_snapshot(bundle)
    result, data = ingest(evidence, "--out", str(bundle))
    assert result.exit_code == 2
    assert data["error"]["message"].startswith("output is already a bundle")
    assert tree_snapshot(bundle) == before


def test_symlinks_are_not_followed_but_reported(env: Env, tmp_path: Path, ingest) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "real.txt").write_text("real")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the evidence folder")
    (src / "link.txt").symlink_to(secret)
    (src / "loop").symlink_to(src)
    result, data = ingest(src, "--out", str(tmp_path / "o"))
    assert result.exit_code == 0
    assert {s["path"] for s in data["skipped"]} == {"link.txt", "loop"}
    assert sorted(os.listdir(Path(data["bundle"]) / "data")) == ["real.txt"]


def test_fifo_is_skipped_without_hanging(env: Env, tmp_path: Path, ingest) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    os.mkfifo(src / "pipe")
    outcome: dict = {}
    t = threading.Thread(target=lambda: outcome.update(r=ingest(src, "--out", str(tmp_path / "o"))))
    t.start()
    t.join(timeout=30)
    assert not t.is_alive(), "ingest hung on a FIFO"
    result, data = outcome["r"]
    assert result.exit_code == 0
    assert data["skipped"] == [{"path": "pipe", "reason": "FIFO (named pipe)"}]


@pytest.mark.parametrize(
    "case",
    ["missing", "empty", "link", "inside"],
)
def test_unusable_source_stops_with_one_line_and_leaves_nothing(
    env: Env, tmp_path: Path, ingest, case: str
) -> None:
    src = tmp_path / "src"
    out = tmp_path / "out"
    out.mkdir()
    if case == "empty":
        src.mkdir()
    elif case == "link":  # a single file is a source (a chat .zip); a link to one is not
        (tmp_path / "target.zip").write_text("x")
        src.symlink_to(tmp_path / "target.zip")
    elif case == "inside":
        make_evidence(src)
        out = src / "bundles"
        out.mkdir()
    before = tree_snapshot(tmp_path / "src") if src.is_dir() else None
    result, _ = ingest(src, "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    assert str(src) in result.stderr
    assert os.listdir(out) == []
    if before is not None:
        assert tree_snapshot(tmp_path / "src") == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_stops_the_ingest(env: Env, tmp_path: Path, ingest) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_text("ok")
    locked = src / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    result, _ = ingest(src, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "locked.txt" in result.stderr
    assert not (tmp_path / "o").exists()


def test_no_partial_folder_is_left_after_a_failure(env: Env, officer: dict, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    out = tmp_path / "out"
    out.mkdir()
    result = env.run("ingest", src, "--case", "C\x01", "--out", out)
    assert result.exit_code == 2
    assert os.listdir(out) == []


def test_out_with_a_mistyped_parent_is_refused_and_creates_nothing(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src = make_evidence(tmp_path / "src")
    typo = tmp_path / "evidnce" / "cases"
    one = env.run("ingest", src, "--case", "C1", "--out", typo / "bundle")
    assert one.exit_code == 2
    assert one.stderr.strip().splitlines() == [
        f"custody: error: {typo / 'bundle'}: --out: {typo} does not exist "
        "(create it first, or check the path)"
    ]
    batch = env.run("ingest", src, src, "--case", "C1", "--out", typo)
    assert batch.exit_code == 2 and "does not exist" in batch.stderr
    assert not (tmp_path / "evidnce").exists()
    # A new folder for a batch inside an existing one is still made.
    ok = env.run("ingest", src, src, "--case", "C1", "--out", tmp_path / "new", "-q", "--again")
    assert ok.exit_code == 0, ok.output
    assert len(list((tmp_path / "new").iterdir())) == 2
