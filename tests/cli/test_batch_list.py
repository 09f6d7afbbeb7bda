"""The list file of a batch ingest (issue 28, item 3): a header row, CSV, and repeated
lines, each handled or refused by name, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Env


def witnesses(tmp_path: Path, count: int) -> list[Path]:
    sources = []
    for i in range(count):
        src = tmp_path / f"witness {i}, phone"  # a comma in the name, as Finder makes them
        src.mkdir()
        (src / f"statement-{i}.txt").write_text(f"witness {i}\n")
        sources.append(src)
    return sources


def batch(env: Env, listing: Path, out: Path) -> tuple[int, list[dict], str]:
    result = env.run("ingest", "--from", listing, "--out", out, "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr


def test_a_header_row_names_the_columns_in_any_order(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    a, b = witnesses(tmp_path, 2)
    listing = tmp_path / "sources.tsv"
    listing.write_text(f"Exhibit\tSource\tCase\nW1\t{a.name}\tCASE-1\nW2\t{b.name}\tCASE-2\n")
    code, lines, stderr = batch(env, listing, tmp_path / "out")
    assert code == 0, stderr
    got = [(Path(r["source"]).name, r["case"]) for r in lines[:-1]]
    assert got == [(a.name, "CASE-1"), (b.name, "CASE-2")]
    assert lines[-1]["summary"]["sources"] == 2


def test_a_csv_file_is_read_as_csv_with_quoting(env: Env, officer: dict, tmp_path: Path) -> None:
    a, b = witnesses(tmp_path, 2)
    listing = tmp_path / "sources.csv"
    listing.write_text(f'source,case,exhibit\n"{a.name}",CASE-1,W1\r\n"{b}",CASE-2,\n')
    code, lines, stderr = batch(env, listing, tmp_path / "out")
    assert code == 0, stderr
    assert [(r["source"], r["case"]) for r in lines[:-1]] == [
        (str(a), "CASE-1"),
        (str(b), "CASE-2"),
    ]


def test_comma_separated_lines_in_a_tab_separated_file_are_refused_by_line(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    plain = tmp_path / "w1"
    plain.mkdir()
    (plain / "a.txt").write_text("a")
    listing = tmp_path / "sources.txt"
    listing.write_text(f"# witnesses\n\n{plain.name},CASE-1,W1\n")
    result = env.run("ingest", "--from", listing, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"custody: error: {listing}: line 3 looks comma-separated: name the file *.csv, "
        "or separate the fields with tabs"
    ]
    assert not (tmp_path / "out").exists()


def test_a_line_repeated_in_the_list_is_refused_before_anything_is_made(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    (a,) = witnesses(tmp_path, 1)
    listing = tmp_path / "sources.tsv"
    listing.write_text(f"{a.name}\tCASE-1\tW1\n{a.name}\tCASE-1\tW2\n{a}\tCASE-1\tW1\n")
    result = env.run("ingest", "--from", listing, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "line 3 repeats line 1 (same source, case and exhibit)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_csv_file_that_is_not_csv_is_refused_by_line(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    listing = tmp_path / "sources.csv"
    listing.write_text('source,case\n"witness 1, phone,CASE-1\n')  # the quote is never closed
    result = env.run("ingest", "--from", listing, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"custody: error: {listing}: line 2: not CSV (unexpected end of data)"
    ]
    assert not (tmp_path / "out").exists()
