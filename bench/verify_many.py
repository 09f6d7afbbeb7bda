"""Many small bundles: one `custody verify` process each, against one process for all.

    python -m bench.verify_many [--bundles 200] [--runs 3] [--dir /var/tmp]

A registry checking its holdings each night verifies thousands of small bundles. This
makes --bundles one-file bundles (one batch ingest, outside the timings), then times,
side by side and taking turns run by run (bench.run.measure):

  separate   a shell loop running `custody verify BUNDLE` once per bundle
  one        one `custody verify B1 ... BN` (a pool of one process per core)
  serial     the same with --workers 1 (one process, no pool)
  startup    `python -c pass`, the interpreter's own start-up, for scale

and prints each as a cost per bundle, with the ratios. Peak RSS of the one-process run
is compared with a run over five times as many bundles (each bundle given five times),
to show that memory does not grow with the length of the list.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import CUSTODY, Command, measure, officer_with_key


def make_bundles(root: Path, count: int, env: dict[str, str]) -> list[Path]:
    """`count` bundles of one small file each, made by one `custody ingest --from`."""
    sources = root / "sources"
    sources.mkdir()
    lines = []
    for i in range(count):
        src = sources / f"s{i:05d}"
        src.mkdir()
        (src / "statement.txt").write_text(f"Statement {i} of a witness.\n" * 20)
        lines.append(f"{src}\tBENCH\tW/{i}")
    listing = root / "sources.tsv"
    listing.write_text("\n".join(lines) + "\n")
    out = root / "bundles"
    out.mkdir()
    subprocess.run(
        [*CUSTODY, "ingest", "--from", str(listing), "--out", str(out), "-q"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return sorted(out.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundles", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="custody-bench-many-", dir=args.dir))
    try:
        env, custody = officer_with_key(root)
        bundles = make_bundles(root, args.bundles, env)
        names = [str(b) for b in bundles]
        listing = root / "bundles.txt"
        listing.write_text("\n".join(names) + "\n")
        five = root / "five.txt"
        five.write_text("\n".join(names * 5) + "\n")
        loop = (
            f'set -e; while read -r b; do {shlex.join(custody)} verify "$b" -q; '
            f"done < {shlex.quote(str(listing))}"
        )
        nothing = lambda: None  # noqa: E731 - the bundles are read from the page cache
        t = measure(
            args.runs,
            {
                "separate": Command(nothing, loop, env=env),
                "one": Command(nothing, [*custody, "verify", *names, "-q"], env=env),
                "serial": Command(
                    nothing, [*custody, "verify", *names, "-q", "--workers", "1"], env=env
                ),
                "startup": Command(nothing, [sys.executable, "-c", "pass"]),
            },
        )
        # Five times the bundles: each given five times (duplicates are allowed on the
        # command line), so that only the length of the run changes.
        big = measure(
            1, {"five": Command(nothing, [*custody, "verify", *(names * 5), "-q"], env=env)}
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n = args.bundles
    per = {name: timing.median / n * 1000 for name, timing in t.items()}
    print(f"custody verify of {n} one-file bundles: {os.cpu_count()} cores, medians of {args.runs}")
    print(
        f"  separate processes  {per['separate']:7.2f} ms a bundle ({t['separate'].median:.2f} s)"
    )
    print(f"  one process         {per['one']:7.2f} ms a bundle ({t['one'].median:.2f} s)")
    print(
        f"  one process, serial {per['serial']:7.2f} ms a bundle ({t['serial'].median:.2f} s; "
        "--workers 1)"
    )
    print(f"  python -c pass      {t['startup'].median * 1000:7.2f} ms (interpreter start-up)")
    print(
        f"  one process is {t['separate'].median / t['one'].median:.1f}x faster than separate "
        f"processes; the pool {t['serial'].median / t['one'].median:.2f}x faster than serial"
    )
    one_rss = max(t["one"].rss_kib) / 1024
    five_rss = max(big["five"].rss_kib) / 1024
    print(
        f"  peak RSS of one process: {one_rss:.0f} MiB for {n} bundles, "
        f"{five_rss:.0f} MiB for {5 * n} ({five_rss / one_rss:.2f}x)"
    )


if __name__ == "__main__":
    main()
