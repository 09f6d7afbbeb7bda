"""kill -9 at each named point of an ingest (custody.base.faults), then what the next
`ledger verify` and the next ingest make of the remains: every leftover explained in one
line, an `abandoned` entry for a recorded ingest whose bundle never appeared, the earlier
entry untouched, the partial copy gone, the source never written to."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PASSPHRASE, Env, tree_snapshot, validate


def _source(root: Path, files: int = 12) -> Path:
    root.mkdir()
    for i in range(files):
        (root / f"clip-{i:02d}.bin").write_bytes(bytes([i]) * 200_000)
    (root / "note.txt").write_text("statement of W1\n")
    return root


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _ingest_stopped_at(env: Env, point: str, source: Path, out: Path) -> subprocess.Popen[bytes]:
    """Start an ingest that stops itself at `point`; return once it has."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "custody", "ingest", str(source)),
            *("--case", "ICC-9", "--exhibit", "W1/1", "--out", str(out), "--json"),
        ],
        env={
            **os.environ,
            "CUSTODY_HOME": str(env.home),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
            "CUSTODY_STOP_AT": point,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while _state(proc.pid) != "T":
        if proc.poll() is not None:
            out_, err = proc.communicate()
            pytest.fail(f"ingest ended before {point}: {proc.returncode} {out_!r} {err!r}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ingest never reached {point}")
        time.sleep(0.01)
    return proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _actions(env: Env) -> list[dict]:
    return json.loads(env.run("ledger", "show", "--json").stdout)["entries"]


@pytest.mark.parametrize("point", ["copied", "recorded", "written", "renamed"])
def test_killed_ingest_is_explained_and_tidied(
    env: Env, officer: dict, tmp_path: Path, point: str
) -> None:
    source = _source(tmp_path / "phone")
    before = tree_snapshot(source)
    out = tmp_path / "out"
    out.mkdir()
    bundle = out / "ICC-9_W1-1"
    _kill(_ingest_stopped_at(env, point, source, bundle))
    [marker] = (env.home / "pending").glob("*.json")
    bundle_id = json.loads(marker.read_text())["bundle_id"]
    partials = [p for p in out.iterdir() if p.name.endswith(".partial")]
    assert len(partials) == (0 if point == "renamed" else 1)
    recorded = point != "copied"

    # ledger verify: the ledger itself is intact; the interruption is named, nothing changes.
    result = env.run("ledger", "verify", "--json")
    assert result.exit_code == 0, result.stdout
    [line] = json.loads(result.stdout)["interrupted_ingests"]
    assert bundle_id in line and str(bundle) in line
    if point == "renamed":
        assert "after the bundle was in place; it is whole" in line
    elif recorded:
        assert "was interrupted after ledger entry 1 recorded it" in line
        assert str(partials[0]) in line
    else:
        assert "interrupted before it was recorded" in line
    assert marker.exists() and all(p.exists() for p in partials)
    plain = env.run("ledger", "verify")
    assert plain.exit_code == 0
    assert plain.stderr.count("\n") == 1 and bundle_id in plain.stderr

    # The next ingest says so in one line, records it, and removes the partial copy;
    # one stopped before it was recorded stays resumable until it is discarded.
    second = env.run(
        "ingest", _source(tmp_path / "phone2", 2), "--case", "ICC-9", "--out", out / "second"
    )
    assert second.exit_code == 0, second.output
    [warning] = [w for w in second.stderr.splitlines() if bundle_id in w]
    assert warning.startswith("custody: warning: ")
    if point == "copied":
        assert "was stopped after 13 finished copies; it is kept" in warning
        assert f"'custody ingest --discard {bundle_id}' removes" in warning
        assert marker.exists() and all(p.exists() for p in partials)
        listed = json.loads(env.run("ingest", "--resume", "--json").stdout)
        validate("ingest-stopped", listed)
        assert [s["bundle_id"] for s in listed["stopped_ingests"]] == [bundle_id]
        assert listed["stopped_ingests"][0]["finished_copies"] == 13
        validate("ingest-stopped", json.loads(env.run("ingest", "--resume", "--json").stdout))
        discarded = env.run("ingest", "--discard", bundle_id)
        assert discarded.exit_code == 0, discarded.output
        assert "was discarded; its partial copy was removed" in discarded.stdout
        assert env.run("ingest", "--discard", bundle_id).exit_code == 2
    entries = _actions(env)
    abandoned = [e for e in entries if e["action"] == "abandoned"]
    if point in ("recorded", "written"):
        assert "recorded as abandoned in ledger entry 2" in warning
        assert [e["bundle_id"] for e in abandoned] == [bundle_id]
        assert "ingest of entry 1 was interrupted" in abandoned[0]["detail"]
        # The earlier entry is untouched, and the whole ledger still verifies.
        assert entries[1]["action"] == "ingest" and entries[1]["bundle_id"] == bundle_id
    else:
        assert abandoned == []
    assert [p for p in out.iterdir() if p.name.endswith(".partial")] == []
    assert list((env.home / "pending").glob("*")) == []
    after = env.run("ledger", "verify", "--json")
    assert after.exit_code == 0
    assert json.loads(after.stdout)["interrupted_ingests"] == []
    assert tree_snapshot(source) == before
    if point == "renamed":
        assert env.run("verify", bundle).exit_code == 0
    else:
        assert not bundle.exists()

    # A later verification of a bundle of the same case shows the abandoned bundle id.
    report_path = tmp_path / "report.html"
    checked = env.run("verify", out / "second", "--json", "--report", report_path)
    assert checked.exit_code == 0
    shown = json.loads(checked.stdout)["ledger"].get("abandoned_in_case", [])
    html = report_path.read_text()
    if point in ("recorded", "written"):
        assert [a["bundle_id"] for a in shown] == [bundle_id]
        assert bundle_id in html and "abandoned" in html
    else:
        assert shown == [] and bundle_id not in html


def test_a_running_ingest_is_never_taken_for_a_leftover(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    """An ingest paused midway holds its marker's lock: a concurrent ingest and ledger
    verify leave it alone, and it finishes whole when it resumes."""
    out = tmp_path / "out"
    out.mkdir()
    paused = _ingest_stopped_at(env, "recorded", _source(tmp_path / "phone"), out / "first")
    try:
        verify = env.run("ledger", "verify", "--json")
        assert json.loads(verify.stdout)["interrupted_ingests"] == []
        other = env.run("ingest", _source(tmp_path / "p2", 2), "--case", "X", "--out", out / "b")
        assert other.exit_code == 0 and other.stderr == ""
        assert [e["action"] for e in _actions(env)] == ["keygen", "ingest", "ingest"]
    finally:
        paused.send_signal(signal.SIGCONT)
    stdout, stderr = paused.communicate(timeout=120)
    assert paused.returncode == 0, stderr
    assert env.run("verify", json.loads(stdout)["bundle"]).exit_code == 0
    assert list((env.home / "pending").glob("*")) == []
