"""custody keygen and custody keys: as a user sees them."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import PASSPHRASE, Env


def test_keygen_stores_encrypted_key_with_mode_0600(env: Env, officer: dict) -> None:
    key_path = Path(officer["private_key"])
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    pem = key_path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, password=PASSPHRASE.encode())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert officer["fingerprint"] == hashlib.sha256(raw).hexdigest()
    assert officer["encrypted"] is True


def test_keygen_prints_a_fingerprint_people_can_read_aloud(env: Env) -> None:
    result = env.run("keygen", "--name", "DC Ali Khan")
    assert result.exit_code == 0
    line = next(li for li in result.stdout.splitlines() if li.startswith("Fingerprint:"))
    groups = line.split(":", 1)[1].split()
    assert len(groups) == 16 and all(len(g) == 4 for g in groups)


def test_fingerprint_matches_openssl_recipe(env: Env, officer: dict) -> None:
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", officer["public_key"], "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    assert hashlib.sha256(der[-32:]).hexdigest() == officer["fingerprint"]


def test_keygen_never_overwrites(env: Env, officer: dict) -> None:
    before = Path(officer["private_key"]).read_bytes()
    result = env.run("keygen", "--name", "PC Jane Smith, War Crimes Team")
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert Path(officer["private_key"]).read_bytes() == before


def test_keygen_without_terminal_or_passphrase_fails_at_once(env: Env) -> None:
    result = env.run("keygen", "--name", "X", env={"CUSTODY_PASSPHRASE": None})
    assert result.exit_code == 2
    assert "CUSTODY_PASSPHRASE" in result.stderr
    assert not (env.home / "keys" / "x.key").exists()


def test_keygen_no_passphrase_must_be_asked_for(env: Env) -> None:
    result, data = env.run_json("keygen", "--name", "Lab Key", "--no-passphrase")
    assert result.exit_code == 0
    assert data["encrypted"] is False
    assert b"BEGIN PRIVATE KEY" in Path(data["private_key"]).read_bytes()


def test_passphrase_file(env: Env, tmp_path: Path) -> None:
    pf = tmp_path / "pass.txt"
    pf.write_text("from a file, long enough\n")
    result, data = env.run_json("keygen", "--name", "F", "--passphrase-file", str(pf))
    assert result.exit_code == 0
    serialization.load_pem_private_key(
        Path(data["private_key"]).read_bytes(), b"from a file, long enough"
    )


def _ingest(env: Env, tmp_path: Path, **kw: str | None) -> object:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "a.txt").write_text("a")
    return env.run("ingest", src, "--case", "C1", "--out", tmp_path / "o", env=kw)


def test_wrong_passphrase_is_one_line_exit_2(env: Env, officer: dict, tmp_path: Path) -> None:
    result = _ingest(env, tmp_path, CUSTODY_PASSPHRASE="wrong")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "wrong passphrase" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_damaged_key_file_is_one_line_exit_2(env: Env, officer: dict, tmp_path: Path) -> None:
    Path(officer["private_key"]).write_bytes(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n")
    result = _ingest(env, tmp_path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert officer["private_key"] in result.stderr


def test_non_ed25519_key_is_rejected(env: Env, officer: dict, tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    Path(officer["private_key"]).write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        )
    )
    result = _ingest(env, tmp_path)
    assert result.exit_code == 2
    assert "not an Ed25519 private key" in result.stderr


def test_loose_private_key_permissions_are_warned_about(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    Path(officer["private_key"]).chmod(0o644)
    result = _ingest(env, tmp_path)
    assert result.exit_code == 0
    assert "accessible by other users" in result.stderr


def test_export_and_trust_between_two_people(tmp_path: Path) -> None:
    officer = Env(home=tmp_path / "officer", tmp=tmp_path)
    clerk = Env(home=tmp_path / "clerk", tmp=tmp_path)
    assert officer.run("keygen", "--name", "PC Jane Smith").exit_code == 0
    exported = tmp_path / "jane.pub"
    assert officer.run("keys", "export", "pc-jane-smith", "-o", exported).exit_code == 0
    # Never overwrites an existing file.
    again = officer.run("keys", "export", "pc-jane-smith", "-o", exported)
    assert again.exit_code == 2
    # openssl reads the exported file despite its explanatory header.
    subprocess.run(["openssl", "pkey", "-pubin", "-in", exported, "-noout"], check=True)
    result, data = clerk.run_json("keys", "trust", str(exported))
    assert result.exit_code == 0
    assert data["name"] == "PC Jane Smith" and data["added"] is True
    listed = json.loads(clerk.run("keys", "list", "--json").stdout)
    assert [t["fingerprint"] for t in listed["trusted"]] == [data["fingerprint"]]
    assert listed["keys"] == []


def test_trust_rejects_a_file_that_is_not_a_key(env: Env, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_text("hello\n")
    result = env.run("keys", "trust", bad)
    assert result.exit_code == 2
    assert str(bad) in result.stderr and result.stderr.count("\n") == 1


def test_several_keys_need_a_choice(env: Env, tmp_path: Path) -> None:
    env.run("keygen", "--name", "One")
    env.run("keygen", "--name", "Two")
    result = _ingest(env, tmp_path)
    assert result.exit_code == 2
    assert "--key" in result.stderr
    src = tmp_path / "src"
    ok = env.run("ingest", src, "--case", "C", "--key", "two", "--out", tmp_path / "o2")
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("PC \udcff Smith", "name is not valid UTF-8"),  # an argument with the byte 0xFF
        ("PC \x9b2J Smith", "name contains control characters"),
        ("PC \x1b[2J Smith", "name contains control characters"),
    ],
)
def test_a_key_name_that_cannot_be_written_is_refused_and_nothing_is_made(
    env: Env, name: str, problem: str
) -> None:
    result = env.run("keygen", "--name", name)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"custody: error: {problem}"]
    assert not (env.home / "keys").exists() or not list((env.home / "keys").iterdir())
