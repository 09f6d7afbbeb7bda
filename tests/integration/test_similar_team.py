"""`custody similar --case` across a team (real PostgreSQL): two officers'
homes joined to one team log, each ingesting the same strike video (one copy
recompressed smaller); the case is drawn from the team log, the pair found
across both officers, a recorded bundle that no --in holds listed as not
found, and one officer's decision shown to the other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import Env, validate
from pg_server import PgServer, available
from similar_media import jpeg, scene, write_video

pytest.importorskip("psycopg")
pytest.importorskip("pdqhash")
pytest.importorskip("av")

pytestmark = pytest.mark.skipif(not available(), reason="PostgreSQL server binaries not installed")

CASE = "ICC-2026-014"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def officer(tmp: Path, url: str, name: str) -> Env:
    env = Env(home=tmp / name.split()[-1].lower(), tmp=tmp)
    ok(env.run("team", "join", url))
    ok(env.run("keygen", "--name", name))
    return env


def ingest(env: Env, source: Path, exhibit: str, out: Path) -> None:
    out.parent.mkdir(exist_ok=True)
    ok(env.run("ingest", source, "--case", CASE, "--exhibit", exhibit, "--out", out))


def test_a_case_drawn_from_the_team_log_matches_across_officers(
    pg: PgServer, tmp_path: Path
) -> None:
    url = pg.new_database()
    ok(
        Env(home=tmp_path / "lead", tmp=tmp_path).run(
            "team", "init", "--database", url, "--name", "T"
        )
    )
    jane = officer(tmp_path, url, "PC Jane Smith")
    bob = officer(tmp_path, url, "DC Bob Jones")
    w1, w2, w3 = (tmp_path / n for n in ("w1", "w2", "w3"))
    for w in (w1, w2, w3):
        w.mkdir()
    write_video(w1 / "strike.mp4", 7, seconds=4)
    (w1 / "street.jpg").write_bytes(jpeg(scene(11), 90))
    # The same footage as it reached another witness: re-encoded, smaller.
    write_video(w2 / "forwarded.mp4", 7, seconds=4, size=(160, 120))
    (w3 / "other.jpg").write_bytes(jpeg(scene(12), 90))
    ingest(jane, w1, "JS/1", tmp_path / "jane-holdings" / "b1")
    ingest(bob, w2, "BJ/1", tmp_path / "bob-holdings" / "b2")
    ingest(bob, w3, "BJ/2", tmp_path / "archive" / "b3")  # recorded, not searched below
    for env in (jane, bob):
        ok(env.run("ledger", "publish"))

    where = ("--in", tmp_path / "jane-holdings", "--in", tmp_path / "bob-holdings")
    result, data = jane.run_json("similar", "--case", CASE, *where)
    assert result.exit_code == 0, result.output
    validate("similar", data)
    assert len(data["bundles"]) == 2  # Bob's from the team log, not from Jane's ledger
    [group] = data["groups"]
    members = {m["path"]: m for m in group["members"]}
    assert set(members) == {"strike.mp4", "forwarded.mp4"}
    assert members["strike.mp4"]["submitted_by"] == "PC Jane Smith"
    assert members["forwarded.mp4"]["submitted_by"] == "DC Bob Jones"
    assert group["pairs"][0]["how"] == "frames" and group["status"] == "suggested"
    [missing] = data["not_found"]
    assert missing["exhibit"] == "BJ/2" and missing["submitted_by"] == "DC Bob Jones"
    table = jane.run("similar", "--case", CASE, *where)
    assert table.exit_code == 0 and "BJ/2" in table.output and "not found" in table.output

    # Bob confirms; once published, Jane sees his decision (and her own ledger has none).
    shas = [members[p]["sha256"] for p in ("strike.mp4", "forwarded.mp4")]
    ok(bob.run("similar", "confirm", *shas, "--case", CASE, *where, "--note", "Same strike"))
    _, before = jane.run_json("similar", "--case", CASE, *where)
    assert before["groups"][0]["pairs"][0]["decision"] is None
    ok(bob.run("ledger", "publish"))
    _, after = jane.run_json("similar", "--case", CASE, *where)
    decision = after["groups"][0]["pairs"][0]["decision"]
    assert decision["by"] == "DC Bob Jones" and decision["verdict"] == "confirmed"
    sheet = tmp_path / "sheet.html"
    ok(jane.run("similar", "--case", CASE, *where, "--report", sheet, "--thumbnails", "none"))
    assert "DC Bob Jones" in sheet.read_text() and "Same strike" in sheet.read_text()
    # Jane may reject it in turn: Bob's file is a file of the case (from the team log).
    ok(jane.run("similar", "reject", *shas, "--case", CASE, *where, "--note", "Another day"))
    _, last = jane.run_json("similar", "--case", CASE, *where)
    assert last["groups"] == [] and last["rejected"][0]["decision"]["by"] == "PC Jane Smith"
    assert json.loads(json.dumps(last))["not_found"][0]["exhibit"] == "BJ/2"

    # The team database out of reach: a case cannot be drawn (exit 3, one line); bundles
    # given by path are still compared, saying that other officers' decisions are not shown.
    config = jane.home / "team" / "team.json"
    doc = json.loads(config.read_text())
    doc["database"] = "postgresql://custody@127.0.0.1:1/gone?connect_timeout=2"
    config.write_text(json.dumps(doc))
    down = jane.run("similar", "--case", CASE, *where)
    assert down.exit_code == 3 and len(down.output.strip().splitlines()) == 1, down.output
    b1, b2 = tmp_path / "jane-holdings" / "b1", tmp_path / "bob-holdings" / "b2"
    offline = jane.run("similar", b1, b2)
    assert offline.exit_code == 0 and "decisions are not shown" in offline.output
