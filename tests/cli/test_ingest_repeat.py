"""Ingesting content already ingested under the same case and exhibit (issue 28, item 3):
refused in one line with nothing left behind, unless --again; found through an index."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import Env, validate
from custody.io.ledger_store import INGESTS_WITH_CONTENT

CASE, EXHIBIT = "ICC-2026-014", "JS/1"


def source(tmp_path: Path, name: str = "phone") -> Path:
    src = tmp_path / name
    src.mkdir()
    (src / "statement.txt").write_text("I saw it\n")
    (src / "photo.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 4)
    return src


def ingest(env: Env, src: Path, out: Path, *extra: str) -> tuple[int, dict, str]:
    result = env.run(
        "ingest", src, "--case", CASE, "--exhibit", EXHIBIT, "--out", out, "--json", *extra
    )
    data = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.exit_code, data, result.stderr


def ledger_db(env: Env) -> Path:
    return env.home / "ledger" / "ledger.sqlite3"


def ledger_entries(env: Env) -> list[dict]:
    with sqlite3.connect(ledger_db(env)) as conn:
        rows = conn.execute("SELECT entry FROM entries ORDER BY idx").fetchall()
    return [json.loads(r[0]) for r in rows]


def test_the_same_folder_twice_is_refused_in_one_line_and_leaves_nothing(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src, out = source(tmp_path), tmp_path / "out"
    out.mkdir()
    code, first, stderr = ingest(env, src, out)
    assert code == 0, stderr
    before = ledger_entries(env)
    listing = sorted(p.name for p in out.iterdir())

    code, data, stderr = ingest(env, src, out)

    entry = before[-1]
    assert entry["action"] == "ingest" and entry["subject"]["bundle_id"] == first["bundle_id"]
    assert code == 2
    assert data == {
        "error": {
            "kind": "already_ingested",
            "path": str(src),
            "message": f"already ingested as {first['bundle_id']} (ledger entry "
            f"{entry['index']}, {entry['time']}): use --again to make another bundle",
        }
    }
    validate("error", data)
    assert stderr.strip().splitlines() == [f"custody: error: {src}: {data['error']['message']}"]
    assert sorted(p.name for p in out.iterdir()) == listing  # no second bundle, no partial copy
    assert ledger_entries(env) == before  # nothing appended
    assert not any((env.home / "pending").glob("*.json"))


def test_again_makes_a_second_bundle_recorded_as_a_repeat(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src, out = source(tmp_path), tmp_path / "out"
    out.mkdir()
    code, first, stderr = ingest(env, src, out)
    assert code == 0, stderr

    code, second, stderr = ingest(env, src, out, "--again")

    assert code == 0, stderr
    assert second["bundle_id"] != first["bundle_id"]
    assert Path(second["bundle"]).is_dir() and Path(first["bundle"]).is_dir()
    ingests = [e for e in ledger_entries(env) if e["action"] == "ingest"]
    assert [e["subject"].get("repeat_of") for e in ingests] == [None, first["bundle_id"]]
    assert ingests[0]["subject"]["manifest_sha256"] == ingests[1]["subject"]["manifest_sha256"]
    result = env.run("verify", second["bundle"])
    assert result.exit_code == 0, result.output
    # A third run names the first bundle and counts the repeat.
    code, data, _ = ingest(env, src, out)
    assert code == 2
    assert f"already ingested as {first['bundle_id']} (ledger entry " in data["error"]["message"]
    assert ", and 1 more time(s) since): use --again" in data["error"]["message"]


def test_changed_content_or_another_exhibit_is_a_new_bundle(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src, out = source(tmp_path), tmp_path / "out"
    out.mkdir()
    assert ingest(env, src, out)[0] == 0
    (src / "later.txt").write_text("found later\n")
    code, _, stderr = ingest(env, src, out)
    assert code == 0, stderr
    (src / "later.txt").write_text("found later, edited\n")  # same names, other bytes
    code, _, stderr = ingest(env, src, out)
    assert code == 0, stderr
    result = env.run("ingest", src, "--case", CASE, "--exhibit", "JS/2", "--out", out)
    assert result.exit_code == 0, result.output
    result = env.run("ingest", src, "--case", "ICC-2026-015", "--exhibit", EXHIBIT, "--out", out)
    assert result.exit_code == 0, result.output
    assert len(list(out.iterdir())) == 5


def test_a_list_run_twice_refuses_every_line_the_second_time(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    a, b = source(tmp_path, "w1"), source(tmp_path, "w2")
    (b / "other.txt").write_text("w2 only\n")
    listing = tmp_path / "sources.tsv"
    listing.write_text(f"{a.name}\t{CASE}\tW1\n{b.name}\t{CASE}\tW2\n")
    out = tmp_path / "out"
    first = env.run("ingest", "--from", listing, "--out", out, "--json")
    assert first.exit_code == 0, first.output
    ids = [json.loads(line).get("bundle_id") for line in first.stdout.splitlines()[:-1]]
    (tmp_path / "w3").mkdir()
    (tmp_path / "w3" / "new.txt").write_text("new witness\n")
    with listing.open("a") as f:
        f.write(f"w3\t{CASE}\tW3\n")

    second = env.run("ingest", "--from", listing, "--out", out, "--json")

    lines = [json.loads(line) for line in second.stdout.splitlines()]
    for line in lines[:-1]:
        validate("ingest-batch-line", line)
    validate("ingest-batch-line", lines[-1])
    assert second.exit_code == 2
    refused = [line for line in lines[:-1] if not line["ok"]]
    assert [(r["source"], r["error"]["kind"], r["error"]["exit_code"]) for r in refused] == [
        (str(a), "already_ingested", 2),
        (str(b), "already_ingested", 2),
    ]
    for r, bundle_id in zip(refused, ids, strict=True):
        assert r["error"]["message"].startswith(f"already ingested as {bundle_id} (ledger entry ")
    assert lines[-1]["summary"] == {
        "sources": 3,
        "succeeded": 1,
        "failed": 2,
        "failed_sources": [str(a), str(b)],
    }
    assert len(list(out.iterdir())) == 3


def test_the_lookup_is_an_index_search_not_a_scan(env: Env, officer: dict, tmp_path: Path) -> None:
    src, out = source(tmp_path), tmp_path / "out"
    out.mkdir()
    assert ingest(env, src, out)[0] == 0
    with sqlite3.connect(ledger_db(env)) as conn:
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN {INGESTS_WITH_CONTENT}", (CASE, EXHIBIT, "0" * 64)
        ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING" in details and "INDEX ingests_by_content" in details, details
    assert "SCAN" not in details, details


def test_a_ledger_from_before_the_lookup_table_is_filled_on_open(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src, out = source(tmp_path), tmp_path / "out"
    out.mkdir()
    assert ingest(env, src, out)[0] == 0
    with sqlite3.connect(ledger_db(env)) as conn:  # as an older custody left it
        conn.execute("DROP TABLE ingests")
        conn.execute("DELETE FROM meta WHERE key = 'ingests-v1'")
    result = env.run("ledger", "verify")
    assert result.exit_code == 0, result.output
    code, data, _ = ingest(env, src, out)
    assert code == 2
    assert data["error"]["kind"] == "already_ingested"


def test_an_edited_lookup_table_cannot_invent_a_repeat(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src, out = source(tmp_path), tmp_path / "out"
    out.mkdir()
    assert ingest(env, src, out)[0] == 0
    manifest = ledger_entries(env)[-1]["subject"]["manifest_sha256"]
    with sqlite3.connect(ledger_db(env)) as conn:
        # The keygen entry (0) claimed as an ingest of the same content under JS/2.
        conn.execute("INSERT INTO ingests VALUES (0, ?, 'JS/2', ?)", (CASE, manifest))
    result = env.run("ingest", src, "--case", CASE, "--exhibit", "JS/2", "--out", out)
    assert result.exit_code == 0, result.output


def test_an_abandoned_ingest_does_not_count(env: Env, officer: dict, tmp_path: Path) -> None:
    """An ingest killed after its entry was recorded never made a bundle: the next
    ingest of the same content records it as abandoned and is not refused."""
    from test_interrupted import _ingest_stopped_at, _kill

    src, out = source(tmp_path), tmp_path / "out"
    out.mkdir()
    _kill(_ingest_stopped_at(env, "recorded", src, out / "ICC-9_W1-1"))
    result = env.run("ingest", src, "--case", "ICC-9", "--exhibit", "W1/1", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    actions = [e["action"] for e in ledger_entries(env)]
    assert actions[-3:] == ["ingest", "abandoned", "ingest"]
