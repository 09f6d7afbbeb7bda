"""The ledger: every kind of edit is detected and named; proofs check offline."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import PASSPHRASE, Env, refresh_tag_manifest
from custody.tlog.inclusion import proof_doc_bytes


def make_source(tmp: Path, name: str) -> Path:
    src = tmp / name
    src.mkdir()
    (src / "photo.jpg").write_bytes(name.encode() * 1000)
    (src / "note.txt").write_text(f"statement {name}\n")
    return src


@pytest.fixture
def recorded(env: Env, officer: dict) -> list[Path]:
    """Three ingests after the keygen: ledger entries 0..3."""
    bundles = []
    for i in range(3):
        src = make_source(env.tmp, f"src{i}")
        result = env.run("ingest", src, "--case", f"CASE-{i}", "--out", env.tmp / f"b{i}")
        assert result.exit_code == 0, result.output
        bundles.append(env.tmp / f"b{i}")
    return bundles


def db(env: Env) -> sqlite3.Connection:
    return sqlite3.connect(env.home / "ledger" / "ledger.sqlite3")


def forge_truncated_ledger(env: Env, size: int) -> None:
    """Keep the first `size` entries and re-sign a checkpoint for them with the
    officer's own key: a rewrite by the key's holder, which no check of the
    ledger alone can tell from the truth."""
    from custody.base.keys import find_key, load_private_key
    from custody.tlog.merkle import root_from_leaves
    from custody.tlog.note import sign_checkpoint

    key = load_private_key(find_key(home=env.home, selector=None), PASSPHRASE.encode())
    with db(env) as conn:
        conn.execute("DELETE FROM entries WHERE idx >= ?", (size,))
        conn.execute("DELETE FROM nodes WHERE idx * (1 << level) + (1 << level) > ?", (size,))
        origin = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()[0]
        leaves = [
            row[0] for row in conn.execute("SELECT hash FROM nodes WHERE level = 0 ORDER BY idx")
        ]
        note = sign_checkpoint(origin, size, root_from_leaves(leaves), key)
        conn.execute("UPDATE checkpoint SET size = ?, note = ? WHERE id = 1", (size, note))
    (env.home / "ledger" / "checkpoint.txt").write_bytes(note)


def ledger_verify(env: Env) -> tuple[int, dict]:
    result = env.run("ledger", "verify", "--json")
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def problem_paths(report: dict) -> set[str | None]:
    return {p["path"] for p in report["problems"]}


def test_intact_ledger_verifies(env: Env, recorded: list[Path]) -> None:
    code, report = ledger_verify(env)
    assert code == 0, report
    assert report["size"] == 4 and report["valid"] is True


def test_show_lists_the_timeline(env: Env, recorded: list[Path]) -> None:
    result = env.run("ledger", "show", "--json")
    rows = json.loads(result.stdout)["entries"]
    assert [r["action"] for r in rows] == ["keygen", "ingest", "ingest", "ingest"]
    assert rows[1]["case"] == "CASE-0"
    assert rows[1]["who"] == "PC Jane Smith, War Crimes Team"
    only = json.loads(env.run("ledger", "show", "--case", "CASE-2", "--json").stdout)
    assert [r["index"] for r in only["entries"]] == [3]
    human = env.run("ledger", "show")
    assert "ingest" in human.stdout and "CASE-1" in human.stdout


def test_edited_entry_is_named(env: Env, recorded: list[Path]) -> None:
    with db(env) as conn:
        entry = conn.execute("SELECT entry FROM entries WHERE idx = 2").fetchone()[0]
        conn.execute(
            "UPDATE entries SET entry = ? WHERE idx = 2",
            (bytes(entry).replace(b"CASE-1", b"CASE-X"),),
        )
    code, report = ledger_verify(env)
    assert code == 1
    kinds = {(p["kind"], p["path"]) for p in report["problems"]}
    assert ("bad_signature", "entry 2") in kinds
    assert ("broken_chain", "entry 3") in kinds


def test_edit_as_text_is_detected_without_a_crash(env: Env, recorded: list[Path]) -> None:
    with db(env) as conn:
        conn.execute("UPDATE entries SET entry = replace(entry, 'CASE-0', 'CASE-9') WHERE idx=1")
    code, report = ledger_verify(env)
    assert code == 1
    assert "entry 1" in problem_paths(report)


def test_deleted_middle_entry(env: Env, recorded: list[Path]) -> None:
    with db(env) as conn:
        conn.execute("DELETE FROM entries WHERE idx = 1")
    code, report = ledger_verify(env)
    assert code == 1
    assert any(p["kind"] in ("out_of_place", "broken_chain") for p in report["problems"])


@pytest.mark.parametrize("count", [1, 2])
def test_deleted_newest_entries(env: Env, recorded: list[Path], count: int) -> None:
    with db(env) as conn:
        conn.execute("DELETE FROM entries WHERE idx >= ?", (4 - count,))
    code, report = ledger_verify(env)
    assert code == 1
    assert any(p["kind"] == "truncated" for p in report["problems"])
    assert any(f"newest {count} entr" in p["detail"] for p in report["problems"])


def test_reordered_entries(env: Env, recorded: list[Path]) -> None:
    with db(env) as conn:
        rows = dict(conn.execute("SELECT idx, entry FROM entries WHERE idx IN (1, 2)"))
        conn.execute("UPDATE entries SET entry = ? WHERE idx = 1", (rows[2],))
        conn.execute("UPDATE entries SET entry = ? WHERE idx = 2", (rows[1],))
    code, report = ledger_verify(env)
    assert code == 1
    assert {"entry 1", "entry 2"} <= problem_paths(report)


def test_inserted_entry(env: Env, recorded: list[Path]) -> None:
    with db(env) as conn:
        entry, sig = conn.execute("SELECT entry, signature FROM entries WHERE idx = 1").fetchone()
        conn.execute("UPDATE entries SET idx = idx + 10 WHERE idx >= 2")
        conn.execute("INSERT INTO entries VALUES (2, ?, ?)", (entry, sig))
    code, report = ledger_verify(env)
    assert code == 1
    assert "entry 2" in problem_paths(report)


def test_replaced_by_older_copy_is_caught(env: Env, recorded: list[Path], tmp_path: Path) -> None:
    old_copy = tmp_path / "old-ledger"
    shutil.copytree(env.home / "ledger", old_copy)
    src = make_source(env.tmp, "later")
    assert env.run("ingest", src, "--case", "LATER", "--out", env.tmp / "later-b").exit_code == 0
    handed_out = tmp_path / "checkpoint-for-prosecutor.txt"
    handed_out.write_text(env.run("ledger", "checkpoint").stdout)
    assert env.run("ledger", "consistency", handed_out).exit_code == 0

    # Roll the database back; checkpoint.txt beside it still tells.
    shutil.copy(old_copy / "ledger.sqlite3", env.home / "ledger" / "ledger.sqlite3")
    code, report = ledger_verify(env)
    assert code == 1
    assert any(
        p["kind"] == "truncated" and p["path"] == "checkpoint.txt" for p in report["problems"]
    )

    # Roll back everything: only the handed-out checkpoint can tell, and it does.
    shutil.rmtree(env.home / "ledger")
    shutil.copytree(old_copy, env.home / "ledger")
    assert ledger_verify(env)[0] == 0
    result = env.run("ledger", "consistency", handed_out, "--json")
    assert result.exit_code == 1
    assert "rolled back" in json.loads(result.stdout)["problems"][0]
    # And the bundle ingested later no longer matches this ledger.
    verify = env.run("verify", env.tmp / "later-b", "--json")
    assert verify.exit_code == 1
    assert "ledger_mismatch" in {p["kind"] for p in json.loads(verify.stdout)["problems"]}


def test_forked_ledger_fails_consistency(env: Env, recorded: list[Path], tmp_path: Path) -> None:
    handed_out = tmp_path / "cp.txt"
    handed_out.write_text(env.run("ledger", "checkpoint").stdout)
    # Rewrite history as only the key's holder can: drop everything after the
    # keygen, sign a checkpoint for what is left, and append something else.
    forge_truncated_ledger(env, 1)
    src = make_source(env.tmp, "fork")
    for i in range(3):
        forked = env.run("ingest", src, "--case", f"FORK-{i}", "--out", env.tmp / f"fork{i}")
        assert forked.exit_code == 0, forked.output
    result = env.run("ledger", "consistency", handed_out, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["consistent"] is False


def test_consistency_proof_grows_with_the_ledger(
    env: Env, recorded: list[Path], tmp_path: Path
) -> None:
    cp = tmp_path / "cp.txt"
    cp.write_text(env.run("ledger", "checkpoint").stdout)
    lines = cp.read_text().splitlines()
    assert lines[1] == "4" and lines[3] == "" and lines[4].startswith("\u2014 custody-ledger/")
    src = make_source(env.tmp, "more")
    for i in range(5):
        env.run("ingest", src, "--case", "MORE", "--out", env.tmp / f"more{i}", "--again")
    result = env.run("ledger", "consistency", cp, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["old_size"] == 4 and data["new_size"] == 9 and data["proof"]


def test_checkpoint_of_another_ledger_is_a_usage_error(
    env: Env, recorded: list[Path], tmp_path: Path
) -> None:
    other = Env(home=tmp_path / "other", tmp=tmp_path)
    other.run("keygen", "--name", "Other")
    cp = tmp_path / "other.txt"
    cp.write_text(other.run("ledger", "checkpoint").stdout)
    result = env.run("ledger", "consistency", cp)
    assert result.exit_code == 2
    assert "another ledger" in result.stderr
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello\n")
    assert env.run("ledger", "consistency", garbage).exit_code == 2


def test_no_ledger_is_a_usage_error(tmp_path: Path) -> None:
    fresh = Env(home=tmp_path / "fresh", tmp=tmp_path)
    result = fresh.run("ledger", "verify")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1


def test_bundle_proof_checks_offline_on_an_empty_home(
    env: Env, recorded: list[Path], officer: dict, tmp_path: Path
) -> None:
    court = Env(home=tmp_path / "court", tmp=tmp_path)
    result = court.run("verify", recorded[1], "--trust", officer["public_key"], "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ledger"]["proof_valid"] is True
    assert report["ledger"]["leaf_index"] == 2 and report["ledger"]["tree_size"] == 3
    assert report["ledger"]["local_ledger"] is None
    assert not (tmp_path / "court" / "ledger").exists()
    mine = json.loads(env.run("verify", recorded[1], "--json").stdout)
    assert mine["ledger"]["local_ledger"] == "consistent"


def _edit_proof(bundle: Path, change) -> None:
    path = bundle / "custody/ledger-proof.json"
    doc = json.loads(path.read_text())
    change(doc)
    # Written in custody's own spelling, so that only the edit itself can tell.
    path.write_bytes(proof_doc_bytes(doc))
    refresh_tag_manifest(bundle)


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


PROOF_EDITS = {
    "inclusion path": lambda d: d.__setitem__(
        "inclusion_proof", [_flip_b64(d["inclusion_proof"][0]), *d["inclusion_proof"][1:]]
    ),
    "leaf index": lambda d: d.__setitem__("leaf_index", d["leaf_index"] + 1),
    "tree size": lambda d: d.__setitem__("tree_size", d["tree_size"] + 5),
    "entry": lambda d: d.__setitem__("entry", d["entry"].replace("CASE-1", "CASE-7")),
    "signature": lambda d: d.__setitem__("signature", _flip_b64(d["signature"])),
    "checkpoint": lambda d: d.__setitem__("checkpoint", d["checkpoint"].replace("\n3\n", "\n2\n")),
}


@pytest.mark.parametrize("what", sorted(PROOF_EDITS))
def test_tampered_proof_is_not_verified(
    env: Env, recorded: list[Path], officer: dict, tmp_path: Path, what: str
) -> None:
    _edit_proof(recorded[1], PROOF_EDITS[what])
    court = Env(home=tmp_path / "court", tmp=tmp_path)
    result = court.run("verify", recorded[1], "--trust", officer["public_key"], "--json")
    assert result.exit_code == 1
    kinds = {p["kind"] for p in json.loads(result.stdout)["problems"]}
    assert kinds == {"bad_ledger_proof"}


def test_respelled_proof_is_named(
    env: Env, recorded: list[Path], officer: dict, tmp_path: Path
) -> None:
    """Same facts, other bytes (compact JSON): the proof still checks out, but
    the file is not what custody wrote, and the court is told so."""
    path = recorded[1] / "custody/ledger-proof.json"
    path.write_text(json.dumps(json.loads(path.read_text())))
    refresh_tag_manifest(recorded[1])
    court = Env(home=tmp_path / "court", tmp=tmp_path)
    result = court.run("verify", recorded[1], "--trust", officer["public_key"], "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [(p["kind"], p["path"]) for p in problems] == [
        ("bad_tag_format", "custody/ledger-proof.json")
    ]
    assert problems[0]["detail"] == "line 1 differs from what custody writes"


def test_proof_from_another_bundle_is_not_accepted(env: Env, recorded: list[Path]) -> None:
    shutil.copy(
        recorded[0] / "custody/ledger-proof.json", recorded[1] / "custody/ledger-proof.json"
    )
    refresh_tag_manifest(recorded[1])
    result = env.run("verify", recorded[1], "--json")
    assert result.exit_code == 1
    details = [p["detail"] for p in json.loads(result.stdout)["problems"]]
    assert any("another" in d for d in details)


def test_bundle_without_proof_is_reported(env: Env, recorded: list[Path]) -> None:
    (recorded[0] / "custody/ledger-proof.json").unlink()
    refresh_tag_manifest(recorded[0])
    result = env.run("verify", recorded[0], "--json")
    report = json.loads(result.stdout)
    assert report["ledger"] is None
    assert any("no ledger proof" in w for w in report["warnings"])
    assert "no ledger proof" in env.run("verify", recorded[0]).stderr
