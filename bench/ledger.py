"""Ledger benchmark: append cost as the ledger grows, the check a command makes before
its first append (io/ledger_integrity.py), and `ledger verify` on 100,000 entries.

    python -m bench.ledger [--entries 100000]

The large ledger is built directly in the documented SQLite schema (docs/ledger.md) with
real signed entries, so that building it does not take 100,000 fsyncs; every figure
printed is then measured through custody's own code on that ledger.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.io.ledger_integrity import check_head
from custody.io.ledger_store import Ledger
from custody.ops.ledger.audit import verify_ledger
from custody.tlog import merkle
from custody.tlog.entries import Actor, entry_bytes
from custody.tlog.note import sign_checkpoint


def chained_entries(n: int, key: Ed25519PrivateKey) -> Iterator[bytes]:
    """n real ingest entries of one officer's ledger, each linked to the one before."""
    actor = Actor("Bench Officer", key.public_key())
    prev = None
    for i in range(n):
        data = entry_bytes(
            index=i,
            prev_leaf_hash=prev,
            time="2026-01-01T00:00:00Z",
            action="ingest",
            actor=actor,
            subject={"bundle_id": f"b{i}", "case": "BENCH"},
        )
        prev = merkle.leaf_hash(data)
        yield data


def build(home: Path, n: int, key: Ed25519PrivateKey) -> None:
    """Write n real signed entries in bulk (one transaction), with nodes and a checkpoint."""
    with Ledger.open(home) as ledger:
        origin = ledger.origin
    conn = sqlite3.connect(home / "ledger" / "ledger.sqlite3")
    compact = merkle.CompactRange()
    entries, nodes = [], []
    for i, data in enumerate(chained_entries(n, key)):
        entries.append((i, data, key.sign(data)))
        nodes.extend(compact.append(merkle.leaf_hash(data)))
    with conn:
        conn.executemany("INSERT INTO entries VALUES (?, ?, ?)", entries)
        conn.executemany("INSERT INTO nodes VALUES (?, ?, ?)", nodes)
        note = sign_checkpoint(origin, n, compact.root(), key)
        conn.execute("INSERT OR REPLACE INTO checkpoint VALUES (1, ?, ?)", (n, note))
    conn.close()
    (home / "ledger" / "checkpoint.txt").write_bytes(note)


def check_ms(home: Path, count: int = 5) -> float:
    """The check before a command's first append, median of `count`."""
    times = []
    with Ledger.open(home) as ledger:
        for _ in range(count):
            t = time.perf_counter()
            head = check_head(ledger)
            times.append(time.perf_counter() - t)
            assert head.intact, head.summary()
    return statistics.median(times) * 1000


def append_ms(home: Path, key: Ed25519PrivateKey, count: int = 50) -> float:
    times = []
    with Ledger.open(home) as ledger:
        ledger.ensure_intact()  # once per command, measured by check_ms
        for _ in range(count):
            t = time.perf_counter()
            ledger.append(
                action="verify",
                subject={},
                signer=key,
                signer_name="Bench Officer",
                time="2026-01-01T00:00:00Z",
            )
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    print(f"cores: {os.cpu_count()}")
    print(f"{'ledger size':>12} {'append (median ms)':>20} {'check before (ms)':>18}")
    sizes = sorted({1_000, 10_000, args.entries})
    results = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            build(home, n, key)
            checked = check_ms(home)
            results[n] = append_ms(home, key)
            print(f"{n:>12,} {results[n]:>20.2f} {checked:>18.1f}")
            if n == args.entries:
                with Ledger.open(home) as ledger:
                    t = time.perf_counter()
                    report = verify_ledger(ledger)
                    elapsed = time.perf_counter() - t
                print(
                    f"ledger verify of {report.size:,} entries: {elapsed:.2f} s "
                    f"({'valid' if report.valid else 'INVALID'})"
                )
    ratio = results[sizes[-1]] / results[sizes[0]]
    print(
        f"append cost at {sizes[-1]:,} vs {sizes[0]:,} entries: {ratio:.2f}x "
        f"(log ratio {len(bin(sizes[-1])) / len(bin(sizes[0])):.2f}x)"
    )


if __name__ == "__main__":
    main()
