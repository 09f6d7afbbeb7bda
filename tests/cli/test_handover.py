"""Transfer and receipt of custody between three people, and every break in the chain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Env, refresh_tag_manifest


@pytest.fixture
def people(tmp_path: Path) -> dict[str, Env]:
    envs = {n: Env(home=tmp_path / n, tmp=tmp_path) for n in ("alice", "bob", "registry")}
    names = {"alice": "PC Alice", "bob": "DS Bob", "registry": "ICC Registry"}
    for who, env in envs.items():
        assert env.run("keygen", "--name", names[who]).exit_code == 0
        key_id = names[who].lower().replace(" ", "-")
        assert env.run("keys", "export", key_id, "-o", tmp_path / f"{who}.pub").exit_code == 0
    for who in ("bob", "registry"):
        assert envs[who].run("keys", "trust", tmp_path / "alice.pub").exit_code == 0
    return envs


@pytest.fixture
def held(people: dict[str, Env], tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    bundle = tmp_path / "bundle"
    assert people["alice"].run("ingest", src, "--case", "ICC-1", "--out", bundle).exit_code == 0
    return bundle


def chain(env: Env, bundle: Path) -> tuple[int, dict]:
    result = env.run("verify", bundle, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_full_chain_between_three_keys(people: dict[str, Env], held: Path, tmp_path: Path) -> None:
    alice, bob, registry = people["alice"], people["bob"], people["registry"]
    before = {p: p.read_bytes() for p in (held / "data").rglob("*") if p.is_file()}
    manifest = (held / "manifest-sha256.txt").read_bytes()
    r = alice.run("transfer", held, "--to", tmp_path / "bob.pub", "--reason", "To investigators")
    assert r.exit_code == 0, r.output
    assert bob.run("receive", held).exit_code == 0
    bob_fp = json.loads(bob.run("keys", "list", "--json").stdout)["keys"][0]["fingerprint"]
    registry.run("keys", "trust", tmp_path / "bob.pub")
    reg_fp = json.loads(registry.run("keys", "list", "--json").stdout)["keys"][0]["fingerprint"]
    # By fingerprint this time, as read out over the phone.
    r = bob.run("transfer", held, "--to", reg_fp, "--reason", "To the court registry")
    assert r.exit_code == 0, r.output
    assert registry.run("receive", held).exit_code == 0

    code, report = chain(registry, held)
    assert code == 0, report["problems"]
    events = [(s["event"], s["by"]["name"]) for s in report["custody_chain"]]
    assert events == [
        ("ingest", "PC Alice"),
        ("transfer", "PC Alice"),
        ("receive", "DS Bob"),
        ("transfer", "DS Bob"),
        ("receive", "ICC Registry"),
    ]
    assert report["custody_chain"][1]["to"]["fingerprint"] == bob_fp
    assert all(s["signature_valid"] for s in report["custody_chain"])
    # The evidence and its manifest are untouched.
    assert {p: p.read_bytes() for p in (held / "data").rglob("*") if p.is_file()} == before
    assert (held / "manifest-sha256.txt").read_bytes() == manifest
    # Each ledger recorded its side, and all stay valid.
    for env, actions in (
        (alice, ["keygen", "ingest", "transfer"]),
        (bob, ["keygen", "trust", "receive", "transfer"]),
        (registry, None),
    ):
        rows = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
        if actions is not None:
            assert [r["action"] for r in rows] == actions
        assert env.run("ledger", "verify").exit_code == 0
    human = registry.run("verify", held)
    assert "Chain of custody:" in human.stdout and "received by ICC Registry" in human.stdout


def test_pending_hand_over_is_open_not_a_problem(
    people: dict[str, Env], held: Path, tmp_path: Path
) -> None:
    """An intact bundle whose hand-over awaits its receipt verifies, shown as open;
    only --require-closed-chain refuses it (tests/cli/test_handover_close.py)."""
    people["alice"].run("transfer", held, "--to", tmp_path / "bob.pub", "--reason", "x")
    code, report = chain(people["registry"], held)
    assert code == 0 and report["problems"] == []
    assert report["open_handover"]["to"]["name"] == "DS Bob"
    r = people["registry"].run("verify", held, "--json", "--require-closed-chain")
    assert r.exit_code == 1
    assert [p["kind"] for p in json.loads(r.stdout)["problems"]] == ["unreceived_transfer"]


def test_only_the_named_receiver_can_receive(
    people: dict[str, Env], held: Path, tmp_path: Path
) -> None:
    people["alice"].run("transfer", held, "--to", tmp_path / "bob.pub", "--reason", "x")
    result = people["registry"].run("receive", held)
    assert result.exit_code in (1, 2)
    assert not (held / "custody/chain/0001-receipt.json").exists()


def test_only_the_holder_can_transfer(people: dict[str, Env], held: Path, tmp_path: Path) -> None:
    bob = people["bob"]
    result = bob.run("transfer", held, "--to", tmp_path / "registry.pub", "--reason", "x")
    assert result.exit_code == 2
    assert "do not hold" in result.stderr


def test_forged_and_edited_records_break_the_chain(
    people: dict[str, Env], held: Path, tmp_path: Path
) -> None:
    people["alice"].run("transfer", held, "--to", tmp_path / "bob.pub", "--reason", "Lab")
    people["bob"].run("receive", held)
    record = held / "custody/chain/0001-transfer.json"
    record.write_bytes(record.read_bytes().replace(b"Lab", b"Bin"))
    refresh_tag_manifest(held)
    code, report = chain(people["registry"], held)
    assert code == 1
    kinds = {(p["kind"], p["path"]) for p in report["problems"]}
    assert ("bad_custody_signature", "custody/chain/0001-transfer.json") in kinds
    assert ("broken_custody_chain", "custody/chain/0001-receipt.json") in kinds


def test_receipt_by_someone_else_breaks_the_chain(
    people: dict[str, Env], held: Path, tmp_path: Path
) -> None:
    """Mallory swaps in a receipt she signed herself (valid signature, wrong person)."""
    people["alice"].run("transfer", held, "--to", tmp_path / "bob.pub", "--reason", "x")
    twin = tmp_path / "twin"
    shutil.copytree(held, twin)
    mallory = Env(home=tmp_path / "mallory", tmp=tmp_path)
    mallory.run("keygen", "--name", "Mallory")
    mallory.run("keys", "trust", tmp_path / "alice.pub")
    # Mallory edits the transfer in her copy to name herself; Alice's signature then fails,
    # so instead she keeps the transfer and writes a receipt of her own.
    import hashlib

    from custody.base.keys import find_key, load_private_key
    from custody.bundle.format.chain import party, receipt_bytes

    pair = find_key(home=tmp_path / "mallory", selector=None)
    key = load_private_key(pair, b"correct horse battery staple")
    transfer = (held / "custody/chain/0001-transfer.json").read_bytes()
    st = json.loads((held / "custody/statement.json").read_bytes())
    data = receipt_bytes(
        bundle_id=st["bundle_id"],
        statement_sha256=hashlib.sha256((held / "custody/statement.json").read_bytes()).hexdigest(),
        sequence=1,
        transfer_sha256=hashlib.sha256(transfer).hexdigest(),
        receiver=party("Mallory", pair.fingerprint, key.public_key()),
        time="2026-01-01T00:00:00Z",
    )
    (held / "custody/chain/0001-receipt.json").write_bytes(data)
    (held / "custody/chain/0001-receipt.sig").write_bytes(key.sign(data))
    with open(held / "tagmanifest-sha256.txt", "a") as fh:
        for name in ("0001-receipt.json", "0001-receipt.sig"):
            fh.write(
                hashlib.sha256((held / "custody/chain" / name).read_bytes()).hexdigest()
                + f"  custody/chain/{name}\n"
            )
    code, report = chain(people["registry"], held)
    assert code == 1
    assert any(
        p["kind"] == "broken_custody_chain" and "not by the named receiver" in p["detail"]
        for p in report["problems"]
    )


def test_transfer_needs_a_folder_and_a_reason(
    people: dict[str, Env], held: Path, tmp_path: Path
) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        zf.write(held / "bagit.txt", "bagit.txt")
    r = people["alice"].run(
        "transfer", tmp_path / "b.zip", "--to", tmp_path / "bob.pub", "--reason", "x"
    )
    assert r.exit_code == 2 and "unpack" in r.stderr
    r = people["alice"].run("transfer", held, "--to", "nonsense", "--reason", "x")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1


def test_crash_states_of_a_hand_over_still_verify(
    people: dict[str, Env], held: Path, tmp_path: Path
) -> None:
    """A hand-over interrupted after its signature, or after its record but before the tag
    manifest, leaves a bundle that verifies and a hand-over that can be completed."""
    alice, bob = people["alice"], people["bob"]
    # Killed after writing the signature only: an orphan .sig for the next hand-over.
    (held / "custody/chain").mkdir(parents=True, exist_ok=True)
    (held / "custody/chain/0001-transfer.sig").write_bytes(b"half-written")
    assert chain(people["registry"], held)[0] == 0
    r = alice.run("transfer", held, "--to", tmp_path / "bob.pub", "--reason", "x")
    assert r.exit_code == 0, r.output
    # Killed after the record, before the tag manifest listed it.
    manifest = held / "tagmanifest-sha256.txt"
    manifest.write_text(
        "".join(
            line + "\n"
            for line in manifest.read_text().splitlines()
            if "custody/chain/" not in line
        )
    )
    code, report = chain(people["registry"], held)
    assert code == 0 and report["problems"] == []
    assert report["open_handover"]["sequence"] == 1
    assert bob.run("receive", held).exit_code == 0
    assert chain(people["registry"], held)[0] == 0
