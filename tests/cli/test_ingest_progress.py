"""Ingest's progress on a terminal (files, bytes, time left, for the copy and then
for the metadata), and nothing of it in a pipe."""

from __future__ import annotations

from pathlib import Path

from test_terminal_safety import RICH_OWN, run_on_a_terminal

from conftest import Env


def _source(root: Path) -> Path:
    for d in range(4):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(500):
            (root / f"d{d}" / f"m{i:03d}.txt").write_text(f"message {d} {i}\n" * 20)
    return root


def test_a_terminal_shows_each_phase_with_files_and_time_left(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    source = _source(tmp_path / "phone")
    code, out, _ = run_on_a_terminal(
        env, "ingest", source, "--case", "C", "--out", tmp_path / "b", stderr_too=True
    )
    assert code == 0, out
    plain = RICH_OWN.sub("", out)
    assert "Copying phone" in plain and "/2000 files" in plain
    assert "Copying phone: metadata" in plain  # the second phase has its own bar
    assert "-:--:--" in plain or "0:00:0" in plain  # the time left column


def test_a_pipe_shows_no_progress(env: Env, officer: dict, tmp_path: Path) -> None:
    result = env.run("ingest", _source(tmp_path / "phone"), "--case", "C", "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and "files" not in result.stderr
