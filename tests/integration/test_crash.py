"""Crashes and concurrency: kill -9 at random moments, two ingests at once."""

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

from conftest import PASSPHRASE, Env


def custody_cmd(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "custody", *map(str, args)]


def proc_env(env: Env) -> dict[str, str]:
    return {**os.environ, "CUSTODY_HOME": str(env.home), "CUSTODY_PASSPHRASE": PASSPHRASE}


def big_source(root: Path, files: int = 40, size: int = 256 * 1024) -> Path:
    root.mkdir()
    rng = random.Random(7)
    for i in range(files):
        (root / f"clip-{i:03d}.bin").write_bytes(rng.randbytes(size))
    return root


def visible(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if not p.name.startswith(".")]


def test_two_ingests_at_once_both_land(env: Env, officer: dict, tmp_path: Path) -> None:
    sources = [big_source(tmp_path / f"src{i}", files=20) for i in range(2)]
    out = tmp_path / "out"
    out.mkdir()
    procs = [
        subprocess.Popen(
            custody_cmd("ingest", s, "--case", f"C{i}", "--out", out, "--json"),
            env=proc_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i, s in enumerate(sources)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    bundles = [json.loads(stdout)["bundle"] for stdout, _ in results]
    assert len(set(bundles)) == 2
    ledger = env.run("ledger", "verify", "--json")
    assert ledger.exit_code == 0, ledger.stdout
    assert json.loads(ledger.stdout)["size"] == 3
    for b in bundles:
        assert env.run("verify", b).exit_code == 0


def test_many_concurrent_appends_keep_the_ledger_valid(env: Env, officer: dict) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from custody.base.keys import find_key, load_private_key\n"
        "from custody.io.ledger_store import Ledger\n"
        "home = Path(sys.argv[1]); pair = find_key(home=home, selector=None)\n"
        f"key = load_private_key(pair, {PASSPHRASE!r}.encode())\n"
        "with Ledger.open(home) as ledger:\n"
        "    for i in range(25):\n"
        "        ledger.append(action='verify', subject={'n': i}, signer=key,\n"
        "                      signer_name=pair.name, time='2026-01-01T00:00:00Z')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(env.home)]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    report = json.loads(env.run("ledger", "verify", "--json").stdout)
    assert report["valid"] and report["size"] == 101


@pytest.mark.parametrize("seed", range(3))
def test_kill_9_during_ingest_leaves_nothing_half_done(
    env: Env, officer: dict, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    src = big_source(tmp_path / "src", files=160)
    out = tmp_path / "out"
    out.mkdir()
    # Time a whole ingest on this machine (the faster of two), then kill others part-way.
    times = []
    for label in ("FULL1", "FULL2"):
        start = time.monotonic()
        subprocess.run(
            custody_cmd("ingest", src, "--case", label, "--out", out),
            env=proc_env(env),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.monotonic() - start)
    whole = min(times)
    killed = 0
    for round_ in range(16):
        proc = subprocess.Popen(
            custody_cmd("ingest", src, "--case", f"K{round_}", "--out", out),
            env=proc_env(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 0.9) * whole)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        report = env.run("ledger", "verify", "--json")
        assert report.exit_code == 0, report.stdout
        for bundle in visible(out):
            result = env.run("verify", bundle, "--json")
            assert result.exit_code == 0, (bundle, result.stdout)
        if killed >= 4:
            break
    assert killed >= 2, "the ingests finished before the kills: the test proved nothing"
    # Every bundle anyone can see is whole; the ledger has an entry for each of them.
    entries = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    ingested = {e["bundle_id"] for e in entries if e["action"] == "ingest"}
    for bundle in visible(out):
        st = json.loads((bundle / "custody/statement.json").read_bytes())
        assert st["bundle_id"] in ingested


def test_kill_9_during_appends(env: Env, officer: dict) -> None:
    """kill -9 while entries are being appended, tied to progress (the appender says
    after each append), never to a guess at how fast this machine is."""
    script = (
        "import sys; from pathlib import Path\n"
        "from custody.base.keys import find_key, load_private_key\n"
        "from custody.io.ledger_store import Ledger\n"
        "home = Path(sys.argv[1]); pair = find_key(home=home, selector=None)\n"
        f"key = load_private_key(pair, {PASSPHRASE!r}.encode())\n"
        "with Ledger.open(home) as ledger:\n"
        "    while True:\n"
        "        ledger.append(action='verify', subject={}, signer=key,\n"
        "                      signer_name=pair.name, time='2026-01-01T00:00:00Z')\n"
        "        print('appended', flush=True)\n"
    )
    rng = random.Random(1)
    acknowledged = 1  # the keygen entry
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(env.home)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        wanted = rng.randint(1, 3)
        for _ in range(wanted):
            assert proc.stdout.readline() == "appended\n"
        # Somewhere inside the next append (or between two), whatever the load.
        time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        acknowledged += wanted
        report = json.loads(env.run("ledger", "verify", "--json").stdout)
        assert report["valid"], report["problems"]
        # Every acknowledged append survived (more may have landed before the kill;
        # one under way is whole or absent, which "valid" says).
        assert report["size"] >= acknowledged
        acknowledged = report["size"]
    assert report["size"] > 8
