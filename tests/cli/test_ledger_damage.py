"""A damaged ledger is noticed by every command, not only `ledger verify`.

Someone with write access to the laptop but no key edits the SQLite database:
an entry, a tree node, the checkpoint, or the `cosigned` table. Every command
that appends refuses in one line (exit 1) before doing anything; `ledger show`
warns and marks the damaged entries instead of dropping them; `ledger
checkpoint` prints only a checkpoint it verified; `ledger verify` names every
bad cosigned checkpoint (docs/ledger.md, "Before every append")."""

from __future__ import annotations

import base64
import json
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import PASSPHRASE, Env, validate
from custody.base.keys import find_key, load_private_key
from custody.tlog import merkle
from custody.tlog.cosignature import cosign, cosigner_key_id
from custody.tlog.note import EM_DASH, sign_checkpoint

WITNESS = "registry.example.org/witness"


def make_source(tmp: Path, name: str) -> Path:
    src = tmp / name
    src.mkdir()
    (src / "photo.jpg").write_bytes(name.encode() * 1000)
    return src


@pytest.fixture
def recorded(env: Env, officer: dict) -> Env:
    """keygen, then three ingests of cases CASE-0..2: entries 0..3."""
    for i in range(3):
        result = env.run(
            "ingest",
            make_source(env.tmp, f"s{i}"),
            "--case",
            f"CASE-{i}",
            "--out",
            env.tmp / f"b{i}",
        )
        assert result.exit_code == 0, result.output
    return env


def db(env: Env) -> sqlite3.Connection:
    return sqlite3.connect(env.home / "ledger" / "ledger.sqlite3")


def size(env: Env) -> int:
    with db(env) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])


def officer_key(env: Env) -> Ed25519PrivateKey:
    return load_private_key(find_key(home=env.home, selector=None), PASSPHRASE.encode())


# --- damage a forger without the key can do -------------------------------------------------


def edit_entry_1(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE entries SET entry = replace(entry, 'CASE-0', 'CASE-X') WHERE idx = 1")


def edit_entry_1_and_its_tree(conn: sqlite3.Connection) -> None:
    """The careful forger: the entry's bytes edited, every stored tree node recomputed."""
    (entry,) = conn.execute("SELECT entry FROM entries WHERE idx = 1").fetchone()
    conn.execute(
        "UPDATE entries SET entry = ? WHERE idx = 1", (entry.replace(b"CASE-0", b"CASE-X"),)
    )
    compact = merkle.CompactRange()
    conn.execute("DELETE FROM nodes")
    for (data,) in conn.execute("SELECT entry FROM entries ORDER BY idx").fetchall():
        conn.executemany(
            "INSERT INTO nodes VALUES (?, ?, ?)", compact.append(merkle.leaf_hash(data))
        )


def delete_middle_entry(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM entries WHERE idx = 2")


def delete_newest_entry(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM entries WHERE idx = 3")


def swap_two_entries(conn: sqlite3.Connection) -> None:
    a, b = (
        r[0] for r in conn.execute("SELECT entry FROM entries WHERE idx IN (1, 2) ORDER BY idx")
    )
    conn.execute("UPDATE entries SET entry = ? WHERE idx = 1", (b,))
    conn.execute("UPDATE entries SET entry = ? WHERE idx = 2", (a,))


def edit_frontier_node(conn: sqlite3.Connection) -> None:
    """The node (level 2, index 0) every later append and proof starts from."""
    conn.execute("UPDATE nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 0")


def edit_checkpoint_text(conn: sqlite3.Connection) -> None:
    conn.execute(
        "UPDATE checkpoint SET note = CAST(replace(CAST(note AS TEXT), '\n4\n', '\n3\n') AS BLOB)"
    )


def drop_checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM checkpoint")


DAMAGE: dict[str, Callable[[sqlite3.Connection], None]] = {
    "edited entry 1": edit_entry_1,
    "edited entry 1, tree recomputed": edit_entry_1_and_its_tree,
    "deleted middle entry": delete_middle_entry,
    "deleted newest entry": delete_newest_entry,
    "swapped entries": swap_two_entries,
    "edited tree node": edit_frontier_node,
    "edited checkpoint": edit_checkpoint_text,
    "deleted checkpoint": drop_checkpoint,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_ingest_refuses_a_damaged_ledger_before_copying(recorded: Env, damage: str) -> None:
    env = recorded
    with db(env) as conn:
        DAMAGE[damage](conn)
    before = size(env)
    assert env.run("ledger", "verify").exit_code == 1  # the oracle: it is damaged
    out = env.tmp / "refused"
    result = env.run("ingest", make_source(env.tmp, "new"), "--case", "NEW", "--out", out)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "custody ledger verify" in lines[0], result.stderr
    assert "damaged" in lines[0]
    assert size(env) == before
    assert not out.exists()
    assert not [p for p in env.tmp.iterdir() if p.name.startswith(".refused")]


def test_refusal_with_json_is_one_error_document(recorded: Env) -> None:
    env = recorded
    with db(env) as conn:
        edit_entry_1(conn)
    result = env.run(
        "ingest", make_source(env.tmp, "new"), "--case", "NEW", "--out", env.tmp / "x", "--json"
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    validate("error", doc)
    assert doc["error"]["kind"] == "ledger_damaged"
    assert doc["error"]["path"] == str(env.home / "ledger" / "ledger.sqlite3")


def test_edited_entry_1_in_a_large_ledger_is_caught_before_an_append(
    env: Env, officer: dict
) -> None:
    """Entry 1 is far from the newest entries, whose signatures are checked: only
    the root recomputed from every entry can catch it."""
    key = officer_key(env)
    from custody.io.ledger_store import Ledger

    with Ledger.open(env.home) as ledger:
        for i in range(40):
            ledger.append(
                action="verify",
                subject={"case": f"C{i}"},
                signer=key,
                signer_name="PC Jane Smith",
                time="2026-12-07T00:00:00Z",
            )
    with db(env) as conn:
        conn.execute("UPDATE entries SET entry = replace(entry, '\"C0\"', '\"C9\"') WHERE idx = 1")
    result = env.run("keygen", "--name", "Second key")
    assert result.exit_code == 1, result.output
    assert "checkpoint_mismatch" in result.stderr and "custody ledger verify" in result.stderr
    assert size(env) == 41


@pytest.mark.parametrize(
    "command",
    [
        ("keygen", "--name", "Another key"),
        ("verify", "{bundle}", "--record"),
        ("ledger", "staple", "{bundle}"),
    ],
)
def test_every_appending_command_refuses(recorded: Env, command: tuple[str, ...]) -> None:
    env = recorded
    with db(env) as conn:
        edit_entry_1(conn)
    before = size(env)
    args = [a.replace("{bundle}", str(env.tmp / "b2")) for a in command]
    result = env.run(*args)
    assert result.exit_code == 1, result.output
    assert "custody ledger verify" in result.stderr
    assert size(env) == before


def test_transfer_refuses_and_leaves_the_bundle_untouched(recorded: Env, tmp_path: Path) -> None:
    env = recorded
    other = Env(home=tmp_path / "registry", tmp=tmp_path)
    assert other.run("keygen", "--name", "Registry").exit_code == 0
    receiver = next((other.home / "keys").glob("*.pub"))
    with db(env) as conn:
        edit_entry_1(conn)
    chain = env.tmp / "b2" / "custody" / "chain"
    result = env.run("transfer", env.tmp / "b2", "--to", receiver, "--reason", "To the registry")
    assert result.exit_code == 1, result.output
    assert "custody ledger verify" in result.stderr
    assert not chain.exists() or not list(chain.iterdir())


def test_intact_ledger_appends_and_shows_no_warning(recorded: Env) -> None:
    env = recorded
    result = env.run("ledger", "show", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    doc = json.loads(result.stdout)
    validate("ledger-show", doc)
    assert [e["damaged"] for e in doc["entries"]] == [None] * 4
    assert env.run("keygen", "--name", "Second key").exit_code == 0


def test_show_marks_an_edited_entry_instead_of_dropping_it(recorded: Env) -> None:
    """The issue's case: entry 1 (case CASE-0) edited to another case id."""
    env = recorded
    with db(env) as conn:
        edit_entry_1(conn)
    result = env.run("ledger", "show", "--case", "CASE-0", "--json")
    assert result.exit_code == 0
    warning = result.stderr.strip().splitlines()
    assert len(warning) == 1 and "damaged" in warning[0] and "ledger verify" in warning[0]
    doc = json.loads(result.stdout)
    validate("ledger-show", doc)
    shown = {e["index"]: e for e in doc["entries"]}
    assert 1 in shown and "bad_signature" in shown[1]["damaged"]
    assert shown[1]["case"] == "CASE-X"
    table = env.run("ledger", "show", "--case", "CASE-0")
    assert "DAMAGED (bad_signature" in table.stdout


# --- the cosigned table ---------------------------------------------------------------------


@pytest.fixture
def witness_key(recorded: Env, tmp_path: Path) -> Ed25519PrivateKey:
    """A witness the officer trusts (`custody witness trust`): its real key."""
    home = tmp_path / "witness-home"
    w = Env(home=home, tmp=tmp_path)
    assert w.run("witness", "init", "--name", WITNESS).exit_code == 0
    assert recorded.run("witness", "trust", home / "witness" / "witness.pub").exit_code == 0
    key = serialization.load_pem_private_key(
        (home / "witness" / "witness.key").read_bytes(), password=None
    )
    assert isinstance(key, Ed25519PrivateKey)
    return key


def latest(env: Env) -> bytes:
    with db(env) as conn:
        return bytes(conn.execute("SELECT note FROM checkpoint").fetchone()[0])


def store_cosigned(env: Env, size_: int, note: bytes | str) -> None:
    with db(env) as conn:
        conn.execute("INSERT OR REPLACE INTO cosigned VALUES (?, ?)", (size_, note))


def origin(env: Env) -> str:
    return latest(env).split(b"\n")[0].decode()


def root(env: Env) -> bytes:
    return base64.b64decode(latest(env).split(b"\n")[2])


def text_of(note: bytes) -> bytes:
    return note.split(b"\n\n", 1)[0] + b"\n"


def test_a_valid_cosigned_checkpoint_is_printed(
    recorded: Env, witness_key: Ed25519PrivateKey
) -> None:
    env = recorded
    note = latest(env)
    cosigned = note + cosign(text_of(note), name=WITNESS, private_key=witness_key, timestamp=1)
    store_cosigned(env, 4, cosigned)
    assert env.run("ledger", "verify").exit_code == 0
    result = env.run("ledger", "checkpoint")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.encode() == cosigned


def forged_cosignature(env: Env, witness_key: Ed25519PrivateKey) -> bytes:
    """A line claiming the trusted witness's name and key id, not signed by it."""
    note = latest(env)
    kid = cosigner_key_id(WITNESS, witness_key.public_key())
    blob = kid + struct.pack(">Q", 1) + Ed25519PrivateKey.generate().sign(b"x")
    return note + f"{EM_DASH} {WITNESS} {base64.b64encode(blob).decode()}\n".encode()


def older_checkpoint(env: Env) -> bytes:
    """A genuine checkpoint of 3 entries, signed by the officer: stale, not forged."""
    with db(env) as conn:
        leaves = [r[0] for r in conn.execute("SELECT hash FROM nodes WHERE level = 0 ORDER BY idx")]
        origin = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()[0]
    return sign_checkpoint(origin, 3, merkle.root_from_leaves(leaves[:3]), officer_key(env))


ROWS: dict[str, tuple[Callable[[Env, Ed25519PrivateKey], tuple[int, bytes]], str]] = {
    "stale checkpoint under the latest size": (
        lambda env, _: (4, older_checkpoint(env)),
        "bad_cosigned_checkpoint",
    ),
    "any text": (lambda env, _: (4, b"hello prosecutor\n"), "bad_cosigned_checkpoint"),
    "another ledger's checkpoint": (
        lambda env, _: (
            4,
            sign_checkpoint("custody-ledger/other", 4, b"\0" * 32, Ed25519PrivateKey.generate()),
        ),
        "bad_cosigned_checkpoint",
    ),
    "a root that is not the ledger's": (
        lambda env, _: (
            4,
            sign_checkpoint(origin(env), 4, b"\1" * 32, officer_key(env)),
        ),
        "cosigned_checkpoint_mismatch",
    ),
    "signed by a stranger's key": (
        lambda env, _: (
            4,
            sign_checkpoint(origin(env), 4, root(env), Ed25519PrivateKey.generate()),
        ),
        "cosigned_bad_signature",
    ),
    "a forged cosignature of a trusted witness": (
        lambda env, key: (4, forged_cosignature(env, key)),
        "bad_cosignature",
    ),
    "beyond the ledger": (
        lambda env, _: (
            9,
            sign_checkpoint(origin(env), 9, b"\2" * 32, officer_key(env)),
        ),
        "cosigned_beyond_ledger",
    ),
}


@pytest.mark.parametrize("row", list(ROWS))
def test_a_bad_cosigned_row_is_named_and_never_printed(
    recorded: Env, witness_key: Ed25519PrivateKey, row: str
) -> None:
    env = recorded
    make, kind = ROWS[row]
    row_size, note = make(env, witness_key)
    store_cosigned(env, row_size, note)
    result = env.run("ledger", "verify", "--json")
    assert result.exit_code == 1, result.output
    validate("ledger-verify", json.loads(result.stdout))
    problems = json.loads(result.stdout)["problems"]
    assert [(p["kind"], p["path"]) for p in problems] == [(kind, f"cosigned checkpoint {row_size}")]
    printed = env.run("ledger", "checkpoint")
    assert printed.exit_code == 0
    assert printed.stdout.encode() == latest(env)  # the verified checkpoint, not the row
    if row_size == 4:
        warning = printed.stderr.strip().splitlines()
        assert len(warning) == 1 and kind in warning[0], printed.stderr
    # and the stored row is not what a prosecutor is handed
    assert printed.stdout.encode() != note


def test_an_older_valid_cosigned_row_is_kept_and_not_printed_as_latest(
    recorded: Env, witness_key: Ed25519PrivateKey
) -> None:
    env = recorded
    old = older_checkpoint(env)
    store_cosigned(
        env, 3, old + cosign(text_of(old), name=WITNESS, private_key=witness_key, timestamp=1)
    )
    assert env.run("ledger", "verify").exit_code == 0
    printed = env.run("ledger", "checkpoint")
    assert printed.exit_code == 0 and printed.stderr == ""
    assert printed.stdout.encode() == latest(env)


def test_checkpoint_of_a_damaged_ledger_is_not_printed(recorded: Env) -> None:
    env = recorded
    with db(env) as conn:
        edit_entry_1_and_its_tree(conn)
    result = env.run("ledger", "checkpoint")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "custody ledger verify" in lines[0]


@pytest.mark.parametrize("forged", [False, True], ids=["valid", "forged"])
def test_staple_never_puts_a_forged_cosignature_into_a_bundle(
    recorded: Env, witness_key: Ed25519PrivateKey, forged: bool
) -> None:
    """A forged line in the `cosigned` table would make the bundle fail for a court
    that chose that witness: `ledger staple` skips the row instead."""
    env = recorded
    proof = env.tmp / "b2" / "custody" / "ledger-proof.json"
    before = proof.read_bytes()
    note = latest(env)
    if forged:
        store_cosigned(env, 4, forged_cosignature(env, witness_key))
    else:
        store_cosigned(
            env, 4, note + cosign(text_of(note), name=WITNESS, private_key=witness_key, timestamp=1)
        )
    result = env.run("ledger", "staple", env.tmp / "b2", "--json")
    if forged:
        assert result.exit_code == 2, result.output
        assert "no cosigned checkpoint includes" in result.stderr
        assert proof.read_bytes() == before
    else:
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["cosignatures"] == 1
        assert env.run("verify", env.tmp / "b2", "--quorum", "1").exit_code == 0
