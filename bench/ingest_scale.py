"""Ingest at several sizes in one run: peak RSS and time, and their ratios.

    python -m bench.ingest_scale [--sizes 10000,100000,300000] [--dir /var/tmp] [--resume]

Each size is a tree of small files (512 bytes, folders of 1,000: bench.memory's shape),
in the page cache before the ingest (the same protocol at every size). Prints, per size,
the wall time, the time per 100,000 files, and the peak RSS of the custody process;
then the ratios against the smallest size: memory must stay flat (issue 26: under
200 MiB whatever the count) and time grow linearly (time per file within 1.2x).

With --resume, each size is also ingested once more, killed (SIGKILL) after half of
its files are copied (CUSTODY_STOP_AFTER_FILES), and continued by the same command:
the resume's time and peak RSS are printed too (it checks the finished half again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.memory import make_small_files
from bench.run import officer_with_key, run_timed, warm


def _stopped_after(cmd: list[str], env: dict[str, str], files: int) -> None:
    """Start the ingest, wait until it stops itself after `files` copies, kill -9 it."""
    proc = subprocess.Popen(
        cmd,
        env={**env, "CUSTODY_STOP_AFTER_FILES": str(files)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        with open(f"/proc/{proc.pid}/stat", encoding="ascii") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                break
        if proc.poll() is not None:
            raise SystemExit("the ingest ended before it stopped")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    parser.add_argument("--resume", action="store_true", help="also time a resume at each size")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    root = Path(tempfile.mkdtemp(prefix="custody-bench-ingest-", dir=args.dir))
    env, custody = officer_with_key(root)
    print(f"custody ingest at scale: {os.cpu_count()} cores; data in {root}")
    rows: list[tuple[int, float, int, float | None, int | None]] = []
    try:
        for n in sizes:
            src = root / "src"
            make_small_files(src, n)
            os.sync()
            warm(src)
            bundle = root / "bundle"
            cmd = [*custody, "ingest", str(src), "--case", "BENCH", "--again", "--out", str(bundle)]
            seconds, kib = run_timed(cmd, env=env)
            shutil.rmtree(bundle)
            resume_s = resume_kib = None
            if args.resume:
                _stopped_after(cmd, env, n // 2)
                warm(src)
                resume_s, resume_kib = run_timed(cmd, env=env)
                shutil.rmtree(bundle)
            rows.append((n, seconds, kib, resume_s, resume_kib))
            line = (
                f"{n:>9,} files: ingest {seconds:7.1f} s ({seconds / n * 1e5:5.1f} s per 100k), "
                f"peak RSS {kib / 1024:5.0f} MiB"
            )
            if resume_s is not None and resume_kib is not None:
                line += f"; resume after a kill at half {resume_s:.1f} s, "
                line += f"{resume_kib / 1024:.0f} MiB"
            print(line, flush=True)
            shutil.rmtree(src)
        n0, s0, k0, _, _ = rows[0]
        for n, s, k, _, rk in rows[1:]:
            per_file = (s / n) / (s0 / n0)
            rk0 = rows[0][4]
            extra = "" if rk is None or rk0 is None else f", resume RSS {rk / rk0:.2f}x"
            print(
                f"{n:,} vs {n0:,} files: time per file {per_file:.2f}x, "
                f"peak RSS {k / k0:.2f}x{extra}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
