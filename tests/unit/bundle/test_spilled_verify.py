"""Verification with every bound of the spill lowered to almost nothing (runs of
two records, every tag file on disk) gives exactly the report it gives in
memory, on every shared vector (tests/vectors/: one tampered bundle per problem
kind): same problems, same kinds, paths, wording and order."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.cli.test_vectors import CASES, VECTORS, make

from custody.base import spill
from custody.bundle.read import scan as scan_module
from custody.cli import cli


def _report(case: str, home: Path) -> dict[str, Any]:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["verify", *make.custody_args(VECTORS / case)], env={"CUSTODY_HOME": str(home)}
    )
    report: dict[str, Any] = json.loads(result.stdout)
    for volatile in ("verified_at", "seconds", "tool"):
        report.pop(volatile, None)
    return report


@pytest.mark.parametrize("case", CASES)
def test_a_spilled_verify_reports_what_an_in_memory_one_does(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = _report(case, tmp_path / "a")
    monkeypatch.setattr(spill, "RUN_SIZE", 2)
    monkeypatch.setattr(scan_module, "SPILL_TAG_BYTES", 16)
    monkeypatch.setattr(spill.tempfile, "tempdir", str(tmp_path / "spills"))
    os.mkdir(tmp_path / "spills")
    assert _report(case, tmp_path / "b") == in_memory
    assert list((tmp_path / "spills").iterdir()) == []  # every spill folder removed


def _tiny_spills(monkeypatch: pytest.MonkeyPatch, temp: Path) -> None:
    monkeypatch.setattr(spill, "RUN_SIZE", 2)
    monkeypatch.setattr(scan_module, "SPILL_TAG_BYTES", 16)
    monkeypatch.setattr(spill.tempfile, "tempdir", str(temp))


def test_ctrl_c_while_scanning_leaves_no_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custody.bundle.read import folder
    from custody.bundle.read.reader import scan_bundle

    (tmp_path / "spills").mkdir()
    _tiny_spills(monkeypatch, tmp_path / "spills")
    calls = []
    real = folder.hash_fd

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(folder, "hash_fd", interrupted)
    bundle = make.bundle_of(VECTORS / "bag-info-oxum")
    with pytest.raises(KeyboardInterrupt):
        scan_bundle(bundle, workers=1)
    assert len(calls) == 4
    assert list((tmp_path / "spills").iterdir()) == []


def test_a_temporary_folder_that_cannot_be_written_is_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-folder").write_bytes(b"")
    _tiny_spills(monkeypatch, tmp_path / "not-a-folder")
    result = CliRunner().invoke(
        cli,
        ["verify", *make.custody_args(VECTORS / "bag-info-oxum")],
        env={"CUSTODY_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 3, result.output
    assert "cannot write a temporary file" in result.output
    assert "Traceback" not in result.output
