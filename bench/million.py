"""A whole case at scale (issue 26 item 1): time and peak memory of every command that
walks a bundle, at two file counts, in one run, with the ratios that show how cost grows.

    python -m bench.million [--sizes 100000,1000000] [--dir /var/tmp] [--skip audit,...]

For each size: files of 512 bytes in folders of 1,000 (bench.memory's shape) are
generated, read once (page cache) and ingested; then `audit` (the source against the
bundle), `verify`, `show --json` and `disclose` (10 files withheld, every other file
copied into the package and proven) run on the bundle, with the page cache dropped
before each when the benchmark runs as root (the issue's protocol: a court verifies a
bundle it has not just written).

Printed per command: wall time and peak RSS (ru_maxrss of the custody process) at each
size, then

- linearity: time at the largest size / (size ratio x time at the smallest). 1.00 is
  perfectly linear; issue 26 asks for at most 1.2;
- memory: peak RSS at the largest size / at the smallest. Flat memory is near 1; issue
  26 asks for under 200 MiB whatever the count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.memory import make_small_files
from bench.run import officer_with_key, run_timed, warm

MIB = 1024


def drop_caches() -> bool:
    """Drop the page cache (root only). Returns whether it was dropped."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    parser.add_argument("--skip", default="", help="commands to leave out, comma-separated")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    skip = {s for s in args.skip.split(",") if s}
    root = Path(tempfile.mkdtemp(prefix="custody-bench-million-", dir=args.dir))
    env, custody = officer_with_key(root)
    src, bundle, package = root / "src", root / "bundle", root / "package"
    withheld: list[str] = []

    def disclose(b: Path) -> list[str]:
        options = [arg for path in withheld for arg in ("--withhold", path)]
        head = [*custody, "disclose", str(b), "-o", str(package), "--to", "Defence"]
        return [*head, *options, "--basis", "81(4)"]

    commands: dict[str, Callable[[Path], list[str]]] = {
        "audit": lambda b: [*custody, "audit", str(src), str(b), "--json"],
        "verify": lambda b: [*custody, "verify", str(b)],
        "show --json": lambda b: [*custody, "show", str(b), "--json"],
        "disclose": disclose,
    }
    commands = {k: v for k, v in commands.items() if k.split()[0] not in skip}
    results: dict[str, dict[int, tuple[float, int]]] = {"ingest": {}}
    results.update({name: {} for name in commands})
    print(f"custody million benchmark: {os.cpu_count()} cores; data in {root}")
    dropped = drop_caches()
    if not dropped:
        print("(not root: the page cache is not dropped before the reading commands)")
    try:
        for count in sizes:
            src.mkdir()
            make_small_files(src, count)
            warm(src)
            results["ingest"][count] = run_timed(
                [*custody, "ingest", str(src), "--case", "BENCH", "--out", str(bundle)], env=env
            )
            withheld[:] = [
                f"dir{i // 1000:03d}/msg-{i:06d}.txt" for i in range(0, count, count // 10)
            ]
            for name, command in commands.items():
                drop_caches()
                results[name][count] = run_timed(command(bundle), env=env)
                shutil.rmtree(package, ignore_errors=True)
            print(
                f"{count:>9,} files: "
                + "; ".join(
                    f"{name} {by[count][0]:.1f} s {by[count][1] / MIB:.0f} MiB"
                    for name, by in results.items()
                ),
                flush=True,
            )
            shutil.rmtree(src)
            shutil.rmtree(bundle)
        low, high = sizes[0], sizes[-1]
        print(f"\nfrom {low:,} to {high:,} files ({high / low:g}x):")
        print(f"{'command':<12} {'linearity':>9} {'memory ratio':>12} {'peak RSS':>9}")
        for name, by in results.items():
            (t_low, m_low), (t_high, m_high) = by[low], by[high]
            linearity = t_high / (t_low * high / low)
            print(f"{name:<12} {linearity:>9.2f} {m_high / m_low:>12.2f} {m_high / MIB:>5.0f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
