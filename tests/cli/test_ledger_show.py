"""`custody ledger show` (issue 28, item 6): an exhibit column and filter, the JSON
`exhibit` field, and a table that fits an 80-column terminal with every case id whole.
The terminal is a real pseudo-terminal."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from test_show_terminal import on_terminal

from conftest import Env, validate


def source(tmp_path: Path, name: str) -> Path:
    src = tmp_path / name
    src.mkdir()
    (src / "statement.txt").write_text(f"{name}\n")
    return src


def ingest(env: Env, src: Path, case: str, exhibit: str, *extra: str) -> dict:
    result = env.run(
        "ingest", src, "--case", case, "--exhibit", exhibit, "--out", src.parent / f"b-{src.name}",
        "--json", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def show(env: Env, *args: str) -> list[dict]:
    result = env.run("ledger", "show", "--json", *args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    validate("ledger-show", document)
    return document["entries"]


def holdings(env: Env, tmp_path: Path) -> tuple[dict, dict, dict]:
    a = ingest(env, source(tmp_path, "w1"), "ICC-2026-014", "JS/1")
    b = ingest(env, source(tmp_path, "w2"), "ICC-2026-014", "JS/2")
    c = ingest(env, source(tmp_path, "w3"), "ICC-2026-015", "JS/1")
    recorded = env.run("verify", a["bundle"], "--record")  # names the bundle, not its exhibit
    assert recorded.exit_code == 0, recorded.output
    return a, b, c


def test_every_entry_has_its_exhibit_and_the_filter_keeps_an_exhibits_bundles(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    a, b, c = holdings(env, tmp_path)
    rows = show(env)
    assert [(r["action"], r["bundle_id"], r["exhibit"]) for r in rows] == [
        ("keygen", None, None),
        ("ingest", a["bundle_id"], "JS/1"),
        ("ingest", b["bundle_id"], "JS/2"),
        ("ingest", c["bundle_id"], "JS/1"),
        ("verify", a["bundle_id"], "JS/1"),  # from the ingest of its bundle
    ]
    assert [r["index"] for r in show(env, "--exhibit", "JS/1")] == [1, 3, 4]
    assert [r["index"] for r in show(env, "--exhibit", "JS/1", "--case", "ICC-2026-014")] == [1, 4]
    assert [r["index"] for r in show(env, "--case", "ICC-2026-014", "--exhibit", "JS/2")] == [2]
    assert show(env, "--exhibit", "JS/9") == []
    lines = env.run("ledger", "show", "--exhibit", "JS/2").stdout.splitlines()
    assert lines[0].split("\t") == [
        "#", "time (UTC)", "action", "who", "bundle", "case", "exhibit", "detail",
    ]  # fmt: skip
    assert [line.split("\t")[4:7] for line in lines[1:]] == [
        [b["bundle_id"], "ICC-2026-014", "JS/2"]
    ]


def test_an_edited_exhibit_never_hides_its_entry(env: Env, officer: dict, tmp_path: Path) -> None:
    _, b, _ = holdings(env, tmp_path)
    with sqlite3.connect(env.home / "ledger" / "ledger.sqlite3") as conn:
        entry = conn.execute("SELECT entry FROM entries WHERE idx = 2").fetchone()[0]
        conn.execute(
            "UPDATE entries SET entry = ? WHERE idx = 2",
            (bytes(entry).replace(b'"JS/2"', b'"JS/9"'),),
        )
    rows = show(env, "--exhibit", "JS/1")
    # Entry 2, now "JS/9", is listed all the same, marked (entry 3 with it: its link
    # to entry 2 no longer holds).
    assert [r["index"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["damaged"] is None and "bad_signature" in rows[1]["damaged"]
    assert rows[1]["exhibit"] == "JS/9" and rows[1]["bundle_id"] == b["bundle_id"]


def test_the_usual_ledger_is_a_table_at_80_columns_with_every_case_id_whole(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    a, b, c = holdings(env, tmp_path)
    long_case = "ICC-2026-014-UA-KHARKIV"
    d = ingest(env, source(tmp_path, "w4"), long_case, "UA/12")
    code, lines = on_terminal(env, "ledger", "show", columns=80)
    assert code == 0, lines
    lines = [line.rstrip() for line in lines if line.strip()]
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    # A table, not one block an entry: a title, a header, then a row beginning each entry.
    assert lines[0] == f"Entries by {officer['name']}"
    assert lines[1].split() == [
        "#",
        "time",
        "(UTC)",
        "action",
        "bundle",
        "case",
        "exhibit",
        "detail",
    ]
    rows = [line.split() for line in lines[2:] if line[:1].isdigit()]
    assert [row[0] for row in rows] == ["0", "1", "2", "3", "4", "5"]
    assert all(row[1] == show(env)[0]["time"][:10] for row in rows)  # the date, then the minute
    # action, bundle (its first 8 characters), case and exhibit, each whole, on the row's line
    actions = ["ingest", "ingest", "ingest", "verify", "ingest"]
    cells = [row[row.index(action) :][:4] for row, action in zip(rows[1:], actions, strict=True)]
    assert cells == [
        ["ingest", a["bundle_id"][:8], "ICC-2026-014", "JS/1"],
        ["ingest", b["bundle_id"][:8], "ICC-2026-014", "JS/2"],
        ["ingest", c["bundle_id"][:8], "ICC-2026-015", "JS/1"],
        ["verify", a["bundle_id"][:8], "ICC-2026-014", "JS/1"],
        ["ingest", d["bundle_id"][:8], long_case, "UA/12"],
    ]


def test_two_officers_keep_the_who_column_within_80_columns(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    holdings(env, tmp_path)
    assert env.run("keygen", "--name", "Sgt Ali Khan").exit_code == 0
    ingest(env, source(tmp_path, "w5"), "ICC-2026-014", "AK/1", "--key", "Sgt Ali Khan")
    code, lines = on_terminal(env, "ledger", "show", columns=80)
    assert code == 0, lines
    lines = [line.rstrip() for line in lines if line.strip()]
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert lines[0].split()[:5] == ["#", "time", "(UTC)", "action", "who"]
    assert any(line.split()[:1] == ["6"] and "ICC-2026-014" in line.split() for line in lines)
