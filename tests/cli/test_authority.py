"""The unit's key register through the CLI: authority, trust-register, verify."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import PASSPHRASE, Env, make_evidence


@pytest.fixture
def unit(tmp_path: Path) -> Env:
    """The unit's key authority, with its own home."""
    authority = Env(home=tmp_path / "authority", tmp=tmp_path)
    result = authority.run("authority", "init", "--name", "Met War Crimes Team")
    assert result.exit_code == 0, result.output
    return authority


@pytest.fixture
def court(tmp_path: Path) -> Env:
    return Env(home=tmp_path / "court", tmp=tmp_path)


def new_officer(tmp_path: Path, name: str) -> tuple[Env, Path, str]:
    officer = Env(home=tmp_path / name.replace(" ", "-"), tmp=tmp_path)
    result, data = officer.run_json("keygen", "--name", name)
    assert result.exit_code == 0, result.output
    pub = tmp_path / f"{name.replace(' ', '-')}.pub"
    assert officer.run("keys", "export", data["id"], "-o", pub).exit_code == 0
    return officer, pub, data["fingerprint"]


def ingest(officer: Env, tmp_path: Path, label: str) -> Path:
    src = make_evidence(tmp_path / f"evidence-{label}")
    out = tmp_path / f"bundle-{label}"
    result = officer.run("ingest", src, "--case", "ICC-2026-014", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def export(unit: Env, path: Path) -> dict:
    result, data = unit.run_json("authority", "export", "-o", path)
    assert result.exit_code == 0, result.output
    return data


def trust(court: Env, register: Path, fingerprint: str) -> dict:
    result, data = court.run_json("keys", "trust-register", register, "--fingerprint", fingerprint)
    assert result.exit_code == 0, result.output
    return data


def verify(court: Env, bundle: Path, *extra: str) -> tuple[int, dict]:
    result = court.run("verify", bundle, "--json", *extra)
    return result.exit_code, json.loads(result.stdout)


def test_certified_key_verifies_at_court_and_revocation_refuses_it(
    unit: Env, court: Env, tmp_path: Path
) -> None:
    jane, jane_pub, jane_fp = new_officer(tmp_path, "PC Jane Smith")
    result, added = unit.run_json("authority", "add", jane_pub)
    assert result.exit_code == 0, result.output
    assert added["fingerprint"] == jane_fp and added["version"] == 2
    bundle = ingest(jane, tmp_path, "a")
    register = tmp_path / "register.json"
    exported = export(unit, register)
    stored = trust(court, register, exported["unit_fingerprint"])
    assert stored["outcome"] == "added" and stored["version"] == 2
    code, report = verify(court, bundle)
    assert code == 0, report["problems"]
    signer = report["signer"]
    assert signer["trusted"] and signer["key_status"] == "valid"
    assert signer["register"] == {
        "unit": "Met War Crimes Team",
        "unit_fingerprint": exported["unit_fingerprint"],
        "version": 2,
        "register_id": exported["unit_fingerprint"],
    }
    assert signer["decided_by"].endswith(": accepted")

    result = unit.run("authority", "revoke", jane_fp[:12], "--reason", "superseded")
    assert result.exit_code == 0, result.output
    export(unit, register)
    # For this one verification only: nothing is stored.
    before = sorted(p.read_bytes() for p in (court.home / "registers").glob("*.json"))
    code, report = verify(court, bundle, "--register", register)
    assert code == 1
    assert report["signer"]["key_status"] == "revoked" and not report["signer"]["trusted"]
    assert "superseded on" in report["signer"]["decided_by"]
    assert "no trusted time proves the bundle was signed before" in report["signer"]["decided_by"]
    assert [p["kind"] for p in report["problems"]] == ["key_not_valid"]
    assert sorted(p.read_bytes() for p in (court.home / "registers").glob("*.json")) == before
    # The stored (older) register still accepts it; storing the new one refuses it.
    assert verify(court, bundle)[0] == 0
    assert trust(court, register, exported["unit_fingerprint"])["outcome"] == "updated"
    code, report = verify(court, bundle)
    assert code == 1 and report["signer"]["register"]["version"] == 3
    text = court.run("verify", bundle)
    assert "Key status" in text.stdout and "revoked" in text.stdout
    html = tmp_path / "report.html"
    assert court.run("verify", bundle, "--report", html).exit_code == 1
    page = html.read_text()
    assert "Key register" in page and "Met War Crimes Team, version 3" in page
    assert "no trusted time proves the bundle was signed before" in page


def test_register_wins_over_direct_trust_and_unlisted_keys_keep_their_meaning(
    unit: Env, court: Env, tmp_path: Path
) -> None:
    jane, jane_pub, jane_fp = new_officer(tmp_path, "PC Jane Smith")
    ali, ali_pub, _ = new_officer(tmp_path, "DC Ali Khan")
    unit.run("authority", "add", jane_pub)
    unit.run("authority", "revoke", jane_fp, "--reason", "compromised")
    register = tmp_path / "register.json"
    trust(court, register, export(unit, register)["unit_fingerprint"])
    assert court.run("keys", "trust", jane_pub, "--no-record").exit_code == 0
    assert court.run("keys", "trust", ali_pub, "--no-record").exit_code == 0
    code, report = verify(court, ingest(jane, tmp_path, "jane"))
    assert code == 1 and report["signer"]["key_status"] == "revoked"
    code, report = verify(court, ingest(ali, tmp_path, "ali"))
    assert code == 0
    assert report["signer"]["key_status"] == "not_listed"
    assert "trusted directly" in report["signer"]["decided_by"]
    # Without any register the fields stay empty.
    code, report = verify(
        Env(home=tmp_path / "plain", tmp=tmp_path),
        ingest(ali, tmp_path, "p"),
        "--trust",
        str(ali_pub),
    )
    assert code == 0
    assert report["signer"]["key_status"] is None and report["signer"]["register"] is None


def test_validity_window(unit: Env, court: Env, tmp_path: Path) -> None:
    early, early_pub, _ = new_officer(tmp_path, "Old Officer")
    late, late_pub, _ = new_officer(tmp_path, "New Officer")
    r = unit.run(
        "authority",
        "add",
        early_pub,
        "--valid-from",
        "2020-01-01",
        "--valid-until",
        "2021-01-01T00:00:00Z",
    )
    assert r.exit_code == 0, r.output
    r = unit.run("authority", "add", late_pub, "--valid-from", "2099-01-01")
    assert r.exit_code == 0, r.output
    register = tmp_path / "register.json"
    trust(court, register, export(unit, register)["unit_fingerprint"])
    code, report = verify(court, ingest(early, tmp_path, "early"))
    assert code == 1 and report["signer"]["key_status"] == "expired"
    assert "expired on 2021-01-01" in report["signer"]["decided_by"]
    code, report = verify(court, ingest(late, tmp_path, "late"))
    assert code == 1 and report["signer"]["key_status"] == "not_yet_valid"
    assert "valid only from 2099-01-01" in report["signer"]["decided_by"]


def test_hand_over_signed_by_a_later_revoked_key(unit: Env, court: Env, tmp_path: Path) -> None:
    jane, jane_pub, _ = new_officer(tmp_path, "PC Jane Smith")
    ali, ali_pub, ali_fp = new_officer(tmp_path, "DC Ali Khan")
    unit.run("authority", "add", jane_pub)
    unit.run("authority", "add", ali_pub)
    bundle = ingest(jane, tmp_path, "h")
    assert jane.run("transfer", bundle, "--to", ali_pub, "--reason", "To Ali").exit_code == 0
    assert ali.run("keys", "trust", jane_pub, "--no-record").exit_code == 0
    assert ali.run("receive", bundle).exit_code == 0
    register = tmp_path / "register.json"
    unit_fp = export(unit, register)["unit_fingerprint"]
    trust(court, register, unit_fp)
    code, report = verify(court, bundle)
    assert code == 0, report["problems"]
    assert [s.get("key_status") for s in report["custody_chain"]] == [None, "valid", "valid"]
    # Ali's laptop is stolen: his receipt is no longer proven good; Jane's signatures still are.
    assert unit.run("authority", "revoke", ali_fp, "--reason", "compromised").exit_code == 0
    export(unit, register)
    assert trust(court, register, unit_fp)["outcome"] == "updated"
    code, report = verify(court, bundle)
    assert code == 1
    assert report["signer"]["key_status"] == "valid"
    problems = [(p["kind"], p["path"]) for p in report["problems"]]
    assert problems == [("key_not_valid", "custody/chain/0001-receipt.json")]
    assert "the receipt was signed before" in report["problems"][0]["detail"]
    assert report["custody_chain"][2]["key_status"] == "revoked"
    assert "[key revoked]" in court.run("verify", bundle).stdout


def test_rotation_is_followed_and_signed_by_both_keys(
    unit: Env, court: Env, tmp_path: Path
) -> None:
    jane, jane_pub, jane_fp = new_officer(tmp_path, "PC Jane Smith")
    unit.run("authority", "add", jane_pub)
    register = tmp_path / "register.json"
    first = export(unit, register)
    trust(court, register, first["unit_fingerprint"])
    result, rotated = unit.run_json("authority", "rotate")
    assert result.exit_code == 0, result.output
    assert rotated["old_unit_fingerprint"] == first["unit_fingerprint"]
    new_fp = rotated["new_unit_fingerprint"]
    assert new_fp != first["unit_fingerprint"]
    export(unit, register)
    doc = json.loads(register.read_text())
    last = doc["versions"][-1]
    assert {s["fingerprint"] for s in last["signatures"]} == {first["unit_fingerprint"], new_fp}
    # The new unit key signs from now on, and the court follows without asking again.
    unit.run("authority", "revoke", jane_fp, "--reason", "retired")
    export(unit, register)
    result, data = court.run_json("keys", "trust-register", register)
    assert result.exit_code == 0, result.output
    assert data["outcome"] == "updated" and data["unit_fingerprint"] == new_fp
    code, report = verify(court, ingest(jane, tmp_path, "r"))
    assert code == 1 and report["signer"]["key_status"] == "revoked"
    # The court that pinned the old key may keep naming it; a fresh verifier must
    # confirm the current unit key, not one the unit rotated away from.
    assert trust(court, register, first["unit_fingerprint"])["outcome"] == "unchanged"
    other = Env(home=tmp_path / "other-court", tmp=tmp_path)
    result = other.run(
        "keys", "trust-register", register, "--fingerprint", first["unit_fingerprint"]
    )
    assert result.exit_code == 2 and f"signed by unit key {new_fp}" in result.stderr
    assert not (other.home / "registers").exists() or not list(
        (other.home / "registers").glob("*.json")
    )
    assert trust(other, register, new_fp)["version"] == 4
    rows = unit.run_json("ledger", "show")[1]["entries"]
    actions = [r["action"] for r in rows]
    assert actions.count("authority-rotate") == 2
    assert {"authority-init", "authority-add", "authority-revoke", "authority-export"} <= set(
        actions
    )
    assert unit.run("ledger", "verify").exit_code == 0


def test_rollback_and_fork_are_refused_naming_both_versions(
    unit: Env, court: Env, tmp_path: Path
) -> None:
    _, jane_pub, _ = new_officer(tmp_path, "PC Jane Smith")
    _, ali_pub, _ = new_officer(tmp_path, "DC Ali Khan")
    old = tmp_path / "old.json"
    unit_fp = export(unit, old)["unit_fingerprint"]
    # A copy of the authority taken now will diverge: a fork.
    twin = Env(home=tmp_path / "twin", tmp=tmp_path)
    shutil.copytree(unit.home, twin.home)
    unit.run("authority", "add", jane_pub)
    new = tmp_path / "new.json"
    export(unit, new)
    trust(court, new, unit_fp)
    stored = sorted((court.home / "registers").glob("*.json"))
    snapshot = [p.read_bytes() for p in stored]

    result = court.run("keys", "trust-register", old)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "register rollback: version 1 is older than the trusted version 2; refused"
    )
    assert len(result.stderr.strip().splitlines()) == 1

    assert twin.run("authority", "add", ali_pub).exit_code == 0
    forked = tmp_path / "forked.json"
    export(twin, forked)
    result = court.run("keys", "trust-register", forked)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "register fork: its version 2" in line and "trusted version 2" in line
    assert len(line.splitlines()) == 1
    # verify --register refuses them too, and nothing was stored by any of this.
    jane_bundle = tmp_path / "nothing-here"
    result = court.run("verify", jane_bundle, "--register", old)
    assert result.exit_code == 2 and "rollback" in result.stderr
    assert [p.read_bytes() for p in stored] == snapshot
    assert sorted((court.home / "registers").glob("*.json")) == stored


def test_first_trust_needs_the_fingerprint_without_a_terminal(
    unit: Env, court: Env, tmp_path: Path
) -> None:
    register = tmp_path / "register.json"
    unit_fp = export(unit, register)["unit_fingerprint"]
    result = court.run("keys", "trust-register", register)
    assert result.exit_code == 2 and "--fingerprint" in result.stderr
    wrong = "ab" * 32
    result = court.run("keys", "trust-register", register, "--fingerprint", wrong)
    assert result.exit_code == 2
    assert f"not by the key {wrong}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list((court.home / "registers").glob("*.json"))
    spaced = " ".join(unit_fp[i : i + 4] for i in range(0, 64, 4))
    data = trust(court, register, spaced)
    assert data["outcome"] == "added"
    assert trust(court, register, unit_fp)["outcome"] == "unchanged"


def test_keys_list_shows_what_the_registers_say(unit: Env, tmp_path: Path) -> None:
    jane, jane_pub, jane_fp = new_officer(tmp_path, "PC Jane Smith")
    unit.run("authority", "add", jane_pub, "--valid-until", "2030-06-30")
    unit.run("authority", "revoke", jane_fp, "--reason", "compromised", "--since", "2026-01-02")
    register = tmp_path / "register.json"
    trust(jane, register, export(unit, register)["unit_fingerprint"])
    result, data = jane.run_json("keys", "list")
    assert result.exit_code == 0
    said = data["keys"][0]["registers"][0]
    assert said["key_status"] == "revoked" and said["valid_until"] == "2030-06-30T00:00:00Z"
    assert said["revocation"]["reason"] == "compromised"
    assert said["revocation"]["since"] == "2026-01-02T00:00:00Z"
    assert data["registers"][0]["unit"] == "Met War Crimes Team"
    text = jane.run("keys", "list", env={"COLUMNS": "400"}).stdout
    assert "revoked since 2026-01-02 (compromised), Met War Crimes Team register v3" in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["add", "{ec}"], "not an Ed25519 public key"),
        (["add", "{missing}"], "no such file"),
        (["add", "{jane}", "--valid-from", "2027-01-01", "--valid-until", "2026-01-01"], "before"),
        (["add", "{jane}", "--valid-until", "next tuesday"], "is not a time"),
        (["revoke", "{fp}", "--reason", "compromised", "--since", "2099-01-01"], "in the future"),
        (["revoke", "{fp}", "--reason", "retired", "--since", "2026-01-01"], "compromised only"),
        (["revoke", "ffffffffff", "--reason", "retired"], "no key ffffffffff"),
    ],
)
def test_bad_authority_input_is_one_line_and_changes_nothing(
    unit: Env, tmp_path: Path, args: list[str], words: str
) -> None:
    _, jane_pub, jane_fp = new_officer(tmp_path, "PC Jane Smith")
    _, other_pub, _ = new_officer(tmp_path, "Other")
    if args[0] == "revoke":
        assert unit.run("authority", "add", jane_pub).exit_code == 0
    ec_pub = tmp_path / "ec.pub"
    ec_pub.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    values = {"ec": ec_pub, "missing": tmp_path / "nope.pub", "jane": other_pub, "fp": jane_fp}
    before = (unit.home / "authority" / "register.json").read_bytes()
    result = unit.run("authority", *[a.format(**values) for a in args])
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (unit.home / "authority" / "register.json").read_bytes() == before


def test_authority_is_not_one_of_your_keys_and_is_encrypted(unit: Env, tmp_path: Path) -> None:
    keys = list((unit.home / "authority").glob("unit-*.key"))
    assert len(keys) == 1
    assert keys[0].stat().st_mode & 0o777 == 0o600
    assert keys[0].read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert not (unit.home / "keys").exists() or not list((unit.home / "keys").glob("*.key"))
    again = unit.run("authority", "init", "--name", "Another")
    assert again.exit_code == 2 and "already exists" in again.stderr
    wrong = unit.run(
        "authority", "export", "-o", tmp_path / "x.json", env={"CUSTODY_PASSPHRASE": "wrong"}
    )
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.stderr
    assert not (tmp_path / "x.json").exists()


def test_json_outputs_match_their_schemas(unit: Env, court: Env, tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    schemas = Path(__file__).resolve().parents[2] / "docs" / "schemas"

    def check(name: str, data: dict) -> None:
        schema = json.loads((schemas / f"{name}.schema.json").read_text())
        Draft202012Validator(schema).validate(data)

    jane, jane_pub, jane_fp = new_officer(tmp_path, "PC Jane Smith")
    for args in (
        ["add", jane_pub],
        ["revoke", jane_fp, "--reason", "compromised", "--since", "2026-01-01"],
        ["rotate"],
        ["export", "-o", tmp_path / "register.json"],
    ):
        result, data = unit.run_json("authority", *args)
        assert result.exit_code == 0, result.output
        check("authority", data)
    trusted = trust(court, tmp_path / "register.json", data["unit_fingerprint"])
    check("keys-trust-register", trusted)
    check("keys-list", court.run_json("keys", "list")[1])
    code, report = verify(court, ingest(jane, tmp_path, "s"))
    assert code == 1
    check("verify", report)
    assert report["signer"]["key_status"] == "revoked"


def test_first_trust_on_a_terminal_asks_to_confirm(unit: Env, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    register = tmp_path / "register.json"
    unit_fp = export(unit, register)["unit_fingerprint"]
    court_home = tmp_path / "tty-court"

    def run(answer: bytes) -> tuple[int, str]:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "custody", "keys", "trust-register", str(register)],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**os.environ, "CUSTODY_HOME": str(court_home)},
        )
        os.close(follower)
        seen = b""
        while b"[y/N]" not in seen:
            chunk = os.read(leader, 4096)
            assert chunk, seen
            seen += chunk
        os.write(leader, answer + b"\n")
        out, _ = proc.communicate(timeout=60)
        os.close(leader)
        text = seen.decode()
        assert " ".join(unit_fp[i : i + 4] for i in range(0, 64, 4)) in text
        return proc.returncode, out.decode()

    code, _ = run(b"n")
    assert code == 2
    assert not list((court_home / "registers").glob("*.json"))
    code, out = run(b"y")
    assert code == 0 and "Now trusting" in out
    assert len(list((court_home / "registers").glob("*.json"))) == 1


def test_register_checks_by_hand_as_docs_keys_md_says(unit: Env, tmp_path: Path) -> None:
    import re
    import subprocess

    _, jane_pub, _ = new_officer(tmp_path, "PC Jane Smith")
    unit.run("authority", "add", jane_pub)
    work = tmp_path / "by-hand"
    work.mkdir()
    data = export(unit, work / "register.json")
    text = (Path(__file__).resolve().parents[2] / "docs" / "keys.md").read_text()
    m = re.search(r"By hand, for the latest version.*?```sh\n(.*?)```", text, re.S)
    assert m, "docs/keys.md lost its by-hand recipe"
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + m.group(1)],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout
    assert data["unit_fingerprint"] in done.stdout
    doc = json.loads((work / "register.json").read_text())
    import hashlib

    previous = json.loads(doc["versions"][-1]["signed"])["previous_sha256"]
    assert previous == hashlib.sha256(doc["versions"][-2]["signed"].encode()).hexdigest()


def test_concurrent_authority_actions_lose_nothing(unit: Env, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pubs = []
    for i in range(4):
        pub = tmp_path / f"officer-{i}.pub"
        pub.write_bytes(
            b"Name: Officer %d\n" % i
            + Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        pubs.append(pub)
    env = {**os.environ, "CUSTODY_HOME": str(unit.home), "CUSTODY_PASSPHRASE": PASSPHRASE}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "custody", "authority", "add", str(p)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in pubs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    register = tmp_path / "register.json"
    data = export(unit, register)
    assert data["version"] == 5 and data["keys"] == 4
    rows = unit.run_json("ledger", "show")[1]["entries"]
    assert [r["action"] for r in rows].count("authority-add") == 4
    assert any(r["detail"].startswith("certified Officer ") for r in rows)
