"""Witnesses: a real `custody witness serve` on loopback, officers submitting
with the real CLI, verifiers requiring a quorum, and cosignatures checked by
an independent implementation of C2SP tlog-cosignature (tests/witness_server.py)."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import Env
from custody.io.ledger_store import Ledger
from custody.tlog.note import sign_checkpoint
from witness_server import (
    InvalidSignature,
    WitnessProcess,
    note_body_and_lines,
    read_spki_pem,
    spec_verify_cosignature,
    start_witness,
)

WITNESS_NAME = "registry.example.org/witness"


@pytest.fixture
def officer_env(env: Env, officer: dict) -> Env:
    return env


@pytest.fixture
def witness_home(tmp_path: Path, officer_env: Env) -> Path:
    """A witness that accepts the officer's ledger."""
    home = tmp_path / "witness-home"
    w = Env(home=home, tmp=tmp_path)
    result = w.run("witness", "init", "--name", WITNESS_NAME, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["vkey"].startswith(WITNESS_NAME + "+")
    result = w.run("witness", "add-log", origin(officer_env), "--key", officer_pub(officer_env))
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def witness(witness_home: Path, tmp_path: Path) -> Iterator[WitnessProcess]:
    proc = start_witness(witness_home, tmp_path / "witness.log")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def restartable(witness_home: Path, tmp_path: Path) -> Iterator[list[WitnessProcess]]:
    """Witness processes started by the test (stopped at the end, by pid)."""
    procs: list[WitnessProcess] = []
    try:
        yield procs
    finally:
        for p in procs:
            p.stop()


def origin(env: Env) -> str:
    result = env.run("ledger", "checkpoint")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[0]


def officer_pub(env: Env) -> Path:
    return next((env.home / "keys").glob("*.pub"))


def witness_pub(home: Path) -> Path:
    return home / "witness" / "witness.pub"


def small_evidence(tmp: Path, name: str) -> Path:
    src = tmp / name
    src.mkdir()
    (src / "statement.txt").write_text(f"evidence {name}\n")
    return src


def ingest(env: Env, name: str, extra_env: dict[str, str | None] | None = None) -> Path:
    out = env.tmp / "bundles" / name
    out.parent.mkdir(exist_ok=True)
    result = env.run(
        "ingest",
        small_evidence(env.tmp, name),
        "--case",
        "ICC-2026-014",
        "--out",
        out,
        env=extra_env,
    )
    assert result.exit_code == 0, result.output
    return out


def proof(bundle: Path) -> dict:
    return json.loads((bundle / "custody" / "ledger-proof.json").read_text())


def raw_checkpoint(env: Env) -> tuple[Ledger, bytes]:
    ledger = Ledger.open(env.home, create=False)
    note = ledger.latest_checkpoint()
    assert note is not None
    return ledger, note


# --- the officer's side, end to end -----------------------------------------------------------


def test_ingest_with_custody_witness_carries_a_cosignature_a_spec_verifier_accepts(
    officer_env: Env, witness: WitnessProcess, witness_home: Path
) -> None:
    bundle = ingest(officer_env, "a", {"CUSTODY_WITNESS": witness.url})
    doc = proof(bundle)
    body, lines = note_body_and_lines(doc["checkpoint"])
    cosigs = [line for line in lines if line.split(" ")[1] == WITNESS_NAME]
    assert len(cosigs) == 1
    key = read_spki_pem(witness_pub(witness_home))
    timestamp = spec_verify_cosignature(body, cosigs[0], WITNESS_NAME, key)
    assert timestamp > 1_700_000_000
    # the same line with one byte of the checkpoint changed does not verify
    with pytest.raises(InvalidSignature):
        spec_verify_cosignature(body.replace(b"\n", b"\n ", 1), cosigs[0], WITNESS_NAME, key)
    # one log line per request
    assert [ln for ln in witness.log_lines() if "/add-checkpoint 200" in ln]


def test_verifier_requires_a_quorum(
    officer_env: Env, witness: WitnessProcess, witness_home: Path, tmp_path: Path
) -> None:
    witnessed = ingest(officer_env, "a", {"CUSTODY_WITNESS": witness.url})
    offline = ingest(officer_env, "b")
    verifier = Env(home=tmp_path / "verifier", tmp=tmp_path)
    jane = officer_pub(officer_env)
    w = witness_pub(witness_home)

    r = verifier.run("verify", witnessed, "--trust", jane, "--witness-key", w, "--quorum", "1")
    assert r.exit_code == 0, r.output
    r = verifier.run("verify", offline, "--trust", jane, "--witness-key", w, "--quorum", "1")
    assert r.exit_code == 1 and "witness_quorum" in r.output
    # without a quorum, cosignatures are shown and checked but not required
    r = verifier.run("verify", offline, "--trust", jane, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ledger"]["cosignatures"] == []
    # a quorum larger than the witnesses chosen is a usage error
    r = verifier.run("verify", witnessed, "--trust", jane, "--witness-key", w, "--quorum", "2")
    assert r.exit_code == 2 and "quorum" in r.output
    # an unchosen witness is shown as unknown, never counted
    r = verifier.run("verify", witnessed, "--trust", jane, "--json")
    cos = json.loads(r.stdout)["ledger"]["cosignatures"]
    assert [c["status"] for c in cos] == ["unknown"]
    # chosen through the witness trust store
    assert verifier.run("witness", "trust", w).exit_code == 0
    r = verifier.run("verify", witnessed, "--trust", jane, "--quorum", "1", "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 0, r.output
    (c,) = data["ledger"]["cosignatures"]
    assert c["witness"] == WITNESS_NAME and c["status"] == "valid" and len(c["key_id"]) == 8
    assert c["time"].endswith("Z")


def test_forged_cosignature_is_a_problem_even_without_quorum(
    officer_env: Env, witness: WitnessProcess, witness_home: Path, tmp_path: Path
) -> None:
    from conftest import refresh_tag_manifest

    bundle = ingest(officer_env, "a", {"CUSTODY_WITNESS": witness.url})
    path = bundle / "custody" / "ledger-proof.json"
    doc = json.loads(path.read_text())
    lines = doc["checkpoint"].split("\n")
    i = next(n for n, ln in enumerate(lines) if ln.startswith("\u2014 " + WITNESS_NAME))
    name, b64 = lines[i][2:].split(" ")
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 1
    lines[i] = f"\u2014 {name} {base64.b64encode(bytes(blob)).decode()}"
    doc["checkpoint"] = "\n".join(lines)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    refresh_tag_manifest(bundle)
    verifier = Env(home=tmp_path / "verifier", tmp=tmp_path)
    r = verifier.run(
        "verify",
        bundle,
        "--trust",
        officer_pub(officer_env),
        "--witness-key",
        witness_pub(witness_home),
        "--json",
    )
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert [p["kind"] for p in data["problems"]] == ["bad_cosignature"]
    assert data["ledger"]["cosignatures"][0]["status"] == "invalid"


def test_offline_ingest_warns_then_ledger_witness_and_staple_catch_up(
    officer_env: Env, witness_home: Path, tmp_path: Path, restartable: list[WitnessProcess]
) -> None:
    down = "http://127.0.0.1:1"  # nothing listens on port 1
    r = officer_env.run(
        "ingest",
        small_evidence(tmp_path, "a"),
        "--case",
        "C",
        "--out",
        tmp_path / "b1",
        env={"CUSTODY_WITNESS": down},
    )
    assert r.exit_code == 0
    warnings = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and down in warnings[0]
    bundle = tmp_path / "b1"
    assert "\u2014 " + WITNESS_NAME not in proof(bundle)["checkpoint"]

    r = officer_env.run("ledger", "witness", "--witness", down)
    assert r.exit_code == 3
    r = officer_env.run("ledger", "staple", bundle)
    assert r.exit_code == 2 and "ledger witness" in r.output

    w = start_witness(witness_home, tmp_path / "witness.log")
    restartable.append(w)
    r = officer_env.run("ledger", "witness", "--json", env={"CUSTODY_WITNESS": w.url})
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    assert run["witnesses"][0]["status"] == "cosigned"
    before = (bundle / "data" / "statement.txt").read_bytes()
    r = officer_env.run("ledger", "staple", bundle, "--json")
    assert r.exit_code == 0, r.output
    staple = json.loads(r.stdout)
    assert staple["changed"] and staple["cosignatures"] == 1
    assert (bundle / "data" / "statement.txt").read_bytes() == before
    verifier = Env(home=tmp_path / "verifier", tmp=tmp_path)
    r = verifier.run(
        "verify",
        bundle,
        "--trust",
        officer_pub(officer_env),
        "--witness-key",
        witness_pub(witness_home),
        "--quorum",
        "1",
    )
    assert r.exit_code == 0, r.output
    # the staple is recorded in the ledger, and the ledger still verifies
    r = officer_env.run("ledger", "show", "--json")
    assert [e["action"] for e in json.loads(r.stdout)["entries"]][-1] == "staple"
    assert officer_env.run("ledger", "verify").exit_code == 0
    # stapling again changes nothing
    r = officer_env.run("ledger", "staple", bundle, "--json")
    assert r.exit_code == 0 and not json.loads(r.stdout)["changed"]
    # the bundle is checked by bagit tools too: the tag manifest lists the new proof
    r = verifier.run("verify", bundle, "--trust", officer_pub(officer_env), "-q")
    assert r.exit_code == 0, r.output


def test_transfer_staples_the_newest_cosigned_checkpoint(
    officer_env: Env, witness: WitnessProcess, tmp_path: Path
) -> None:
    bundle = ingest(officer_env, "a")
    receiver = Env(home=tmp_path / "registry", tmp=tmp_path)
    r = receiver.run("keygen", "--name", "ICC Registry")
    assert r.exit_code == 0, r.output
    r = officer_env.run(
        "transfer",
        bundle,
        "--to",
        next((receiver.home / "keys").glob("*.pub")),
        "--reason",
        "To the registry",
        env={"CUSTODY_WITNESS": witness.url},
    )
    assert r.exit_code == 0, r.output
    doc = proof(bundle)
    assert "\u2014 " + WITNESS_NAME in doc["checkpoint"]
    assert doc["tree_size"] == 3  # keygen, ingest, transfer: the cosigned checkpoint
    # the receiver's ledger is unknown to this witness: one warning line, the receipt stands
    r = receiver.run(
        "receive",
        bundle,
        "--trust",
        officer_pub(officer_env),
        env={"CUSTODY_WITNESS": witness.url},
    )
    assert r.exit_code == 0, r.output
    warnings = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "add-log" in warnings[0]


def test_ledger_consistency_with_quorum(
    officer_env: Env, witness: WitnessProcess, witness_home: Path, tmp_path: Path
) -> None:
    ingest(officer_env, "a")
    old = tmp_path / "old-checkpoint.txt"
    old.write_text(officer_env.run("ledger", "checkpoint").stdout)
    w = witness_pub(witness_home)
    r = officer_env.run("ledger", "consistency", old, "--witness-key", w, "--quorum", "1")
    assert r.exit_code == 1 and "quorum" in r.output
    assert officer_env.run("ledger", "witness", "--witness", witness.url).exit_code == 0
    ingest(officer_env, "b")
    r = officer_env.run("ledger", "consistency", old, "--witness-key", w, "--quorum", "1", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["witnessed_size"] == data["old_size"]
    assert [c["status"] for c in data["cosignatures"]] == ["valid"]
    # `ledger checkpoint` prints the cosigned checkpoint once it is witnessed
    officer_env.run("ledger", "witness", "--witness", witness.url)
    printed = officer_env.run("ledger", "checkpoint").stdout
    body, lines = note_body_and_lines(printed)
    spec_verify_cosignature(body, lines[-1], WITNESS_NAME, read_spki_pem(w))


# --- rollback and fork ------------------------------------------------------------------------


def test_rolled_back_ledger_is_refused_and_both_checkpoints_kept(
    officer_env: Env, witness: WitnessProcess, tmp_path: Path
) -> None:
    ingest(officer_env, "a")
    saved = tmp_path / "ledger-copy"
    shutil.copytree(officer_env.home / "ledger", saved)
    ingest(officer_env, "b")
    ingest(officer_env, "c")
    assert officer_env.run("ledger", "witness", "--witness", witness.url).exit_code == 0
    witnessed = officer_env.run("ledger", "checkpoint").stdout
    # the whole ledger folder replaced by the older copy
    shutil.rmtree(officer_env.home / "ledger")
    shutil.copytree(saved, officer_env.home / "ledger")
    r = officer_env.run("ledger", "witness", "--witness", witness.url)
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "different history" in lines[0] and "rolled back" in lines[0]
    kept = Path(lines[0].rsplit(" kept in ", 1)[1])
    text = kept.read_text()
    assert officer_env.run("ledger", "checkpoint").stdout.split("\n\n")[0] in text
    assert witnessed.split("\n\n")[0] in text  # the witness's checkpoint, for the investigator
    assert "both checkpoints signed by the same key: yes" in text


def test_forked_ledger_is_refused_with_422(
    officer_env: Env, witness: WitnessProcess, tmp_path: Path
) -> None:
    ingest(officer_env, "a")
    saved = tmp_path / "ledger-copy"
    shutil.copytree(officer_env.home / "ledger", saved)
    ingest(officer_env, "b")
    assert officer_env.run("ledger", "witness", "--witness", witness.url).exit_code == 0
    # back to the copy, then a different history that grows past the witnessed size
    shutil.rmtree(officer_env.home / "ledger")
    shutil.copytree(saved, officer_env.home / "ledger")
    for name in ("x", "y", "z"):
        ingest(officer_env, name)
    r = officer_env.run("ledger", "witness", "--witness", witness.url, "--json")
    assert r.exit_code == 1
    (outcome,) = json.loads(r.stdout)["witnesses"]
    assert outcome["status"] == "fork" and "rewritten" in outcome["message"]
    assert Path(outcome["evidence_file"]).is_file()
    assert any("/add-checkpoint 422" in ln for ln in witness.log_lines())
    # the same fork, caught automatically during an ingest: one warning line, the ingest stands
    r = officer_env.run(
        "ingest",
        small_evidence(tmp_path, "w"),
        "--case",
        "C",
        "--out",
        tmp_path / "bw",
        env={"CUSTODY_WITNESS": witness.url},
    )
    assert r.exit_code == 0
    warnings = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "different history" in warnings[0]


# --- every status code, over real HTTP --------------------------------------------------------


def body(old: int, proof_hashes: list[bytes], note: bytes) -> bytes:
    lines = [f"old {old}\n".encode()] + [base64.b64encode(h) + b"\n" for h in proof_hashes]
    return b"".join(lines) + b"\n" + note


def test_every_status_code(officer_env: Env, witness: WitnessProcess) -> None:
    ingest(officer_env, "a")
    ledger, note = raw_checkpoint(officer_env)
    size = int(note.split(b"\n")[1])
    with ledger:
        # 400: malformed bodies, and an old size above the checkpoint's
        for bad in (
            b"",
            b"old\n\n" + note,
            b"old 01\n\n" + note,
            b"old 0\nnot-base64\n\n" + note,
            b"old 0\n\n" + b"garbage\n",
            body(size + 1, [], note),
        ):
            status, _, _ = witness.post("/add-checkpoint", bad)
            assert status == 400, bad
        # 404: an unknown origin, and an unknown endpoint
        other = sign_checkpoint(
            "custody-ledger/unknown", 1, b"\x00" * 32, Ed25519PrivateKey.generate()
        )
        assert witness.post("/add-checkpoint", body(0, [], other))[0] == 404
        assert witness.post("/nothing-here", b"")[0] == 404
        # 403: the right origin signed by another key
        origin_name = note.split(b"\n")[0].decode()
        forged = sign_checkpoint(origin_name, size, ledger.root(size), Ed25519PrivateKey.generate())
        assert witness.post("/add-checkpoint", body(0, [], forged))[0] == 403
        # 200 from size 0, with a cosignature line
        status, _, answer = witness.post("/add-checkpoint", body(0, [], note))
        assert status == 200 and answer.startswith("\u2014 ".encode()) and answer.endswith(b"\n")
        # 409: a stale old size, with the witness's size as text/x.tlog.size
        status, ctype, answer = witness.post("/add-checkpoint", body(0, [], note))
        assert (status, ctype, answer) == (409, "text/x.tlog.size", f"{size}\n".encode())
    ingest(officer_env, "b")
    ledger, newer = raw_checkpoint(officer_env)
    new_size = int(newer.split(b"\n")[1])
    with ledger:
        good = ledger.consistency_proof(size, new_size)
        # 422: a proof that does not verify
        wrong = [bytes(32)] * len(good)
        assert witness.post("/add-checkpoint", body(size, wrong, newer))[0] == 422
        assert witness.post("/add-checkpoint", body(size, good, newer))[0] == 200
        # 409 at the same size with another root: a fork
        forked = sign_checkpoint(
            newer.split(b"\n")[0].decode(),
            new_size,
            bytes(32),
            _officer_private_key(officer_env),
        )
        status, ctype, answer = witness.post("/add-checkpoint", body(new_size, [], forked))
        assert (status, answer) == (409, f"{new_size}\n".encode())
    codes = [int(ln.split(" ")[4]) for ln in witness.log_lines()[1:]]
    assert {200, 400, 403, 404, 409, 422} <= set(codes)


def _officer_private_key(env: Env) -> Ed25519PrivateKey:
    from conftest import PASSPHRASE
    from custody.base.keys import find_key, load_private_key

    pair = find_key(home=env.home, selector=None)
    return load_private_key(pair, PASSPHRASE.encode())


# --- concurrency and crashes ------------------------------------------------------------------


def test_two_submissions_at_once_one_wins_the_other_gets_409(
    officer_env: Env, witness: WitnessProcess
) -> None:
    ingest(officer_env, "a")
    ledger, note = raw_checkpoint(officer_env)
    ledger.close()
    barrier = threading.Barrier(2)
    results: list[int] = []

    def submit() -> None:
        barrier.wait()
        results.append(witness.post("/add-checkpoint", body(0, [], note))[0])

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]


def test_two_officers_witnessing_at_once_both_end_cosigned(
    officer_env: Env, witness: WitnessProcess
) -> None:
    import subprocess
    import sys

    ingest(officer_env, "a")
    ingest(officer_env, "b")
    env = {
        "CUSTODY_HOME": str(officer_env.home),
        "PATH": "/usr/bin:/bin",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "custody",
                "ledger",
                "witness",
                "--witness",
                witness.url,
                "--json",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    for out, _ in outs:
        assert json.loads(out)["witnesses"][0]["status"] == "cosigned"


def test_kill_9_during_cosigning_never_loses_or_rolls_back_state(
    officer_env: Env, witness_home: Path, tmp_path: Path, restartable: list[WitnessProcess]
) -> None:
    """Checkpoints stream in while the witness is killed with SIGKILL; after every
    restart it holds at least the size of every checkpoint it answered 200 for,
    and its state file is whole."""
    ledger = Ledger.open(officer_env.home, create=False)
    key = _officer_private_key(officer_env)
    acknowledged = 0
    try:
        for round_ in range(2):
            w = start_witness(witness_home, tmp_path / "witness.log")
            restartable.append(w)
            stop = threading.Event()
            errors: list[BaseException] = []
            acked: list[int] = [acknowledged]
            t = threading.Thread(
                target=_stream_checkpoints, args=(officer_env, key, w, stop, acked, errors)
            )
            t.start()
            # let a few cosignatures through, then kill in the middle of the stream
            while acked[-1] < 3 * (round_ + 1) + 2 and t.is_alive():
                threading.Event().wait(0.01)
            w.kill9()
            stop.set()
            t.join()
            assert not errors, errors
            assert acked[-1] > acknowledged
            acknowledged = acked[-1]
            w2 = start_witness(witness_home, tmp_path / "witness.log")
            restartable.append(w2)
            status, note = w2.get("/checkpoint?origin=" + ledger.origin.replace("/", "%2F"))
            assert status == 200
            assert int(note.split(b"\n")[1]) >= acknowledged
            w2.stop()
    finally:
        ledger.close()


def _stream_checkpoints(
    env: Env,
    key: Ed25519PrivateKey,
    w: WitnessProcess,
    stop: threading.Event,
    acked: list[int],
    errors: list[BaseException],
) -> None:
    """Append and submit checkpoints one after another until stopped or the
    witness dies; records in `acked` every size the witness answered 200 for."""
    while not stop.is_set():
        try:
            with Ledger.open(env.home, create=False) as ledger:
                appended = ledger.append(
                    action="verify",
                    subject={"n": 1},
                    signer=key,
                    signer_name="PC",
                    time="2026-12-01T00:00:00Z",
                )
                held = _held(w, appended.origin)
                hashes = ledger.consistency_proof(held, appended.tree_size) if held else []
            status, _, _ = w.post("/add-checkpoint", body(held, hashes, appended.checkpoint))
            if status == 200:
                acked.append(appended.tree_size)
        except (OSError, ConnectionError):
            return  # the witness was killed mid-request
        except BaseException as e:
            errors.append(e)
            return


def _held(w: WitnessProcess, origin_name: str) -> int:
    status, note = w.get("/checkpoint?origin=" + origin_name.replace("/", "%2F"))
    return int(note.split(b"\n")[1]) if status == 200 else 0


# --- the witness's own commands ---------------------------------------------------------------


def test_witness_commands_fail_in_one_line(tmp_path: Path, officer_env: Env) -> None:
    w = Env(home=tmp_path / "w", tmp=tmp_path)
    r = w.run("witness", "serve", "--listen", "127.0.0.1:0")
    assert r.exit_code == 2 and "witness init" in r.output
    r = w.run("witness", "init", "--name", "has space")
    assert r.exit_code == 2
    assert w.run("witness", "init", "--name", WITNESS_NAME).exit_code == 0
    r = w.run("witness", "init", "--name", WITNESS_NAME)
    assert r.exit_code == 2 and "already" in r.output
    r = w.run("witness", "add-log", "custody-ledger/x", "--key", "0" * 64)
    assert r.exit_code == 2 and "trust store" in r.output
    r = w.run("witness", "serve", "--listen", "nonsense")
    assert r.exit_code == 2
    r = w.run("witness", "trust", tmp_path / "missing.pub")
    assert r.exit_code == 2
    assert (tmp_path / "w" / "witness" / "witness.key").stat().st_mode & 0o077 == 0


def test_unknown_ledger_is_refused_in_one_line(
    officer_env: Env, tmp_path: Path, restartable: list[WitnessProcess]
) -> None:
    home = tmp_path / "empty-witness"
    assert Env(home=home, tmp=tmp_path).run("witness", "init", "--name", "w.example").exit_code == 0
    w = start_witness(home, tmp_path / "w.log")
    restartable.append(w)
    r = officer_env.run("ledger", "witness", "--witness", w.url)
    assert r.exit_code == 2 and "add-log" in r.output


def test_state_table_survives_old_ledgers(officer_env: Env) -> None:
    """A ledger made before witnesses existed gains the tables on open."""
    db = officer_env.home / "ledger" / "ledger.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE cosigned")
        conn.execute("DROP TABLE witnesses")
    assert officer_env.run("ledger", "verify").exit_code == 0
    assert officer_env.run("ledger", "checkpoint").exit_code == 0


def test_every_witness_json_output_matches_its_schema(
    officer_env: Env, witness: WitnessProcess, witness_home: Path, tmp_path: Path
) -> None:
    from conftest import validate

    w = Env(home=tmp_path / "w2", tmp=tmp_path)
    validate(
        "witness-init",
        json.loads(w.run("witness", "init", "--name", "w2.example", "--json").stdout),
    )
    r = w.run(
        "witness", "add-log", origin(officer_env), "--key", officer_pub(officer_env), "--json"
    )
    validate("witness-add-log", json.loads(r.stdout))
    verifier = Env(home=tmp_path / "verifier", tmp=tmp_path)
    r = verifier.run("witness", "trust", witness_pub(witness_home), "--json")
    validate("witness-trust", json.loads(r.stdout))
    bundle = ingest(officer_env, "a")
    r = officer_env.run(
        "ledger", "witness", "--witness", witness.url, "--witness", "http://127.0.0.1:1", "--json"
    )
    assert r.exit_code == 3
    run = json.loads(r.stdout)
    validate("ledger-witness", run)
    assert [o["status"] for o in run["witnesses"]] == ["cosigned", "unavailable"]
    r = officer_env.run("ledger", "staple", bundle, "--json")
    validate("ledger-staple", json.loads(r.stdout))
    r = verifier.run(
        "verify", bundle, "--trust", officer_pub(officer_env), "--quorum", "1", "--json"
    )
    assert r.exit_code == 0, r.output
    validate("verify", json.loads(r.stdout))
    old = tmp_path / "cp.txt"
    old.write_text(officer_env.run("ledger", "checkpoint").stdout)
    r = officer_env.run(
        "ledger", "consistency", old, "--witness-key", witness_pub(witness_home), "--json"
    )
    validate("ledger-consistency", json.loads(r.stdout))


def test_a_cosignature_checks_with_openssl(
    officer_env: Env, witness: WitnessProcess, witness_home: Path, tmp_path: Path
) -> None:
    """docs/ledger.md: the message and signature a verifier rebuilds by hand."""
    import subprocess

    bundle = ingest(officer_env, "a", {"CUSTODY_WITNESS": witness.url})
    note_body, lines = note_body_and_lines(proof(bundle)["checkpoint"])
    line = next(ln for ln in lines if ln.split(" ")[1] == WITNESS_NAME)
    blob = base64.b64decode(line.split(" ")[2])
    stamp = int.from_bytes(blob[4:12], "big")
    (tmp_path / "msg").write_bytes(b"cosignature/v1\ntime %d\n" % stamp + note_body)
    (tmp_path / "sig").write_bytes(blob[12:])
    args = ["openssl", "pkeyutl", "-verify", "-rawin", "-pubin"]
    args += ["-inkey", str(witness_pub(witness_home)), "-in", str(tmp_path / "msg")]
    done = subprocess.run([*args, "-sigfile", str(tmp_path / "sig")], capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "msg").write_bytes(b"cosignature/v1\ntime %d\n" % (stamp + 1) + note_body)
    done = subprocess.run([*args, "-sigfile", str(tmp_path / "sig")], capture_output=True)
    assert done.returncode != 0


def test_quorum_of_two_independent_witnesses(
    officer_env: Env,
    witness: WitnessProcess,
    witness_home: Path,
    tmp_path: Path,
    restartable: list[WitnessProcess],
) -> None:
    second_home = tmp_path / "second-witness"
    second = Env(home=second_home, tmp=tmp_path)
    assert second.run("witness", "init", "--name", "prosecution.example/w").exit_code == 0
    r = second.run("witness", "add-log", origin(officer_env), "--key", officer_pub(officer_env))
    assert r.exit_code == 0
    w2 = start_witness(second_home, tmp_path / "second.log")
    restartable.append(w2)
    both = f"{witness.url} {w2.url}"
    bundle = ingest(officer_env, "a", {"CUSTODY_WITNESS": both})
    verifier = Env(home=tmp_path / "verifier", tmp=tmp_path)
    keys = ["--witness-key", witness_pub(witness_home), "--witness-key", witness_pub(second_home)]
    jane = officer_pub(officer_env)
    r = verifier.run("verify", bundle, "--trust", jane, *keys, "--quorum", "2", "--json")
    assert r.exit_code == 0, r.output
    assert sorted(c["witness"] for c in json.loads(r.stdout)["ledger"]["cosignatures"]) == [
        "prosecution.example/w",
        WITNESS_NAME,
    ]
    # one witness down: the bundle made then carries one cosignature, short of a quorum of 2
    w2.stop()
    late = ingest(officer_env, "b", {"CUSTODY_WITNESS": both})
    r = verifier.run("verify", late, "--trust", jane, *keys, "--quorum", "2")
    assert r.exit_code == 1 and "witness_quorum" in r.output
    r = verifier.run("verify", late, "--trust", jane, *keys, "--quorum", "1")
    assert r.exit_code == 0, r.output


def test_one_witness_key_under_two_names_counts_once(
    officer_env: Env, witness: WitnessProcess, witness_home: Path, tmp_path: Path
) -> None:
    """A renamed witness whose old key file the verifier kept: one key, two
    names. cosignature/v1 does not sign the name, so anyone can copy the
    witness's one cosignature under the old name (with that name's key id);
    it verifies, and must not count as a second witness."""
    from conftest import refresh_tag_manifest
    from witness_server import spec_key_id

    bundle = ingest(officer_env, "a", {"CUSTODY_WITNESS": witness.url})
    current = witness_pub(witness_home)
    old_name = "registry.example.org/old-witness"
    renamed = tmp_path / "old-witness.pub"
    renamed.write_text(
        current.read_text().replace(f"Name: {WITNESS_NAME}\n", f"Name: {old_name}\n")
    )
    assert renamed.read_text() != current.read_text()
    independent = Env(home=tmp_path / "independent", tmp=tmp_path)
    assert independent.run("witness", "init", "--name", "prosecution.example/w").exit_code == 0
    keys = ["--witness-key", current, "--witness-key", renamed]
    keys += ["--witness-key", witness_pub(independent.home)]

    path = bundle / "custody" / "ledger-proof.json"
    doc = json.loads(path.read_text())
    lines = doc["checkpoint"].rstrip("\n").split("\n")
    line = next(ln for ln in lines if ln.startswith(f"\u2014 {WITNESS_NAME} "))
    blob = base64.b64decode(line.split(" ")[2])
    key = read_spki_pem(current)
    copied = spec_key_id(old_name, key) + blob[4:]
    lines.append(f"\u2014 {old_name} {base64.b64encode(copied).decode()}")
    doc["checkpoint"] = "\n".join(lines) + "\n"
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    refresh_tag_manifest(bundle)

    verifier = Env(home=tmp_path / "verifier", tmp=tmp_path)
    jane = officer_pub(officer_env)
    r = verifier.run("verify", bundle, "--trust", jane, *keys, "--quorum", "2", "--json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    # Both lines verify (the copy is a valid cosignature under the old name) ...
    assert sorted((c["witness"], c["status"]) for c in data["ledger"]["cosignatures"]) == [
        (old_name, "valid"),
        (WITNESS_NAME, "valid"),
    ]
    # ... and count once.
    assert [p["kind"] for p in data["problems"]] == ["witness_quorum"]
    assert data["problems"][0]["detail"].startswith("1 valid cosignature(s)")
    r = verifier.run("verify", bundle, "--trust", jane, *keys, "--quorum", "1")
    assert r.exit_code == 0, r.output

    # ledger consistency counts the same way.
    checkpoint = tmp_path / "relabelled-checkpoint.txt"
    checkpoint.write_text(doc["checkpoint"])
    r = officer_env.run("ledger", "consistency", checkpoint, *keys, "--quorum", "2")
    assert r.exit_code == 1 and "1 valid cosignature(s)" in r.output, r.output

    # With only the two names chosen, a quorum of 2 can never be met: a usage error.
    r = verifier.run(
        "verify",
        bundle,
        "--trust",
        jane,
        "--witness-key",
        current,
        "--witness-key",
        renamed,
        "--quorum",
        "2",
    )
    assert r.exit_code == 2 and "one key under two names is one witness" in r.output


class MemoryStore:
    """A StateStore in memory, for the handler without sockets."""

    def __init__(self) -> None:
        self.states: dict[str, object] = {}
        self.lock = threading.Lock()

    def locked(self, origin: str):  # type: ignore[no-untyped-def]
        return self.lock

    def get(self, origin: str):  # type: ignore[no-untyped-def]
        return self.states.get(origin)

    def put(self, state) -> None:  # type: ignore[no-untyped-def]
        self.states[state.origin] = state


def test_the_handler_never_raises_on_hostile_bodies() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from custody.witness.handler import Witness
    from custody.witness.protocol import Request

    log_key = Ed25519PrivateKey.generate()
    note = sign_checkpoint("example.org/log", 1, bytes(32), log_key)
    w = Witness(
        "w.example",
        Ed25519PrivateKey.generate(),
        lambda: {"example.org/log": (log_key.public_key(),)},
        MemoryStore(),
        lambda: 1_800_000_000,
    )

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.binary(max_size=400)
        | st.builds(
            lambda a, b: a + note[: len(b)],
            st.sampled_from(
                [b"old 0\n\n", b"old 1\n\n", b"old 0\nAAAA\n\n", b"old 99999999999999999999\n\n"]
            ),
            st.binary(max_size=200),
        )
    )
    def check(data: bytes) -> None:
        response = w.handle(Request("POST", "/add-checkpoint", data))
        assert response.status in (200, 400, 403, 404, 409, 422)

    check()
    assert w.handle(Request("POST", "/add-checkpoint", b"old 0\n\n" + note)).status in (200, 409)


def test_a_crash_between_the_two_renames_of_a_staple_is_repaired_by_stapling_again(
    officer_env: Env, witness: WitnessProcess, tmp_path: Path
) -> None:
    bundle = ingest(officer_env, "a")
    manifest = bundle / "tagmanifest-sha256.txt"
    before = manifest.read_bytes()
    assert officer_env.run("ledger", "witness", "--witness", witness.url).exit_code == 0
    assert officer_env.run("ledger", "staple", bundle).exit_code == 0
    # the state a crash after the proof's rename and before the manifest's leaves
    manifest.write_bytes(before)
    jane = officer_pub(officer_env)
    verifier = Env(home=tmp_path / "verifier", tmp=tmp_path)
    r = verifier.run("verify", bundle, "--trust", jane, "-q")
    assert r.exit_code == 1 and "ledger-proof.json" in r.output
    assert "an interrupted 'custody ledger staple' leaves it: run it again" in r.output
    r = officer_env.run("ledger", "staple", bundle, "--json")
    assert r.exit_code == 0 and not json.loads(r.stdout)["changed"]
    assert verifier.run("verify", bundle, "--trust", jane, "-q").exit_code == 0


def test_witness_export(witness_home: Path, tmp_path: Path) -> None:
    w = Env(home=witness_home, tmp=tmp_path)
    r = w.run("witness", "export")
    assert r.exit_code == 0 and r.stdout.encode() == witness_pub(witness_home).read_bytes()
    assert w.run("witness", "export", "-o", tmp_path / "w.pub").exit_code == 0
    r = w.run("witness", "export", "-o", tmp_path / "w.pub")
    assert r.exit_code == 2 and "not overwritten" in r.output


def test_a_checkpoint_overtaken_by_another_process_is_not_taken_for_a_rollback(
    officer_env: Env, witness: WitnessProcess
) -> None:
    """Process A reads the checkpoint of size n; process B appends and has n+1
    cosigned; A's submission then meets a witness at n+1: not a fork."""
    from custody.ops.witness_submit import LedgerLog, _submit_one

    ingest(officer_env, "a")
    ledger, stale = raw_checkpoint(officer_env)
    with ledger:
        ingest(officer_env, "b")
        assert officer_env.run("ledger", "witness", "--witness", witness.url).exit_code == 0
        from custody.tlog.note import parse_checkpoint

        outcome = _submit_one(
            log=LedgerLog(officer_env.home, ledger),
            url=witness.url + "/",
            note=stale,
            cp=parse_checkpoint(stale),
            known=(),
            timeout=10.0,
        )
    assert outcome.status == "cosigned", outcome
    assert outcome.witness_size == parse_checkpoint(stale).size + 1
    assert not (officer_env.home / "ledger" / "forks").exists()


def test_add_log_takes_effect_while_serving(
    officer_env: Env, tmp_path: Path, restartable: list[WitnessProcess]
) -> None:
    home = tmp_path / "live-witness"
    w = Env(home=home, tmp=tmp_path)
    assert w.run("witness", "init", "--name", "live.example/w").exit_code == 0
    proc = start_witness(home, tmp_path / "live.log")
    restartable.append(proc)
    assert officer_env.run("ledger", "witness", "--witness", proc.url).exit_code == 2  # 404
    r = w.run("witness", "add-log", origin(officer_env), "--key", officer_pub(officer_env))
    assert r.exit_code == 0
    assert officer_env.run("ledger", "witness", "--witness", proc.url).exit_code == 0


def test_witnessing_the_same_checkpoint_again_keeps_the_first_cosignature(
    officer_env: Env, witness: WitnessProcess
) -> None:
    ingest(officer_env, "a")
    for _ in range(3):
        assert officer_env.run("ledger", "witness", "--witness", witness.url).exit_code == 0
    ledger, note = raw_checkpoint(officer_env)
    with ledger:
        from custody.tlog.note import parse_checkpoint

        cosigned = ledger.cosigned_checkpoint(parse_checkpoint(note).size)
    assert cosigned is not None
    lines = [x for x in cosigned.decode().split("\n\n", 1)[1].splitlines() if WITNESS_NAME in x]
    assert len(lines) == 1
