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
