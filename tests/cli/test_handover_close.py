"""Closing a hand-over in the sender's copy: the receiver exports the receipt from
their copy, the sender brings it back. Until then the sender's copy verifies as an
open hand-over, never as tampered; a receipt that is not exactly the right one is
refused with one line and nothing written."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import rfc8785

from conftest import PASSPHRASE, Env, refresh_tag_manifest, validate
from custody.base.keys import find_key, load_private_key
from custody.bundle.format.chain import party


@pytest.fixture
def people(tmp_path: Path) -> dict[str, Env]:
    """Three officers, each with their own home; Bob and Carol trust Alice."""
    envs = {n: Env(home=tmp_path / n, tmp=tmp_path) for n in ("alice", "bob", "carol")}
    names = {"alice": "PC Alice", "bob": "DS Bob", "carol": "DC Carol"}
    for who, env in envs.items():
        assert env.run("keygen", "--name", names[who]).exit_code == 0
        key_id = names[who].lower().replace(" ", "-")
        assert env.run("keys", "export", key_id, "-o", tmp_path / f"{who}.pub").exit_code == 0
    for who in ("bob", "carol"):
        assert envs[who].run("keys", "trust", tmp_path / "alice.pub").exit_code == 0
    return envs


def ingest(alice: Env, tmp_path: Path, name: str) -> tuple[Path, Path]:
    src = tmp_path / f"src-{name}"
    src.mkdir()
    (src / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + name.encode() * 900)
    (src / "notes.txt").write_text(f"interview notes {name}\n")
    bundle = tmp_path / f"alice-{name}"
    assert alice.run("ingest", src, "--case", "ICC-1", "--out", bundle).exit_code == 0
    return src, bundle


@pytest.fixture
def handed(people: dict[str, Env], tmp_path: Path) -> tuple[Path, Path, Path]:
    """Alice's copy after she handed it to Bob; Bob's copy, received, and the receipt
    he exported. Returns (source folder, Alice's copy, receipt file)."""
    alice, bob = people["alice"], people["bob"]
    src, mine = ingest(alice, tmp_path, "one")
    r = alice.run("transfer", mine, "--to", tmp_path / "bob.pub", "--reason", "To the lab")
    assert r.exit_code == 0, r.output
    theirs = tmp_path / "bob-one"
    shutil.copytree(mine, theirs)
    receipt = tmp_path / "receipt.json"
    r = bob.run("receive", theirs, "--export-receipt", receipt)
    assert r.exit_code == 0, r.output
    assert "Receipt file:" in r.stdout
    return src, mine, receipt


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def ledger_actions(env: Env) -> list[str]:
    return [e["action"] for e in json.loads(env.run("ledger", "show", "--json").stdout)["entries"]]


def test_open_hand_over_verifies_as_open_then_closes(
    people: dict[str, Env], handed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    alice = people["alice"]
    src, mine, receipt = handed
    # Open: intact and signed, so verified (exit 0), and said to be open, not tampered.
    r = alice.run("verify", mine)
    assert r.exit_code == 0, r.output
    first = r.stdout.splitlines()[0]
    assert first == f"VERIFIED — hand-over open: {mine}"
    assert "Hand-over open: handed to DS Bob (" in r.stdout
    assert "receipt not yet brought back." in r.stdout
    assert "NOT VERIFIED" not in r.stdout and "tamper" not in r.stdout.lower()
    r = alice.run("verify", mine, "--json")
    report = json.loads(r.stdout)
    assert r.exit_code == 0 and report["verified"] is True and report["problems"] == []
    validate("verify", report)
    open_ = report["open_handover"]
    assert open_["sequence"] == 1 and open_["to"]["name"] == "DS Bob"
    assert open_["record"] == "custody/chain/0001-transfer.json"
    assert open_["reason"] == "To the lab"
    # The clerk who needs a closed chain asks for it.
    r = alice.run("verify", mine, "--require-closed-chain", "--json")
    assert r.exit_code == 1
    assert [p["kind"] for p in json.loads(r.stdout)["problems"]] == ["unreceived_transfer"]
    # The report says open, not "must not be relied on".
    html = tmp_path / "report.html"
    assert alice.run("verify", mine, "--report", html).exit_code == 0
    text = html.read_text()
    assert "VERIFIED — hand-over open:" in text
    assert "receipt not yet brought back" in text
    assert "must not be relied on" not in text
    strict = tmp_path / "strict.html"
    r = alice.run("verify", mine, "--require-closed-chain", "--report", strict)
    assert r.exit_code == 1
    assert "required a closed chain of custody" in strict.read_text()
    # Among many bundles, its line says so too.
    r = alice.run("verify", mine, tmp_path / "bob-one")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].endswith(f"{mine} (hand-over open)")
    assert lines[1].endswith(str(tmp_path / "bob-one"))  # received: closed
    # Every file matches: the audit says so.
    r = alice.run("audit", src, mine)
    assert r.exit_code == 0, r.output
    assert "MATCHES" in r.stdout and "DIFFERS" not in r.stdout
    assert "does NOT verify" not in r.stdout
    r = alice.run("audit", src, mine, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["identical"] is True
    # A second hand-over waits for the first to close.
    r = alice.run("transfer", mine, "--to", tmp_path / "carol.pub", "--reason", "x")
    assert r.exit_code == 2 and "still open" in r.stderr and "--close" in r.stderr

    # Bring the receipt back.
    before, files_before = ledger_actions(alice), snapshot(mine)
    r = alice.run("transfer", "--close", mine, "--receipt", receipt, "--json")
    assert r.exit_code == 0, r.output
    closed = json.loads(r.stdout)
    validate("handover", closed)
    assert closed["action"] == "close" and closed["counterpart"]["name"] == "DS Bob"
    assert closed["record"] == "custody/chain/0001-receipt.json"
    assert ledger_actions(alice) == [*before, "handover-close"]
    # Exactly the receipt and its signature are added, and listed; nothing else moves,
    # and no temporary file is left inside the bundle or beside it.
    files_after = snapshot(mine)
    added = set(files_after) - set(files_before)
    assert added == {"custody/chain/0001-receipt.json", "custody/chain/0001-receipt.sig"}
    changed = {p for p in files_before if files_after.get(p) != files_before[p]}
    assert changed == {"tagmanifest-sha256.txt"}
    listed = files_after["tagmanifest-sha256.txt"].decode()
    assert all(p in listed for p in added)
    assert not list(mine.parent.glob(f".{mine.name}.*"))
    assert alice.run("ledger", "verify").exit_code == 0
    r = alice.run("verify", mine, "--require-closed-chain", "--json")
    report = json.loads(r.stdout)
    assert r.exit_code == 0, report["problems"]
    assert report["open_handover"] is None
    assert [s["event"] for s in report["custody_chain"]] == ["ingest", "transfer", "receive"]
    assert alice.run("verify", mine).stdout.startswith(f"VERIFIED: {mine}")
    # Alice's copy now holds exactly the receipt Bob's copy holds.
    theirs = tmp_path / "bob-one"
    for name in ("0001-receipt.json", "0001-receipt.sig"):
        assert (mine / "custody/chain" / name).read_bytes() == (
            theirs / "custody/chain" / name
        ).read_bytes()
    # Closing twice: nothing is open any more.
    r = alice.run("transfer", "--close", mine, "--receipt", receipt)
    assert r.exit_code == 2 and "no open hand-over" in r.stderr


def test_receiver_can_export_later(
    people: dict[str, Env], handed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    bob = people["bob"]
    _, _, receipt = handed
    again = tmp_path / "again.json"
    r = bob.run("receive", tmp_path / "bob-one", "--export-receipt", again, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["action"] == "export"
    validate("handover", json.loads(r.stdout))
    assert again.read_bytes() == receipt.read_bytes()
    # Never over an existing file.
    r = bob.run("receive", tmp_path / "bob-one", "--export-receipt", again)
    assert r.exit_code == 2 and "already exists" in r.stderr
    # Carol received nothing here: nothing to export.
    r = people["carol"].run("receive", tmp_path / "bob-one", "--export-receipt", tmp_path / "c")
    assert r.exit_code == 2 and not (tmp_path / "c").exists()


def _receipt_doc(path: Path) -> tuple[dict, bytes, bytes]:
    doc = json.loads(path.read_text())
    return doc, base64.b64decode(doc["record"]), base64.b64decode(doc["signature"])


def _write_receipt(path: Path, record: bytes, signature: bytes) -> Path:
    path.write_text(
        json.dumps(
            {
                "format": "custody/receipt-file/v1",
                "record": base64.b64encode(record).decode(),
                "signature": base64.b64encode(signature).decode(),
            }
        )
    )
    return path


def _carol_signs(people: dict[str, Env], record: dict) -> tuple[bytes, bytes]:
    pair = find_key(home=people["carol"].home, selector=None)
    key = load_private_key(pair, PASSPHRASE.encode())
    record = {**record, "by": party("DC Carol", pair.fingerprint, key.public_key())}
    data = bytes(rfc8785.dumps(record))
    return data, key.sign(data)


def _refused(alice: Env, bundle: Path, receipt: Path, words: str) -> None:
    before, actions = snapshot(bundle), ledger_actions(alice)
    r = alice.run("transfer", "--close", bundle, "--receipt", receipt)
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
    assert "nothing written" in r.stderr or "not a custody receipt file" in r.stderr
    assert snapshot(bundle) == before
    assert ledger_actions(alice) == actions
    assert alice.run("verify", bundle, "--json").exit_code == 0  # still open, still intact


def test_forged_receipts_are_refused_and_nothing_written(
    people: dict[str, Env], handed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    alice, bob = people["alice"], people["bob"]
    _, mine, receipt = handed
    _, record, signature = _receipt_doc(receipt)
    fields = json.loads(record)

    # Signed by someone else than the named receiver.
    data, sig = _carol_signs(people, fields)
    _refused(alice, mine, _write_receipt(tmp_path / "carol.json", data, sig), "not by the named")
    # Bob's record, with Carol's signature under it.
    _, carol_sig = _carol_signs(people, fields)
    forged = _write_receipt(tmp_path / "sig.json", record, carol_sig)
    _refused(alice, mine, forged, "signature does not verify")
    # Edited after signing: received a year earlier.
    edited = record.replace(fields["time"].encode(), fields["time"].replace("20", "19", 1).encode())
    assert edited != record
    _refused(alice, mine, _write_receipt(tmp_path / "ed.json", edited, signature), "signature")
    # Not canonical any more (a space added).
    spaced = record.replace(b'"by":', b'"by": ')
    _refused(alice, mine, _write_receipt(tmp_path / "sp.json", spaced, signature), "canonical")
    # Not a receipt file at all.
    (tmp_path / "junk.json").write_text("[1, 2]")
    _refused(alice, mine, tmp_path / "junk.json", "not a custody receipt file")

    # For another bundle: Bob's genuine receipt of a second exhibit.
    _, other = ingest(alice, tmp_path, "two")
    assert (
        alice.run("transfer", other, "--to", tmp_path / "bob.pub", "--reason", "y").exit_code == 0
    )
    other_receipt = tmp_path / "other.json"
    assert bob.run("receive", other, "--export-receipt", other_receipt).exit_code == 0
    _refused(alice, mine, other_receipt, "for another bundle")

    # For another hand-over of this bundle: a copy handed to Bob a second time.
    redo = tmp_path / "redo"
    shutil.copytree(mine, redo)
    shutil.rmtree(redo / "custody/chain")
    refresh_tag_manifest(redo)
    r = alice.run("transfer", redo, "--to", tmp_path / "bob.pub", "--reason", "again")
    assert r.exit_code == 0, r.output
    redo_receipt = tmp_path / "redo.json"
    assert bob.run("receive", redo, "--export-receipt", redo_receipt).exit_code == 0
    _refused(alice, mine, redo_receipt, "countersigns another hand-over")

    # The genuine one still closes it.
    r = alice.run("transfer", "--close", mine, "--receipt", receipt)
    assert r.exit_code == 0, r.output
    assert "Hand-over 1 closed: the receipt of DS Bob is brought back." in r.stdout


def test_an_earlier_receipt_does_not_close_a_later_hand_over(
    people: dict[str, Env], handed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    bob = people["bob"]
    _, _, receipt = handed
    theirs = tmp_path / "bob-one"
    r = bob.run("transfer", theirs, "--to", tmp_path / "carol.pub", "--reason", "To Carol")
    assert r.exit_code == 0, r.output
    before = snapshot(theirs)
    r = bob.run("transfer", "--close", theirs, "--receipt", receipt)
    assert r.exit_code == 2 and "countersigns another hand-over (number 1)" in r.stderr
    assert "not the open one (number 2" in r.stderr
    assert snapshot(theirs) == before


def test_close_needs_its_receipt_and_nothing_else(
    people: dict[str, Env], handed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    alice = people["alice"]
    _, mine, receipt = handed
    r = alice.run("transfer", "--close", mine)
    assert r.exit_code == 2 and "--receipt" in r.stderr
    r = alice.run("transfer", "--close", mine, "--receipt", receipt, "--to", tmp_path / "bob.pub")
    assert r.exit_code == 2
    r = alice.run("transfer", mine, "--receipt", receipt)
    assert r.exit_code == 2 and "--close" in r.stderr
    r = alice.run("transfer", mine, "--reason", "x")
    assert r.exit_code == 2 and "--to" in r.stderr
    r = alice.run("transfer", "--close", mine, "--receipt", tmp_path / "nope.json")
    assert r.exit_code == 2 and "cannot read the receipt file" in r.stderr
    for command in ("transfer", "receive"):
        help_text = alice.run(command, "--help").stdout
        assert "custody transfer --close ./ICC-2026-014_JS-1_... --receipt receipt.json" in (
            help_text
        )
    assert "--export-receipt receipt.json" in alice.run("receive", "--help").stdout
