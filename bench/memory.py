"""Memory benchmark: peak RSS of ingest and verify on the two shapes that stress it.

    python -m bench.memory [--files 100000] [--gib 4] [--dir /var/tmp]

1. one large video-sized file (--gib GiB of random bytes): buffers must not grow with it;
2. many small files (--files files of 512 bytes in folders of 1,000): the per-file state must
   stay small and the manifest and metadata must be streamed.

Prints wall time and peak RSS (ru_maxrss of the custody process) for `custody ingest` and
`custody verify` of each. Issue 5's target: under 150 MB in every case.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.run import MIB, officer_with_key, run_timed, write_random


def make_small_files(src: Path, count: int) -> None:
    rng = random.Random(5)
    for i in range(count):
        folder = src / f"dir{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"msg-{i:06d}.txt").write_bytes(rng.randbytes(512))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--gib", type=float, default=4.0)
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="custody-bench-memory-", dir=args.dir))
    env, custody = officer_with_key(root)
    print(f"custody memory benchmark: {os.cpu_count()} cores; data in {root}")
    try:

        def one_large_file(src: Path) -> None:
            write_random(src / "video.mp4", int(args.gib * 1024 * MIB), random.Random(4))

        def many_small_files(src: Path) -> None:
            make_small_files(src, args.files)

        shapes: dict[str, Callable[[Path], None]] = {
            f"one file of {args.gib:g} GiB": one_large_file,
            f"{args.files:,} files of 512 bytes": many_small_files,
        }
        for label, make in shapes.items():
            src, bundle = root / "src", root / "bundle"
            src.mkdir()
            make(src)
            os.sync()
            ingest_s, ingest_kib = run_timed(
                [*custody, "ingest", str(src), "--case", "BENCH", "--out", str(bundle)], env=env
            )
            verify_s, verify_kib = run_timed([*custody, "verify", str(bundle)], env=env)
            print(
                f"{label}: ingest {ingest_s:.1f} s, peak RSS {ingest_kib / 1024:.0f} MiB; "
                f"verify {verify_s:.1f} s, peak RSS {verify_kib / 1024:.0f} MiB"
            )
            shutil.rmtree(src)
            shutil.rmtree(bundle)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
