"""Memory against file count: peak RSS and time of `custody show --json`, `custody verify`
and `custody audit FOLDER BUNDLE` (the source folder against its bundle) on bundles of many
small files, in one run, with the ratio of the largest to the smallest.

    python -m bench.scale [--sizes 10000,50000,200000] [--dir /var/tmp] [--only verify,audit]

Flat memory (issue 26) means a peak ratio near 1 whatever the sizes; linear time means a
time-per-file ratio near 1. `ingest` is timed too, as the yardstick for audit (both read
every source file once). "show (whole)" is the
implementation show had before it streamed (the whole result built, then dumped), run
beside it for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.memory import make_small_files
from bench.run import officer_with_key, run_timed

WHOLE = (
    "import sys; from pathlib import Path; from custody.ops.show import read_metadata; "
    "from custody.render._base import _dumps; "
    "sys.stdout.write(_dumps(read_metadata(bundle=Path(sys.argv[1])).to_json(), indent=2))"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    parser.add_argument("--only", default=None, help="commands to run, comma separated")
    parser.add_argument(
        "--baseline",
        default=None,
        help="another checkout's python (its venv's): verify and audit run with it too, "
        "on the same bundles, for before/after figures in one run",
    )
    parser.add_argument(
        "--baseline-audit-max",
        type=int,
        default=20_000,
        help="largest file count the baseline's audit runs at (it was quadratic)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="custody-bench-scale-", dir=args.dir))
    env, custody = officer_with_key(root)
    print(f"custody scale benchmark: {os.cpu_count()} cores; data in {root}")
    commands = {
        "show --json": lambda b: [*custody, "show", str(b), "--json"],
        "show (whole)": lambda b: [sys.executable, "-c", WHOLE, str(b)],
        "verify": lambda b: [*custody, "verify", str(b)],
        "audit": lambda b: [*custody, "audit", str(b.parent / "src"), str(b)],
    }
    if args.only:
        commands = {k: v for k, v in commands.items() if k in args.only.split(",")}
    limits: dict[str, int] = {}
    if args.baseline:
        before = [args.baseline, "-m", "custody"]
        for name in ("verify", "audit"):
            if name in commands:
                commands[f"{name} (baseline)"] = (
                    lambda b, name=name: [before[0], *commands[name](b)[1:]]  # type: ignore[misc]
                )
        limits["audit (baseline)"] = args.baseline_audit_max
    peaks: dict[str, dict[int, int]] = {name: {} for name in ["ingest", *commands]}
    times: dict[str, dict[int, float]] = {name: {} for name in peaks}
    try:
        for count in sizes:
            src, bundle = root / "src", root / "bundle"
            src.mkdir()
            make_small_files(src, count)
            seconds, kib = run_timed(
                [*custody, "ingest", str(src), "--case", "BENCH", "--out", str(bundle)], env=env
            )
            peaks["ingest"][count], times["ingest"][count] = kib, seconds
            line = [f"ingest {kib / 1024:.0f} MiB ({seconds:.1f} s)"]
            for name, command in commands.items():
                if count > limits.get(name, count):
                    line.append(f"{name} not run")
                    continue
                seconds, kib = run_timed(command(bundle), env=env)
                peaks[name][count], times[name][count] = kib, seconds
                line.append(f"{name} {kib / 1024:.0f} MiB ({seconds:.1f} s)")
            print(f"{count:>9,} files: " + "; ".join(line), flush=True)
            shutil.rmtree(src)
            shutil.rmtree(bundle)
        low, high = sizes[0], sizes[-1]
        for name, by_size in peaks.items():
            if high not in by_size:
                continue
            per_file = (times[name][high] / high) / (times[name][low] / low)
            print(
                f"{name}: peak RSS at {high:,} / at {low:,} files = "
                f"{by_size[high] / by_size[low]:.2f}; time per file = {per_file:.2f}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
