"""The shared team log on a real PostgreSQL: init, join, publish, show, verify,
proofs in bundles, and the faults the issue names (concurrency, kill -9 of a
publisher and of the server, a superuser editing rows, rolled-back and forked
officer ledgers)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import Env, make_evidence, validate
from pg_server import PgServer, available
from team_helpers import add_entries, custody, custody_process, officer_home

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not available(), reason="PostgreSQL server binaries not installed")

TEAM = "Met War Crimes Team"


def home_env(tmp: Path, home: Path) -> Env:
    return Env(home=home, tmp=tmp)


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def team_json(env: Env, *args: str) -> tuple[int, dict[str, Any]]:
    result = env.run(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def new_team(tmp: Path, url: str) -> Env:
    lead = home_env(tmp, tmp / "lead")
    ok(lead.run("team", "init", "--database", url, "--name", TEAM))
    return lead


def join(tmp: Path, url: str, home: Path) -> Env:
    env = home_env(tmp, home)
    ok(env.run("team", "join", url))
    return env


def rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


# --- the everyday flow -----------------------------------------------------------


def test_init_join_publish_show_verify(pg: PgServer, tmp_path: Path) -> None:
    url = pg.new_database()
    lead = new_team(tmp_path, url)
    code, info = team_json(lead, "team", "join", url)
    assert code == 0 and info["name"] == TEAM and info["origin"].startswith("custody-team/")
    validate("team-info", info)
    jane = join(tmp_path, url, tmp_path / "jane")
    ok(jane.run("keygen", "--name", "PC Jane Smith"))
    evidence = make_evidence(tmp_path / "ev")
    ok(
        jane.run(
            "ingest",
            evidence,
            "--case",
            "ICC-2026-014",
            "--exhibit",
            "JS/1",
            "--out",
            tmp_path / "b1",
        )
    )
    code, published = team_json(jane, "ledger", "publish")
    assert code == 0 and published["online"] and published["published_entries"] == 2
    assert published["published_leaves"] == 3 and published["tree_size"] == 3
    validate("ledger-publish", published)
    # Idempotent: nothing is sent twice.
    code, again = team_json(jane, "ledger", "publish")
    assert code == 0 and again["published_leaves"] == 0 and again["tree_size"] == 3
    assert rows(url, "SELECT count(*) FROM custody_team.leaves")[0][0] == 3

    bob = join(tmp_path, url, tmp_path / "bob")
    ok(bob.run("keygen", "--name", "DC Bob Jones"))
    ok(
        bob.run(
            "ingest",
            evidence,
            "--case",
            "ICC-2026-014",
            "--exhibit",
            "BJ/1",
            "--out",
            tmp_path / "b2",
        )
    )
    ok(bob.run("ingest", evidence, "--case", "OTHER-1", "--out", tmp_path / "b3"))
    ok(bob.run("ledger", "publish"))

    code, shown = team_json(lead, "team", "show", "--case", "ICC-2026-014")
    assert code == 0
    validate("team-show", shown)
    assert [(r["who"], r["action"], r["exhibit"]) for r in shown["entries"]] == [
        ("PC Jane Smith", "ingest", "JS/1"),
        ("DC Bob Jones", "ingest", "BJ/1"),
    ]
    assert shown["entries"][0]["leaf"] < shown["entries"][1]["leaf"]
    table = ok(lead.run("team", "show", "--case", "ICC-2026-014")).stdout
    assert "JS/1" in table and "BJ/1" in table and "OTHER-1" not in table

    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"], report["problems"]
    assert report["size"] == 3 + 4 and len(report["ledgers"]) == 2
    validate("team-verify", report)
    assert report["checkpoint"].startswith(info["origin"] + "\n7\n")
    text = ok(lead.run("team", "verify")).stdout
    assert "TEAM LOG INTACT" in text and report["checkpoint"] in text


def test_not_in_a_team_and_unusable_urls(pg: PgServer, tmp_path: Path) -> None:
    env = home_env(tmp_path, tmp_path / "h")
    result = env.run("ledger", "publish")
    assert result.exit_code == 2 and "team join" in result.output
    result = env.run("team", "join", "mysql://x")
    assert result.exit_code == 2 and "postgresql://" in result.output
    empty = pg.new_database()
    result = env.run("team", "join", empty)
    assert result.exit_code == 2 and "no custody team log" in result.output
    new_team(tmp_path, empty)
    result = home_env(tmp_path, tmp_path / "other").run(
        "team", "init", "--database", empty, "--name", "Again"
    )
    assert result.exit_code == 2 and "already holds" in result.output


# --- concurrency and faults -----------------------------------------------------------


def test_eight_officers_publish_at_once(pg: PgServer, tmp_path: Path) -> None:
    url = pg.new_database()
    lead = new_team(tmp_path, url)
    homes = []
    for i in range(8):
        home = officer_home(tmp_path, f"Officer {i}", entries=5 + i)
        join(tmp_path, url, home)
        homes.append(home)
    procs = [custody_process(h, "ledger", "publish", "--json") for h in homes]
    results = [(p.wait(timeout=120), p.communicate()) for p in procs]
    for code, (out, err) in results:
        assert code == 0, err
        assert json.loads(out)["online"]
    sizes = sorted(json.loads(out)["tree_size"] for _, (out, _) in results)
    assert len(set(sizes)) == 8  # each publish was its own serialised append
    total = sum(5 + i + 1 for i in range(8))
    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"], report["problems"]
    assert report["size"] == total == sizes[-1]
    seqs = [r[0] for r in rows(url, "SELECT seq FROM custody_team.leaves ORDER BY seq")]
    assert seqs == list(range(total))
    # One consistent order: each officer's entries in their own order.
    per_ledger: dict[str, list[int]] = {}
    for ledger, index in rows(
        url, "SELECT ledger, entry_index FROM custody_team.leaves WHERE kind = 'entry' ORDER BY seq"
    ):
        per_ledger.setdefault(ledger, []).append(index)
    assert sorted(len(v) for v in per_ledger.values()) == [5 + i for i in range(8)]
    assert all(v == list(range(len(v))) for v in per_ledger.values())
    # Again: nothing new, nothing duplicated.
    code, out, _ = custody(homes[3], "ledger", "publish", "--json")
    assert code == 0 and json.loads(out)["published_leaves"] == 0
    assert rows(url, "SELECT count(*) FROM custody_team.leaves")[0][0] == total


def test_offline_nothing_fails_and_entries_wait(own_pg: PgServer, tmp_path: Path) -> None:
    url = own_pg.new_database()
    new_team(tmp_path, url)
    jane = join(tmp_path, url, tmp_path / "jane")
    ok(jane.run("keygen", "--name", "PC Jane Smith"))
    ok(jane.run("ledger", "publish"))
    own_pg.stop()
    evidence = make_evidence(tmp_path / "ev")
    ok(jane.run("ingest", evidence, "--case", "ICC-2026-014", "--out", tmp_path / "b1"))
    result = jane.run("ledger", "publish", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["online"] is False and doc["pending"] == 1
    validate("ledger-publish", doc)
    assert "will be published next time" in result.stderr
    own_pg.start()
    code, doc = team_json(jane, "ledger", "publish")
    assert code == 0 and doc["published_entries"] == 1 and doc["tree_size"] == 4
    code, report = team_json(jane, "team", "verify")
    assert code == 0 and report["valid"], report["problems"]


def _wait_blocked(url: str, pid_hint: Any, timeout: float = 60) -> None:
    """Wait until a custody-publish backend waits on a lock: it is inside its
    transaction, its leaves and nodes written, before its commit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'custody-publish' "
            "AND wait_event_type = 'Lock'",
        )
        if found[0][0]:
            return
        assert pid_hint.poll() is None, pid_hint.communicate()
        time.sleep(0.05)
    raise AssertionError("the publisher never reached its commit")


def _block_checkpoint(url: str, size: int) -> Any:
    """Hold an uncommitted row at the size the next append will sign: that
    publisher blocks at its last insert, mid-transaction."""
    conn = psycopg.connect(url)
    conn.execute(
        "INSERT INTO custody_team.checkpoints (size, note) VALUES (%s, 'blocker')", (size,)
    )
    return conn


def test_kill9_publisher_mid_transaction(pg: PgServer, tmp_path: Path) -> None:
    url = pg.new_database()
    lead = new_team(tmp_path, url)
    first = officer_home(tmp_path, "Officer A", entries=4)
    join(tmp_path, url, first)
    assert custody(first, "ledger", "publish")[0] == 0  # acknowledged: 5 leaves
    victim = officer_home(tmp_path, "Officer B", entries=40)
    join(tmp_path, url, victim)
    blocker = _block_checkpoint(url, 5 + 41)
    try:
        proc = custody_process(victim, "ledger", "publish")
        _wait_blocked(url, proc)
        proc.kill()  # kill -9, by pid
        proc.wait()
    finally:
        blocker.rollback()
        blocker.close()
    assert rows(url, "SELECT count(*) FROM custody_team.leaves")[0][0] == 5
    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"] and report["size"] == 5, report["problems"]
    code, out, err = custody(victim, "ledger", "publish", "--json")
    assert code == 0, err
    assert json.loads(out)["tree_size"] == 5 + 41
    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"], report["problems"]


def test_kill9_server_mid_transaction(own_pg: PgServer, tmp_path: Path) -> None:
    url = own_pg.new_database()
    lead = new_team(tmp_path, url)
    first = officer_home(tmp_path, "Officer A", entries=4)
    join(tmp_path, url, first)
    assert custody(first, "ledger", "publish")[0] == 0
    victim = officer_home(tmp_path, "Officer B", entries=50)
    join(tmp_path, url, victim)
    blocker = _block_checkpoint(url, 5 + 51)
    proc = custody_process(victim, "ledger", "publish", "--json")
    _wait_blocked(url, proc)
    own_pg.kill9()  # the postmaster and every backend, kill -9
    out, err = proc.communicate(timeout=60)
    blocker.close()
    assert proc.returncode == 0, err  # nothing fails: the entries wait
    assert json.loads(out)["online"] is False
    own_pg.start()
    # Recovery kept the acknowledged append, and nothing of the one in flight.
    assert rows(url, "SELECT count(*) FROM custody_team.leaves")[0][0] == 5
    assert rows(url, "SELECT count(*) FROM custody_team.checkpoints WHERE size > 5") == [(0,)]
    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"] and report["size"] == 5, report["problems"]
    code, out, err = custody(victim, "ledger", "publish", "--json")
    assert code == 0 and json.loads(out)["tree_size"] == 56, err
    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"], report["problems"]


# --- refusals -----------------------------------------------------------------------


def test_rolled_back_and_forked_ledgers_are_refused_and_recorded(
    pg: PgServer, tmp_path: Path
) -> None:
    url = pg.new_database()
    lead = new_team(tmp_path, url)
    home = officer_home(tmp_path, "Officer A", entries=3)
    officer = join(tmp_path, url, home)
    ok(officer.run("ledger", "publish"))
    backup = tmp_path / "backup"
    shutil.copytree(home / "ledger", backup)
    add_entries(home, "Officer A", 2)
    ok(officer.run("ledger", "publish"))  # 3 + 1 + 2 + 1 leaves

    # Rolled back: the whole ledger folder, so that custody goes on appending to it.
    shutil.rmtree(home / "ledger")
    shutil.copytree(backup, home / "ledger")
    code, doc = team_json(officer, "ledger", "publish")
    assert code == 1 and doc["refused"] == "rolled_back"
    assert "REFUSED (rolled_back)" in officer.run("ledger", "publish").stdout  # same refusal
    assert rows(url, "SELECT count(*) FROM custody_team.leaves WHERE kind = 'refusal'") == [(1,)]

    add_entries(home, "Officer A", 3)  # a different history, longer than the published one
    code, doc = team_json(officer, "ledger", "publish")
    assert code == 1 and doc["refused"] == "forked"
    validate("ledger-publish", doc)

    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"], report["problems"]
    assert [r["reason"] for r in report["refusals"]] == ["rolled_back", "forked"]
    validate("team-verify", report)
    assert report["ledgers"][0]["entries"] == 5  # the refused entries are not in it
    assert "refusal at leaf" in lead.run("team", "verify").stdout


def test_damaged_local_ledger_is_refused(pg: PgServer, tmp_path: Path) -> None:
    import sqlite3

    url = pg.new_database()
    new_team(tmp_path, url)
    home = officer_home(tmp_path, "Officer A", entries=3)
    officer = join(tmp_path, url, home)
    with sqlite3.connect(home / "ledger" / "ledger.sqlite3") as db:
        db.execute("UPDATE entries SET entry = replace(entry, 'Officer A 1', 'Officer X 1')")
    code, doc = team_json(officer, "ledger", "publish")
    assert code == 1 and doc["refused"] == "inconsistent"
    assert rows(url, "SELECT count(*) FROM custody_team.leaves WHERE kind = 'entry'") == [(0,)]


# --- a database superuser at work -------------------------------------------------------

L = "custody_team.leaves"
EDITED = "convert_to(replace(convert_from(data, 'UTF8'), 'Officer B 1', 'Officer Z 1'), 'UTF8')"


def _swap(url: str) -> None:
    rows(url, f"UPDATE {L} SET seq = -1 WHERE seq = 2")
    rows(url, f"UPDATE {L} SET seq = 2 WHERE seq = 6")
    rows(url, f"UPDATE {L} SET seq = 6 WHERE seq = -1")


TAMPERING = {
    "edit an entry": (
        lambda url: rows(
            url,
            f"UPDATE {L} SET data = {EDITED} WHERE seq = 6",
        ),
        "leaf 6",
        "bad_signature",
    ),
    "edit an entry and its hash": (
        lambda url: rows(
            url,
            f"UPDATE {L} SET data = {EDITED}, leaf_hash = sha256('\\x00'::bytea || {EDITED}) "
            "WHERE seq = 6",
        ),
        "leaf 6",
        "moved_leaf",
    ),
    "delete a row": (
        lambda url: rows(url, f"DELETE FROM {L} WHERE seq = 1"),
        "leaf 1",
        "missing_leaf",
    ),
    "reorder rows": (_swap, "leaf 2", "moved_leaf"),
    "delete the newest rows": (
        lambda url: rows(url, f"DELETE FROM {L} WHERE seq >= 7"),
        "team checkpoint 10",
        "truncated",
    ),
    "replace the team key": (
        lambda url: rows(url, "UPDATE custody_team.team SET public_key = sha256('x'::bytea)"),
        "team",
        "team_key_changed",
    ),
    "rewrite a case column": (
        lambda url: rows(url, f"UPDATE {L} SET case_id = 'HIDDEN' WHERE seq = 1"),
        "leaf 1",
        "bad_index_columns",
    ),
}


@pytest.mark.parametrize("attack", list(TAMPERING))
def test_superuser_tampering_is_caught_and_named(pg: PgServer, tmp_path: Path, attack: str) -> None:
    url = pg.new_database()
    lead = new_team(tmp_path, url)
    for name in ("Officer A", "Officer B"):
        home = officer_home(tmp_path, name, entries=4)
        ok(join(tmp_path, url, home).run("ledger", "publish"))  # leaves 0-4, 5-9
    code, report = team_json(lead, "team", "verify")
    assert code == 0 and report["valid"]
    change, where, kind = TAMPERING[attack]
    change(url)
    code, report = team_json(lead, "team", "verify")
    assert code == 1 and not report["valid"]
    assert any(
        p["kind"] == kind and str(p["path"]).split(" (")[0] == where for p in report["problems"]
    ), report["problems"]
    text = lead.run("team", "verify")
    assert text.exit_code == 1 and "TEAM LOG DAMAGED" in text.stdout and where in text.stdout


def test_rewritten_and_resigned_log_is_caught_by_the_kept_checkpoint(
    pg: PgServer, tmp_path: Path
) -> None:
    """A superuser with the team key who rebuilds the whole tree and re-signs
    every checkpoint is still caught: this home kept the checkpoint it saw."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custody.tlog import merkle
    from custody.tlog.note import sign_checkpoint

    url = pg.new_database()
    lead = new_team(tmp_path, url)
    a = officer_home(tmp_path, "Officer A", entries=3)
    b = officer_home(tmp_path, "Officer B", entries=3)
    ok(join(tmp_path, url, a).run("ledger", "publish"))
    ok(join(tmp_path, url, b).run("ledger", "publish"))
    ok(lead.run("team", "verify"))  # the lead now keeps the checkpoint of 8 leaves
    # Put B's leaves first, then rebuild everything consistently.
    data = [bytes(r[0]) for r in rows(url, f"SELECT data FROM {L} ORDER BY seq")]
    data = data[4:] + data[:4]
    origin, private = rows(url, "SELECT origin, private_key FROM custody_team.team")[0]
    key = Ed25519PrivateKey.from_private_bytes(bytes(private))
    rows(url, f"UPDATE {L} SET seq = seq + 1000")
    compact = merkle.CompactRange()
    rows(url, "DELETE FROM custody_team.nodes")
    rows(url, "DELETE FROM custody_team.checkpoints WHERE size > 0")
    for seq, leaf in enumerate(data):
        h = merkle.leaf_hash(leaf)
        rows(url, f"UPDATE {L} SET seq = %s WHERE leaf_hash = %s", (seq, h))
        for level, idx, node in compact.append(h):
            rows(url, "INSERT INTO custody_team.nodes VALUES (%s, %s, %s)", (level, idx, node))
        note = sign_checkpoint(str(origin), seq + 1, compact.root(), key)
        rows(url, "INSERT INTO custody_team.checkpoints VALUES (%s, %s)", (seq + 1, note))
    rows(
        url,
        "UPDATE custody_team.tree_state SET root = %s, checkpoint = %s",
        (compact.root(), note),
    )
    code, report = team_json(lead, "team", "verify")
    assert code == 1
    assert ("rewritten", "seen checkpoint") in {(p["kind"], p["path"]) for p in report["problems"]}
    # An officer who saw the old log refuses to publish into the rewritten one.
    add_entries(b, "Officer B", 1)
    result = home_env(tmp_path, b).run("ledger", "publish")
    assert result.exit_code == 1 and "rewritten" in result.output
    assert rows(url, f"SELECT count(*) FROM {L}") == [(8,)]


# --- team proofs in bundles, verified offline ---------------------------------------------


@pytest.fixture
def proven_bundle(pg: PgServer, tmp_path: Path) -> tuple[Env, Path, Path, Path]:
    url = pg.new_database()
    lead = new_team(tmp_path, url)
    jane = join(tmp_path, url, tmp_path / "jane")
    ok(jane.run("keygen", "--name", "PC Jane Smith"))
    evidence = make_evidence(tmp_path / "ev")
    bundle = tmp_path / "b1"
    ok(jane.run("ingest", evidence, "--case", "ICC-2026-014", "--out", bundle))
    code, doc = team_json(jane, "team", "proof", str(bundle))  # publishes first
    assert code == 0 and doc["leaf_index"] == 1 and doc["tree_size"] == 3
    validate("team-proof", doc)
    team_pub = tmp_path / "team.pub"
    team_pub.write_text(ok(lead.run("team", "key")).stdout)
    officer_pub = next((tmp_path / "jane" / "keys").glob("*.pub"))
    return home_env(tmp_path, tmp_path / "court"), bundle, team_pub, officer_pub


def test_team_proof_verifies_offline(
    proven_bundle: tuple[Env, Path, Path, Path], pg: PgServer
) -> None:
    court, bundle, team_pub, officer_pub = proven_bundle
    code, report = team_json(
        court, "verify", str(bundle), "--trust", str(officer_pub), "--team-key", str(team_pub)
    )
    assert code == 0 and report["verified"], report["problems"]
    assert report["team"]["proof_valid"] and report["team"]["trusted_team"] == TEAM
    assert report["team"]["leaf_index"] == 1
    assert not any("team" in w for w in report["warnings"])
    validate("verify", report)
    # Without the team key it still verifies, and says the team proof counts for nothing.
    result = court.run("verify", bundle, "--trust", officer_pub)
    assert result.exit_code == 0 and "no team key you trust" in result.stderr


def test_team_proof_of_another_team_is_not_trusted(
    proven_bundle: tuple[Env, Path, Path, Path], pg: PgServer, tmp_path: Path
) -> None:
    court, bundle, _, officer_pub = proven_bundle
    other = home_env(tmp_path, tmp_path / "other-lead")
    ok(other.run("team", "init", "--database", pg.new_database(), "--name", "Other"))
    other_pub = tmp_path / "other.pub"
    other_pub.write_text(ok(other.run("team", "key")).stdout)
    code, report = team_json(
        court, "verify", str(bundle), "--trust", str(officer_pub), "--team-key", str(other_pub)
    )
    assert code == 0 and report["team"]["trusted_team"] is None
    assert any("no team key you trust" in w for w in report["warnings"])


@pytest.mark.parametrize(
    "change",
    ["leaf_index", "inclusion_proof", "checkpoint", "leaf", "garbage"],
)
def test_tampered_team_proof_fails(
    proven_bundle: tuple[Env, Path, Path, Path], pg: PgServer, change: str
) -> None:
    court, bundle, team_pub, officer_pub = proven_bundle
    path = bundle / "custody" / "team-proof.json"
    doc = json.loads(path.read_text())
    if change == "leaf_index":
        doc["leaf_index"] = 0
    elif change == "inclusion_proof":
        doc["inclusion_proof"] = doc["inclusion_proof"][::-1]
    elif change == "checkpoint":
        lines = doc["checkpoint"].split("\n")
        lines[1] = "4"
        doc["checkpoint"] = "\n".join(lines)
    elif change == "leaf":
        doc["leaf"] = doc["leaf"].replace("ICC-2026-014", "ICC-2026-015")
    path.write_text("{not json" if change == "garbage" else json.dumps(doc))
    from conftest import refresh_tag_manifest

    refresh_tag_manifest(bundle)
    code, report = team_json(
        court, "verify", str(bundle), "--trust", str(officer_pub), "--team-key", str(team_pub)
    )
    assert code == 1 and not report["verified"]
    assert "bad_team_proof" in {p["kind"] for p in report["problems"]}
    validate("verify", report)


def test_unlisted_team_proof_after_a_crash_still_verifies(
    proven_bundle: tuple[Env, Path, Path, Path], pg: PgServer
) -> None:
    """The proof file lands before the tag manifest lists it: a crash in
    between leaves a bundle that verifies."""
    court, bundle, team_pub, officer_pub = proven_bundle
    manifest = bundle / "tagmanifest-sha256.txt"
    lines = [x for x in manifest.read_text().splitlines() if "team-proof" not in x]
    manifest.write_text("\n".join(lines) + "\n")
    code, report = team_json(
        court, "verify", str(bundle), "--trust", str(officer_pub), "--team-key", str(team_pub)
    )
    assert code == 0 and report["verified"], report["problems"]
    assert report["team"]["proof_valid"]


def test_proof_for_an_unpublished_bundle_is_refused(pg: PgServer, tmp_path: Path) -> None:
    url = pg.new_database()
    new_team(tmp_path, url)
    outsider = home_env(tmp_path, tmp_path / "outsider")
    ok(outsider.run("keygen", "--name", "Not In Team"))
    bundle = tmp_path / "b"
    ok(outsider.run("ingest", make_evidence(tmp_path / "ev"), "--case", "C", "--out", bundle))
    member = join(tmp_path, url, tmp_path / "member")
    result = member.run("team", "proof", bundle)
    assert result.exit_code == 2 and "not in the team log yet" in result.output
    assert not (bundle / "custody" / "team-proof.json").exists()


def test_join_with_the_team_key_given_by_the_lead(pg: PgServer, tmp_path: Path) -> None:
    url = pg.new_database()
    lead = new_team(tmp_path, url)
    team_pub = tmp_path / "met-team.pub"
    team_pub.write_text(ok(lead.run("team", "key")).stdout)
    fingerprint = team_json(lead, "team", "join", url)[1]["fingerprint"]
    # Another key than the one given: nothing is pinned or remembered.
    wrong = home_env(tmp_path, tmp_path / "wrong")
    result = wrong.run("team", "join", url, "--team-key", "ab" * 32)
    assert result.exit_code == 1 and fingerprint in result.output and "not joined" in result.output
    assert not (wrong.home / "team").exists()
    result = wrong.run("team", "join", url, "--team-key", "not-a-key")
    assert result.exit_code == 2 and "--team-key" in result.output
    # The file the lead gave, or its fingerprint as printed (in groups): joined, no caveat.
    for given in (str(team_pub), " ".join(fingerprint[i : i + 4] for i in range(0, 64, 4))):
        home = home_env(tmp_path, tmp_path / f"officer-{len(given)}")
        result = ok(home.run("team", "join", url, "--team-key", given))
        assert "Compare the team key" not in result.output
        assert (home.home / "team" / "team.pub").read_text() == team_pub.read_text()


@pytest.mark.parametrize("attack", [None, *TAMPERING])
def test_team_verify_in_small_batches_finds_exactly_the_same(
    pg: PgServer, tmp_path: Path, attack: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """team verify streams the log in batches (signatures checked by a pool of
    processes, the next batch while this one is walked; stored nodes asked for a
    batch at a time). Cut into batches of three leaves and four nodes, with the
    pool used for every batch, it must report exactly what one pass reports."""
    import custody.team.audit_stream as audit

    url = pg.new_database()
    lead = new_team(tmp_path, url)
    for name in ("Officer A", "Officer B"):
        home = officer_home(tmp_path, name, entries=4)
        ok(join(tmp_path, url, home).run("ledger", "publish"))  # leaves 0-4, 5-9
    if attack is not None:
        TAMPERING[attack][0](url)
    state = lead.home / "team" / "state.json"
    kept = state.read_bytes()
    code, whole = team_json(lead, "team", "verify")
    state.write_bytes(kept)  # the same checkpoint kept for the second run
    monkeypatch.setattr(audit, "BATCH_LEAVES", 3)
    monkeypatch.setattr(audit, "NODE_BATCH", 4)
    monkeypatch.setattr(audit, "PARALLEL_THRESHOLD", 1)
    code_batched, batched = team_json(lead, "team", "verify")
    assert (
        (code_batched, batched["valid"])
        == (code, whole["valid"])
        == ((0, True) if attack is None else (1, False))
    )

    def findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
        return sorted((p["kind"], str(p["path"]), p["detail"]) for p in report["problems"])

    assert findings(batched) == findings(whole)
    for field in ("size", "checkpoint", "ledgers", "refusals"):
        assert batched[field] == whole[field], field
