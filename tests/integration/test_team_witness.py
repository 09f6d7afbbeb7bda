"""Witnesses cosigning team checkpoints, end to end: a real PostgreSQL, a real
`custody witness serve` on loopback, officers' homes publishing, and a court
verifying offline with the witnesses it chose. Cosignatures are also checked
with the independent C2SP verifier in witness_server.py."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import Env, make_evidence, validate
from pg_server import available
from witness_server import (
    WitnessProcess,
    note_body_and_lines,
    read_spki_pem,
    spec_verify_cosignature,
    start_witness,
)

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not available(), reason="PostgreSQL server binaries not installed")

TEAM = "Met War Crimes Team"
WITNESS = "registry.example.org/witness"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def dead_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@dataclass
class Team:
    url: str
    lead: Env
    jane: Env
    court: Env
    team_pub: Path
    jane_pub: Path
    witness_home: Path
    witness_pub: Path
    tmp: Path

    def origin(self) -> str:
        return str(rows(self.url, "SELECT origin FROM custody_team.team")[0][0])

    def witnessed(self, env: Env) -> Env:
        return Env(home=env.home, tmp=self.tmp)


@pytest.fixture
def team(pg: Any, tmp_path: Path) -> Team:
    """A team log; Jane (an officer) joined it and made one bundle; a witness
    that accepts the team key; a court that trusts the witness."""
    url = pg.new_database()
    lead = Env(home=tmp_path / "lead", tmp=tmp_path)
    ok(lead.run("team", "init", "--database", url, "--name", TEAM))
    team_pub = tmp_path / "met-team.pub"
    team_pub.write_text(ok(lead.run("team", "key")).stdout)
    jane = Env(home=tmp_path / "jane", tmp=tmp_path)
    ok(jane.run("team", "join", url))
    ok(jane.run("keygen", "--name", "PC Jane Smith"))
    ok(
        jane.run(
            "ingest", make_evidence(tmp_path / "ev"), "--case", "ICC-2026-014",
            "--out", tmp_path / "b1",
        )
    )  # fmt: skip
    jane_pub = next((jane.home / "keys").glob("*.pub"))
    w = Env(home=tmp_path / "witness-home", tmp=tmp_path)
    ok(w.run("witness", "init", "--name", WITNESS))
    origin = str(rows(url, "SELECT origin FROM custody_team.team")[0][0])
    ok(w.run("witness", "add-log", origin, "--key", team_pub))
    witness_pub = tmp_path / "registry.pub"
    ok(w.run("witness", "export", "-o", witness_pub))
    court = Env(home=tmp_path / "court", tmp=tmp_path)
    ok(court.run("witness", "trust", witness_pub))
    ok(jane.run("witness", "trust", witness_pub))
    return Team(url, lead, jane, court, team_pub, jane_pub, w.home, witness_pub, tmp_path)


@pytest.fixture
def witness(team: Team) -> Iterator[WitnessProcess]:
    proc = start_witness(team.witness_home, team.tmp / "witness.log")
    try:
        yield proc
    finally:
        proc.stop()


def test_publish_has_the_team_checkpoint_cosigned_and_a_court_requires_it(
    team: Team, witness: WitnessProcess
) -> None:
    bundle = team.tmp / "b1"
    result = ok(team.jane.run("ledger", "publish", env={"CUSTODY_WITNESS": witness.url}))
    assert "witness" not in result.stderr  # cosigned: nothing to warn about
    stored = rows(team.url, "SELECT size, note FROM custody_team.cosigned")
    assert [s for s, _ in stored] == [3]  # Jane's two entries and her checkpoint

    doc = as_json(ok(team.jane.run("team", "proof", bundle, "--json")))
    validate("team-proof", doc)
    assert doc["tree_size"] == 3 and doc["cosignatures"] == 1
    proof = json.loads((bundle / "custody" / "team-proof.json").read_text())
    body, lines = note_body_and_lines(proof["checkpoint"])
    cosignature = [line for line in lines if f" {WITNESS} " in line]
    assert len(cosignature) == 1
    # The cosignature checks out with a verifier written from the C2SP text alone.
    spec_verify_cosignature(body, cosignature[0], WITNESS, read_spki_pem(team.witness_pub))

    args = ("verify", bundle, "--trust", team.jane_pub, "--team-key", team.team_pub)
    report = as_json(team.court.run(*args, "--quorum", "1", "--json"))
    assert report["verified"], report["problems"]
    validate("verify", report)
    assert [c["status"] for c in report["team"]["cosignatures"]] == ["valid"]
    assert report["ledger"]["cosignatures"] == []  # Jane's own ledger was never witnessed
    # Without the team key, the team proof counts for nothing, and neither do its witnesses.
    r = team.court.run("verify", bundle, "--trust", team.jane_pub, "--quorum", "1", "--json")
    assert r.exit_code == 1
    assert "witness_quorum" in {p["kind"] for p in as_json(r)["problems"]}
    text = ok(team.court.run(*args, "--quorum", "1")).stdout
    assert "Team witnessed" in text and f"{WITNESS} valid" in text

    report = as_json(ok(team.jane.run("team", "verify", "--json")))
    validate("team-verify", report)
    assert report["witnessed"]["size"] == 3
    assert [c["status"] for c in report["witnessed"]["cosignatures"]] == ["valid"]
    assert "Witnessed (checkpoint of 3 leaves)" in ok(team.jane.run("team", "verify")).stdout


def test_one_witness_key_under_two_names_counts_once_on_a_team_proof(
    team: Team, witness: WitnessProcess
) -> None:
    """The team checkpoint's one cosignature, copied under a second name the
    court also trusts for the same witness key (a renamed witness whose old
    .pub was kept), still counts once towards --quorum."""
    from conftest import refresh_tag_manifest
    from witness_server import spec_key_id

    bundle = team.tmp / "b1"
    ok(team.jane.run("ledger", "publish", env={"CUSTODY_WITNESS": witness.url}))
    ok(team.jane.run("team", "proof", bundle))
    old_name = "registry.example.org/old-witness"
    renamed = team.tmp / "old-witness.pub"
    renamed.write_text(
        team.witness_pub.read_text().replace(f"Name: {WITNESS}\n", f"Name: {old_name}\n")
    )
    other = Env(home=team.tmp / "other-witness", tmp=team.tmp)
    ok(other.run("witness", "init", "--name", "prosecution.example/w"))
    other_pub = team.tmp / "other.pub"
    ok(other.run("witness", "export", "-o", other_pub))

    path = bundle / "custody" / "team-proof.json"
    proof = json.loads(path.read_text())
    lines = proof["checkpoint"].rstrip("\n").split("\n")
    line = next(ln for ln in lines if ln.startswith(f"\u2014 {WITNESS} "))
    blob = base64.b64decode(line.split(" ")[2])
    copied = spec_key_id(old_name, read_spki_pem(team.witness_pub)) + blob[4:]
    lines.append(f"\u2014 {old_name} {base64.b64encode(copied).decode()}")
    proof["checkpoint"] = "\n".join(lines) + "\n"
    path.write_text(json.dumps(proof, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    refresh_tag_manifest(bundle)

    args = ("verify", bundle, "--trust", team.jane_pub, "--team-key", team.team_pub)
    keys = ("--witness-key", renamed, "--witness-key", other_pub)  # and the trusted registry
    report = as_json(team.court.run(*args, *keys, "--quorum", "2", "--json"))
    assert sorted((c["witness"], c["status"]) for c in report["team"]["cosignatures"]) == [
        (old_name, "valid"),
        (WITNESS, "valid"),
    ]
    assert [p["kind"] for p in report["problems"]] == ["witness_quorum"], report["problems"]
    assert "1 on the team proof's" in report["problems"][0]["detail"]
    assert as_json(team.court.run(*args, *keys, "--quorum", "1", "--json"))["verified"]


def test_the_proof_staples_the_newest_cosigned_checkpoint_not_a_later_bare_one(
    team: Team, witness: WitnessProcess
) -> None:
    bundle = team.tmp / "b1"
    ok(team.jane.run("ledger", "publish", env={"CUSTODY_WITNESS": witness.url}))
    bob = Env(home=team.tmp / "bob", tmp=team.tmp)
    ok(bob.run("team", "join", team.url))
    ok(bob.run("keygen", "--name", "DC Bob Jones"))
    ok(
        bob.run(
            "ingest", make_evidence(team.tmp / "ev2"), "--case", "C-2", "--out", team.tmp / "b2"
        )
    )
    ok(bob.run("ledger", "publish"))  # no witness: the newest checkpoint (6) is bare
    doc = as_json(ok(team.jane.run("team", "proof", bundle, "--json")))
    assert (doc["tree_size"], doc["cosignatures"]) == (3, 1)
    # Once the team log's newest checkpoint is cosigned, stapling again moves to it.
    run = as_json(ok(bob.run("team", "witness", "--witness", witness.url, "--json")))
    validate("ledger-witness", run)
    assert run["size"] == 6 and run["witnesses"][0]["status"] == "cosigned"
    doc = as_json(ok(team.jane.run("team", "proof", bundle, "--json")))
    assert (doc["tree_size"], doc["cosignatures"]) == (6, 1)
    report = as_json(
        team.court.run(
            "verify", bundle, "--trust", team.jane_pub, "--team-key", team.team_pub,
            "--quorum", "1", "--json",
        )
    )  # fmt: skip
    assert report["verified"], report["problems"]


def test_a_witness_down_never_fails_a_publish_and_team_witness_catches_up(
    team: Team, witness: WitnessProcess
) -> None:
    down = dead_url()
    result = team.jane.run("ledger", "publish", env={"CUSTODY_WITNESS": down})
    assert result.exit_code == 0, result.output
    assert f"witness {down}" in result.stderr and "custody team witness" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert rows(team.url, "SELECT count(*) FROM custody_team.cosigned") == [(0,)]
    r = team.jane.run("team", "witness", "--witness", down)
    assert r.exit_code == 3 and "cannot reach" in r.output
    line = ok(team.jane.run("team", "witness", "--witness", witness.url)).stdout
    assert "cosigned checkpoint of 3 leaves" in line


def test_a_witness_that_does_not_know_the_team_log_says_how_to_add_it(
    team: Team, tmp_path: Path
) -> None:
    other = Env(home=tmp_path / "other-witness", tmp=tmp_path)
    ok(other.run("witness", "init", "--name", "other.example/w"))
    proc = start_witness(other.home, tmp_path / "other.log")
    try:
        r = team.jane.run("team", "witness", "--witness", proc.url)
    finally:
        proc.stop()
    assert r.exit_code == 2
    assert f"custody witness add-log {team.origin()} --key TEAM.pub" in r.output


def test_a_rewritten_team_log_is_refused_by_the_witness(
    team: Team, witness: WitnessProcess
) -> None:
    """The database's operator holds the team key, so nothing stops them from
    signing another history; a witness that cosigned the first one refuses it,
    and both checkpoints are kept for investigation."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custody.tlog import merkle
    from custody.tlog.note import sign_checkpoint

    ok(team.jane.run("ledger", "publish"))
    ok(team.jane.run("team", "witness", "--witness", witness.url))
    origin, private = rows(team.url, "SELECT origin, private_key FROM custody_team.team")[0]
    key = Ed25519PrivateKey.from_private_bytes(bytes(private))
    # Replace the history by a different one of the same size, consistently signed.
    fake = [merkle.leaf_hash(b"forged %d" % i) for i in range(3)]
    compact = merkle.CompactRange()
    rows(team.url, "DELETE FROM custody_team.nodes")
    for h in fake:
        for level, idx, node in compact.append(h):
            rows(team.url, "INSERT INTO custody_team.nodes VALUES (%s, %s, %s)", (level, idx, node))
    note = sign_checkpoint(str(origin), 3, compact.root(), key)
    rows(
        team.url,
        "UPDATE custody_team.tree_state SET root = %s, checkpoint = %s",
        (compact.root(), note),
    )
    r = team.jane.run("team", "witness", "--witness", witness.url)
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds a different history of this team log" in lines[0]
    forks = list((team.jane.home / "team" / "forks").glob("*.txt"))
    assert len(forks) == 1
    kept = forks[0].read_text()
    assert note.decode() in kept and "both checkpoints signed by the same key: yes" in kept


def test_a_forged_or_moved_cosignature_in_the_database_is_caught(
    team: Team, witness: WitnessProcess
) -> None:
    bundle = team.tmp / "b1"
    ok(team.jane.run("ledger", "publish", env={"CUSTODY_WITNESS": witness.url}))
    ((size, note),) = rows(team.url, "SELECT size, note FROM custody_team.cosigned")
    body, lines = note_body_and_lines(bytes(note).decode())
    name, blob = lines[-1][2:].split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01  # the witness's signature, one bit off
    text = bytes(note).decode()
    assert text.endswith(lines[-1] + "\n")
    forged = (
        text[: -len(lines[-1]) - 1] + f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n"
    ).encode()
    rows(team.url, "UPDATE custody_team.cosigned SET note = %s", (forged,))
    r = team.jane.run("team", "verify", "--json")
    assert r.exit_code == 1
    assert {(p["kind"], p["path"]) for p in as_json(r)["problems"]} == {
        ("bad_cosignature", f"cosigned checkpoint {size}")
    }
    # Jane chose this witness: she does not staple the forgery, but the bare checkpoint.
    assert as_json(ok(team.jane.run("team", "proof", bundle, "--json")))["cosignatures"] == 0
    # The lead did not choose it and staples the forgery; the court, which did, sees it.
    assert as_json(ok(team.lead.run("team", "proof", bundle, "--json")))["cosignatures"] == 1
    args = ("verify", bundle, "--trust", team.jane_pub, "--team-key", team.team_pub, "--json")
    report = as_json(team.court.run(*args))
    assert not report["verified"]
    assert ("bad_cosignature", "custody/team-proof.json") in {
        (p["kind"], p["path"]) for p in report["problems"]
    }
    # A cosigned checkpoint whose tree is not the one the log signed is not stapled.
    root_line = body.splitlines()[2]
    other = bytes(note).replace(root_line, base64.b64encode(b"x" * 32))
    rows(team.url, "UPDATE custody_team.cosigned SET note = %s", (other,))
    r = team.jane.run("team", "verify", "--json")
    assert ("bad_cosigned_checkpoint", f"cosigned checkpoint {size}") in {
        (p["kind"], p["path"]) for p in as_json(r)["problems"]
    }
    doc = as_json(ok(team.lead.run("team", "proof", bundle, "--json")))
    assert doc["cosignatures"] == 0
    assert team.court.run(*args).exit_code == 0


def test_a_team_log_made_before_witnessing_gets_its_tables_on_first_use(
    team: Team, witness: WitnessProcess
) -> None:
    rows(team.url, "DROP TABLE custody_team.cosigned, custody_team.witnesses")
    ok(team.jane.run("ledger", "publish"))
    report = as_json(ok(team.jane.run("team", "verify", "--json")))
    assert report["witnessed"] is None
    assert "no cosigned team checkpoint yet" in ok(team.jane.run("team", "verify")).stdout
    assert as_json(ok(team.jane.run("team", "proof", team.tmp / "b1", "--json")))["tree_size"] == 3
    ok(team.jane.run("team", "witness", "--witness", witness.url))
    assert rows(team.url, "SELECT size FROM custody_team.cosigned") == [(3,)]


def test_team_witness_outside_a_team_fails_in_one_line(tmp_path: Path) -> None:
    alone = Env(home=tmp_path / "alone", tmp=tmp_path)
    r = alone.run("team", "witness", "--witness", "http://127.0.0.1:9")
    assert r.exit_code == 2 and "no team" in r.output and "Traceback" not in r.output
    r = alone.run("team", "witness", env={"CUSTODY_WITNESS": None})
    assert r.exit_code == 2 and "no witness" in r.output


def test_officers_publishing_at_once_all_land_and_the_witness_sees_one_history(
    team: Team, witness: WitnessProcess
) -> None:
    import subprocess
    import sys

    from team_helpers import cli_env, officer_home

    homes = []
    for i in range(6):
        home = officer_home(team.tmp, f"Officer {i}", entries=2 + i)
        ok(Env(home=home, tmp=team.tmp).run("team", "join", team.url))
        homes.append(home)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "custody", "ledger", "publish", "--json"],
            env={**cli_env(h), "CUSTODY_WITNESS": witness.url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for h in homes
    ]
    results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0 and json.loads(out)["online"], err
        assert "different history" not in err
    total = sum(2 + i + 1 for i in range(6))
    # Whatever the interleaving, catching up leaves the whole log cosigned, once.
    run = as_json(ok(team.jane.run("team", "witness", "--witness", witness.url, "--json")))
    assert run["size"] == total
    report = as_json(ok(team.jane.run("team", "verify", "--json")))
    assert report["valid"] and report["size"] == total, report["problems"]
    assert report["witnessed"]["size"] == total
    # However often it was asked, the witness's first cosignature is the one kept.
    assert [(c["witness"], c["status"]) for c in report["witnessed"]["cosignatures"]] == [
        (WITNESS, "valid")
    ]
    assert not any((h / "team" / "forks").exists() for h in [*homes, team.jane.home])
