"""In a pipe or a file, tables are tab-separated lines with every field whole: nothing
is laid out for 80 columns, nothing is cut across lines."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Env

LONG_NAME = "Detective Sergeant " + "Alexandra-Konstantina " * 6 + "War Crimes Team"


def test_keys_list_in_a_pipe_prints_every_field_whole(env: Env) -> None:
    assert env.run("keygen", "--name", LONG_NAME).exit_code == 0
    fp = json.loads(env.run("keys", "list", "--json").stdout)["keys"][0]["fingerprint"]
    lines = env.run("keys", "list").stdout.splitlines()
    assert lines[0] == "# Your keys"
    assert lines[1] == "id\tname\tfingerprint\tencrypted"
    row = lines[2].split("\t")
    assert row[1:] == [LONG_NAME, fp, "yes"]
    assert "# Trusted keys" in lines
    assert f"{LONG_NAME}\t{fp}" in lines


def test_ledger_show_in_a_pipe_prints_every_field_whole(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    case = "ICC-2026-014-" + "LONG-CASE-REFERENCE-" * 4
    result = env.run("ingest", source, "--case", case, "--out", tmp_path / "b", "--json")
    bundle_id = json.loads(result.stdout)["bundle_id"]
    lines = env.run("ledger", "show").stdout.splitlines()
    assert lines[0] == "#\ttime (UTC)\taction\twho\tbundle\tcase\texhibit\tdetail"
    ingest = [line.split("\t") for line in lines[1:] if "\tingest\t" in line]
    assert len(ingest) == 1
    index, time, action, who, bid, shown_case, exhibit, detail = ingest[0]
    assert index == "1"
    assert (action, who, bid, shown_case, exhibit) == (
        "ingest",
        officer["name"],
        bundle_id,
        case,
        "",
    )
    assert time.endswith("Z") and detail == "1 files, 2 bytes"


def test_show_in_a_pipe_prints_long_paths_whole(env: Env, officer: dict, tmp_path: Path) -> None:
    source = tmp_path / "src"
    deep = source / ("WhatsApp Chat with Olena Kovalenko-Shevchenko " * 2).strip()
    deep.mkdir(parents=True)
    name = "IMG-20220225-WA0001 " + "x" * 90 + ".txt"
    (deep / name).write_text("hello\n")
    out = tmp_path / "b"
    assert env.run("ingest", source, "--case", "C", "--out", out).exit_code == 0
    lines = env.run("show", out).stdout.splitlines()
    assert lines[0] == f"# Case C, exhibit none, bundle {out}"
    assert lines[1] == "path\ttype\tcaptured at\tplace\tdevice\tduration\tC2PA\tsha256\tnotes"
    rows = [line.split("\t") for line in lines[2:]]
    assert all(len(row) == 9 for row in rows)
    assert any(row[0] == f"{deep.name}/{name}" for row in rows)
