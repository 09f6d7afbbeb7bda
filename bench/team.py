"""Team-log benchmark: append throughput with 1, 2 and 8 concurrent publishers, and
`team verify` on 100,000 leaves, beside the local ledger's figures measured in the same
run (a local append; `ledger verify` of a ledger with as many entries), with their ratios.

    python -m bench.team [--leaves 100000] [--rounds 40]

Starts its own PostgreSQL (tests/pg_server.py: initdb + postgres on 127.0.0.1, fsync on)
and stops it at the end. Each publisher is a separate process with its own home: per round
it appends one signed entry to its local ledger and publishes it (one team-log transaction:
lock, sequence, integrate, sign, commit). The 100,000-leaf log is built through custody's
own append (in one transaction, so that building it does not take 100,000 commits).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from custody.io.ledger_store import Ledger
from custody.io.team import db
from custody.io.team.log import append_leaves, init_team, join_team, prepare_leaf
from custody.io.team.publish import publish_ledger
from custody.ops.team_query import verify_team
from custody.ops.trust import load_trust_policy
from custody.team.leaves import checkpoint_leaf, entry_leaf
from custody.tlog import merkle
from custody.tlog.note import sign_checkpoint
from pg_server import PgServer


def _append(ledger: Ledger, key: Ed25519PrivateKey, i: int) -> None:
    ledger.append(
        action="trust",
        subject={"name": f"k{i}", "fingerprint": f"{i:064x}"},
        signer=key,
        signer_name="Bench Officer",
        time="2026-01-01T00:00:00Z",
    )


def _publisher(url: str, root: str, n: int, rounds: int, start: object, out: object) -> None:
    home = Path(root) / f"officer-{n}"
    join_team(home=home, database=url)
    key = Ed25519PrivateKey.generate()
    with Ledger.open(home) as ledger:
        _append(ledger, key, 0)
    publish_ledger(home=home)
    start.wait()  # type: ignore[attr-defined]
    t = time.perf_counter()
    for i in range(1, rounds + 1):
        with Ledger.open(home) as ledger:
            _append(ledger, key, i)
        result = publish_ledger(home=home)
        assert result.online and result.published_entries == 1, result
    out.put(time.perf_counter() - t)  # type: ignore[attr-defined]


def throughput(server: PgServer, publishers: int, rounds: int) -> tuple[float, float]:
    url = server.new_database()
    with tempfile.TemporaryDirectory() as tmp:
        init_team(home=Path(tmp) / "lead", database=url, name="Bench Team")
        ctx = multiprocessing.get_context("spawn")
        start, out = ctx.Barrier(publishers), ctx.Queue()

        procs = [
            ctx.Process(target=_publisher, args=(url, tmp, n, rounds, start, out))
            for n in range(publishers)
        ]
        for p in procs:
            p.start()
        times = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
    wall = max(times)
    total = publishers * rounds
    return total / wall, statistics.median(times) / rounds * 1000


def local_append_ms(rounds: int) -> float:
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(Path(tmp)) as ledger:
        times = []
        for i in range(rounds):
            t = time.perf_counter()
            _append(ledger, key, i)
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def big_log(server: PgServer, leaves: int) -> tuple[float, float, tuple[int, int]]:
    """(seconds to append `leaves` in one transaction, seconds of team verify,
    team verify's peak memory and its largest worker's, MiB)."""
    from bench.ledger import chained_entries

    url = server.new_database()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "lead"
        init_team(home=home, database=url, name="Bench Team")
        key = Ed25519PrivateKey.generate()
        origin = "custody-ledger/00000000-0000-4000-8000-000000000000"
        data = []
        compact = merkle.CompactRange()
        for entry in chained_entries(leaves - 1, key):
            compact.append(merkle.leaf_hash(entry))
            data.append(entry_leaf(origin, entry, key.sign(entry)))
        note = sign_checkpoint(origin, leaves - 1, compact.root(), key)
        data.append(checkpoint_leaf(origin, note))
        from custody.io.team.log import team_signer
        from custody.team.config import load_team_config

        config = load_team_config(home)
        prepared = [prepare_leaf(d) for d in data]
        t = time.perf_counter()
        with db.connect(url) as conn, conn.transaction():
            conn.execute("SELECT size FROM tree_state WHERE id = 1 FOR UPDATE")
            signer = team_signer(conn, config)
            append_leaves(conn, origin=config.origin, signer=signer, leaves=prepared)
            conn.execute("INSERT INTO ledgers VALUES (%s, %s, %s)", (origin, leaves - 1, note))
        build = time.perf_counter() - t
        t = time.perf_counter()
        report = verify_team(home=home, policy=load_trust_policy(home=home))
        elapsed = time.perf_counter() - t
        assert report.valid and report.size == leaves, report.problems
        peak = _verify_peak_mib(home)
    return build, elapsed, peak


_PEAK = """
import os, resource
from pathlib import Path
from custody.ops.team_query import verify_team
from custody.ops.trust import load_trust_policy
_home = Path(os.environ["CUSTODY_HOME"])
assert verify_team(home=_home, policy=load_trust_policy(home=_home)).valid
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(int(hwm.split()[1]) // 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def _verify_peak_mib(home: Path) -> tuple[int, int]:
    """Peak resident memory of `team verify` in a fresh process, and of its
    largest worker (MiB). VmHWM, not ru_maxrss: a child's ru_maxrss counts the
    memory of the parent it was forked from."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", _PEAK],
        env={**os.environ, "CUSTODY_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def local_verify_s(entries: int) -> float:
    """`ledger verify` of a local ledger of `entries` real signed entries."""
    from bench.ledger import build
    from custody.ops.ledger.audit import verify_ledger

    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp), entries, Ed25519PrivateKey.generate())
        with Ledger.open(Path(tmp)) as ledger:
            t = time.perf_counter()
            report = verify_ledger(ledger)
            elapsed = time.perf_counter() - t
        assert report.valid and report.size == entries
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    server = PgServer(fsync=True)
    server.start()
    try:
        print(f"cores: {os.cpu_count()}")
        local = local_append_ms(args.rounds)
        print(f"local ledger append (median): {local:.2f} ms = {1000 / local:.0f} entries/s")
        print(
            f"{'publishers':>10} {'entries/s':>10} {'publish median ms':>18} "
            f"{'publish/local append':>21}"
        )
        for n in (1, 2, 8):
            rate, median = throughput(server, n, args.rounds)
            print(f"{n:>10} {rate:>10.1f} {median:>18.2f} {median / local:>20.1f}x")
        small = max(args.leaves // 10, 1)
        _, _, (small_peak, _) = big_log(server, small)
        build, elapsed, (peak, worker) = big_log(server, args.leaves)
        print(f"built {args.leaves:,} leaves in one append: {build:.1f} s")
        print(f"team verify of {args.leaves:,} leaves: {elapsed:.2f} s")
        print(
            f"team verify peak memory: {peak} MiB at {args.leaves:,} leaves, {small_peak} MiB at "
            f"{small:,} ({peak / small_peak:.2f}x for {args.leaves // small}x the leaves); "
            f"largest worker {worker} MiB"
        )
        local_elapsed = local_verify_s(args.leaves)
        print(f"ledger verify of {args.leaves:,} local entries: {local_elapsed:.2f} s")
        print(f"team verify / ledger verify: {elapsed / local_elapsed:.2f}x")
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
