"""Ctrl-C (SIGINT) and SIGTERM during an ingest: exit 130 with one line saying what
was left, and afterwards either nothing, or a leftover that `custody ledger verify`
and the next `custody ingest` name (docs/ledger.md, "Interrupted ingests are
explained").

The moments are drawn by a seeded random (CUSTODY_INTERRUPT_SEED, printed in
every failure) as points of a real subprocess's progress (after k of a few
thousand files copied, or while the metadata is written), some followed by a
burst of further signals; the named points of custody.base.faults add the moments a
random draw rarely hits (just after the ledger entry, just before the rename)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PASSPHRASE, Env, validate

SEED = int(os.environ.get("CUSTODY_INTERRUPT_SEED", "20261207"))
TRIALS = 5
FILES = 3000
FILE_BYTES = 32768  # 3000 x 32 KiB: about 100 MB, each file opened, read and hashed twice


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Many real files (not sparse: every byte is read, copied and hashed)."""
    root = tmp_path_factory.mktemp("interrupt") / "phone"
    rng = random.Random(SEED)
    block = rng.randbytes(FILE_BYTES)
    for d in range(10):
        (root / f"DCIM-{d}").mkdir(parents=True)
        for i in range(FILES // 10):
            (root / f"DCIM-{d}" / f"IMG_{i:04d}.bin").write_bytes(i.to_bytes(4, "big") + block[4:])
    return root


def _start(
    env: Env, source: Path, out: Path, stop_at: str | None = None
) -> subprocess.Popen[bytes]:
    extra = {"CUSTODY_STOP_AT": stop_at} if stop_at else {}
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "custody", "ingest", str(source)),
            *("--case", "ICC-9", "--exhibit", "W1/1", "--out", str(out), "--json"),
        ],
        env={
            **os.environ,
            "CUSTODY_HOME": str(env.home),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
            **extra,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_ctrl_c_as_on_a_terminal,
    )


def _ctrl_c_as_on_a_terminal() -> None:
    """In the child, before custody starts: SIGINT does what it does for a command
    typed at a terminal. A test run started in the background (a shell's `&`, some CI
    runners) inherits SIGINT ignored, and Python then leaves it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_progress(out: Path, proc: subprocess.Popen[bytes], copied: int | None) -> None:
    """Until the partial copy holds `copied` files (None: until its metadata is
    being written), or the ingest has ended."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        for partial in (p for p in out.iterdir() if p.name.endswith(".partial")):
            if copied is None:
                if (partial / "custody").is_dir():
                    return
            elif sum(len(files) for _, _, files in os.walk(partial / "data")) >= copied:
                return
        time.sleep(0.003)


def _leftovers(out_parent: Path, env: Env) -> tuple[list[Path], list[Path]]:
    partials = [p for p in out_parent.iterdir() if p.name.endswith(".partial")]
    markers = list((env.home / "pending").glob("*.json")) if (env.home / "pending").is_dir() else []
    return partials, markers


def _check_after(env: Env, tmp_path: Path, what: str, line: str) -> None:
    """Whatever an interrupted ingest left is named by `ledger verify` and by the
    next ingest, which tidies it; the ledger verifies throughout."""
    out = tmp_path / "out"
    partials, markers = _leftovers(out, env)
    verify = env.run("ledger", "verify", "--json")
    assert verify.exit_code == 0, f"{what}: {verify.output}"
    named = json.loads(verify.stdout)["interrupted_ingests"]
    assert len(named) == len(markers), f"{what}: {named} {markers}"
    for partial in partials:
        assert markers, f"{what}: {partial} left with no marker (line: {line})"
        assert any(str(partial) in n for n in named), f"{what}: {partial} not named: {named}"
    small = tmp_path / f"small-{time.monotonic_ns()}"
    small.mkdir()
    (small / "note.txt").write_text(f"W2 {small.name}\n")  # new content: not a repeat
    nxt = env.run("ingest", small, "--case", "ICC-9", "--out", out)
    assert nxt.exit_code == 0, f"{what}: {nxt.output}"
    warned = [w for w in nxt.stderr.splitlines() if w.startswith("custody: warning: ")]
    assert len(warned) == len(markers), f"{what}: {nxt.stderr}"
    # A stopped ingest that can be continued is kept (ADR 0024) until it is
    # discarded explicitly; everything else was tidied by the next ingest.
    stopped = json.loads(env.run("ingest", "--resume", "--json").stdout)["stopped_ingests"]
    for s in stopped:
        assert any("it is kept" in w and s["bundle_id"] in w for w in warned), nxt.stderr
        assert env.run("ingest", "--discard", s["bundle_id"]).exit_code == 0, what
    assert _leftovers(out, env) == ([], []), what
    assert env.run("ledger", "verify").exit_code == 0, what


def test_random_sigint_and_sigterm_during_an_ingest(
    env: Env, officer: dict, tmp_path: Path, big_source: Path
) -> None:
    rng = random.Random(SEED)
    out = tmp_path / "out"
    out.mkdir()
    interrupted = 0
    for trial in range(TRIALS):
        sig = rng.choice((signal.SIGINT, signal.SIGTERM))
        # The moment is a point of the ingest's progress, not of the clock, so
        # that it falls inside the ingest on a fast machine and a loaded one alike:
        # after k files of the copy, or while the metadata is written.
        copied = rng.randint(0, FILES) if rng.random() < 0.75 else None
        settle = rng.uniform(0.0, 0.2 if copied is not None else 0.05)
        # Some trials: more signals 0-30 ms apart, as an impatient hand gives.
        again = [rng.choice((signal.SIGINT, signal.SIGTERM)) for _ in range(rng.choice((0, 0, 3)))]
        when = f"after {copied} files copied" if copied is not None else "during the metadata"
        what = f"seed {SEED} trial {trial}: {sig.name} {when} (+{settle:.3f} s)" + (
            f", then {'+'.join(s.name for s in again)}" if again else ""
        )
        print(what)
        proc = _start(env, big_source, out)
        _wait_for_progress(out, proc, copied)
        time.sleep(settle)
        proc.send_signal(sig)
        for more in again:
            time.sleep(rng.uniform(0.0, 0.03))
            if proc.poll() is None:
                proc.send_signal(more)
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"{what}: the ingest hung after the signal")
        err = stderr.decode()
        if proc.returncode == 0:  # it finished first: a whole bundle, nothing left
            print("  it finished first")
            assert json.loads(stdout)["bundle"], what
            assert _leftovers(out, env) == ([], []), what
            continue
        interrupted += 1
        # A later signal may end the process while it exits, after its line:
        # the shell then reports 130 (SIGINT) or 143 (SIGTERM); nothing changes on disk.
        allowed = {130} | ({-s.value for s in again} if again else set())
        assert proc.returncode in allowed, f"{what}: {proc.returncode} {err!r}"
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("custody: interrupted; "), f"{what}: {err!r}"
        assert "Aborted" not in err and "Traceback" not in err, what
        _check_after(env, tmp_path, what, lines[0])
    assert interrupted >= TRIALS - 1, f"seed {SEED}: the ingests finished before the signal"


@pytest.mark.parametrize("point", ["copied", "recorded", "written"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_at_each_named_point(
    env: Env, officer: dict, tmp_path: Path, point: str, sig: signal.Signals
) -> None:
    """Stopped exactly at `point` (custody.base.faults), then the signal, then resumed:
    the signal is handled the moment the process runs again."""
    source = tmp_path / "phone"
    source.mkdir()
    for i in range(4):
        (source / f"clip-{i}.bin").write_bytes(bytes([i]) * 100_000)
    out = tmp_path / "out"
    out.mkdir()
    proc = _start(env, source, out / "bundle", stop_at=point)
    deadline = time.monotonic() + 60
    while _state(proc.pid) != "T":
        assert proc.poll() is None and time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.01)
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    _, stderr = proc.communicate(timeout=60)
    err = stderr.decode()
    assert proc.returncode == 130, err
    [line] = err.splitlines()
    assert line.startswith("custody: interrupted; the ingest of case ICC-9"), line
    assert not (out / "bundle").exists()
    partials, markers = _leftovers(out, env)
    assert partials == [], line  # removed: it was only a copy
    if point == "copied":
        assert "nothing was recorded in the ledger" in line and markers == []
    else:
        # The ledger holds its entry: the marker stays, so that it is explained.
        assert "ledger entry 1 recorded it" in line and len(markers) == 1, line
        assert str(markers[0]) in line
        verify = env.run("ledger", "verify", "--json")
        [named] = json.loads(verify.stdout)["interrupted_ingests"]
        assert "after ledger entry 1 recorded it" in named
        nxt = env.run("ingest", source, "--case", "ICC-9", "--out", out / "again")
        assert nxt.exit_code == 0, nxt.output
        assert "recorded as abandoned in ledger entry 2" in nxt.stderr
        assert _leftovers(out, env) == ([], [])


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_outside_an_ingest_is_one_line_and_130(
    env: Env, officer: dict, tmp_path: Path, sig: signal.Signals, json_output: bool
) -> None:
    """Any command: never click's 'Aborted!' with exit 1 (which means 'not verified').
    The command waits, reading a FIFO nobody writes to, when the signal comes. With
    --json, stdout holds one error document, as for any other failure."""
    fifo = tmp_path / "checkpoint.txt"
    os.mkfifo(fifo)
    json_flag = ["--json"] if json_output else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "custody", "ledger", "consistency", str(fifo), *json_flag],
        env={**os.environ, "CUSTODY_HOME": str(env.home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_ctrl_c_as_on_a_terminal,
    )
    deadline = time.monotonic() + 60
    while "wait_for_partner" not in Path(f"/proc/{proc.pid}/wchan").read_text():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.decode() == "custody: interrupted; nothing was left half-written\n"
    if json_output:
        document = json.loads(stdout)
        validate("error", document)
        assert document == {
            "error": {
                "kind": "interrupted",
                "path": None,
                "message": "nothing was left half-written",
            }
        }
    else:
        assert stdout == b""


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rsplit(")", 1)[1].split()[0]
