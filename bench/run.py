"""custody's speed against the tools people use today, measured in one run.

    python -m bench [--runs 5] [--scale 1.0] [--sets 1,2,3,4] [--dir /var/tmp]

Generates its data sets deterministically in a temporary folder, then for each set prints
medians of --runs runs, as ratios measured side by side (the commands take turns, run by
run, so that a disk that is slow for a while slows all of them alike):

  ingest  vs  cp -r + sync + sha256sum of the copy,  and  cp -r + sync alone
  verify  vs  sha256sum -c,  hashdeep -c sha256 -r (when installed),  and the limit:
              a minimal Python script that only hashes the same files on two threads
  peak RSS of every custody run

Set 4 also compares ingest with metadata extraction against --no-metadata. Data is read
from the page cache (every source is read once before timing). --scale shrinks the sets
for a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "evidence"
MIB = 1 << 20

HASH_LIMIT_SCRIPT = r"""
import hashlib, os, sys, threading
paths = iter([os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs])
def work():
    buf = bytearray(1 << 20); view = memoryview(buf)
    for p in paths:
        h = hashlib.sha256()
        with open(p, 'rb', buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
        h.hexdigest()
threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""


def write_random(path: Path, size: int, rng: random.Random) -> None:
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 4 * MIB)
            fh.write(rng.randbytes(n))
            left -= n


def after_exif_segment(jpeg: bytes) -> int:
    """The offset just past the APP1 (EXIF) segment of a JPEG."""
    pos = 2
    while jpeg[pos] == 0xFF and jpeg[pos + 1] != 0xDA:
        end = pos + 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        if jpeg[pos + 1] == 0xE1:
            return end
        pos = end
    raise ValueError("no EXIF segment")


def make_set(kind: int, root: Path, scale: float) -> Path:
    rng = random.Random(kind)
    src = root / f"set{kind}"
    src.mkdir()
    if kind == 1:
        write_random(src / "video.mp4", int(2048 * MIB * scale) or MIB, rng)
    elif kind == 2:
        for i in range(64):
            write_random(src / f"clip-{i:02d}.mp4", int(32 * MIB * scale) or 4096, rng)
    elif kind == 3:
        count = max(10, int(10_000 * scale))
        for i in range(count):
            sub = src / f"dir{i // 500:02d}"
            sub.mkdir(exist_ok=True)
            write_random(sub / f"msg-{i:05d}.bin", rng.randint(4 * 1024, 64 * 1024), rng)
    else:
        photo = (EXAMPLES / "IMG_20220225_140310.jpg").read_bytes()
        video = (EXAMPLES / "VID_20220225_141500.mp4").read_bytes()
        for i in range(max(4, int(150 * scale))):
            # A real EXIF photo grown to phone size with comment segments after its EXIF
            # (APP1) segment, where a phone's other segments and image data would be.
            pad = rng.randbytes(int(rng.randint(2 * MIB, 5 * MIB) * scale) or 1000)
            chunks = [pad[j : j + 65533] for j in range(0, len(pad), 65533)]
            segments = b"".join(b"\xff\xfe" + (len(c) + 2).to_bytes(2, "big") + c for c in chunks)
            at = after_exif_segment(photo)
            (src / f"IMG_{i:04d}.jpg").write_bytes(photo[:at] + segments + photo[at:])
        for i in range(max(2, int(15 * scale))):
            # A real MP4 grown with a trailing 'free' box, as long phone videos are.
            size = int(rng.randint(20 * MIB, 40 * MIB) * scale) or 1000
            (src / f"VID_{i:04d}.mp4").write_bytes(
                video + (size + 8).to_bytes(4, "big") + b"free" + rng.randbytes(size)
            )
    return src


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> list[float]:
        """The fastest and the slowest run."""
        return [min(self.seconds), max(self.seconds)]


def run_timed(
    cmd: list[str] | str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        shell=isinstance(cmd, str),
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {cmd}\n{err}")
    return elapsed, int(usage.ru_maxrss)


def warm(path: Path) -> None:
    subprocess.run(f"find '{path}' -type f -exec cat {{}} + > /dev/null", shell=True, check=True)


@dataclass
class Command:
    """One command to time, with what must happen before each run of it."""

    setup: Callable[[], None]
    cmd: list[str] | str
    env: dict[str, str] | None = None
    cwd: Path | None = None


def measure(runs: int, commands: dict[str, Command]) -> dict[str, Timing]:
    """Time every command `runs` times, interleaved (A B C, A B C, ...), so that a
    disk or a neighbour that is slow for a while slows all of them alike."""
    timings = {name: Timing() for name in commands}
    for _ in range(runs):
        for name, c in commands.items():
            c.setup()
            seconds, rss = run_timed(c.cmd, env=c.env, cwd=c.cwd)
            timings[name].seconds.append(seconds)
            timings[name].rss_kib.append(rss)
    return timings


CUSTODY = [sys.executable, "-m", "custody"]


def officer_with_key(root: Path) -> tuple[dict[str, str], list[str]]:
    """A fresh $CUSTODY_HOME under root with an unencrypted key, for benchmarks only.
    Returns the environment to run custody with, and the command that runs it."""
    env = {**os.environ, "CUSTODY_HOME": str(root / "home")}
    env.pop("CUSTODY_PASSPHRASE", None)
    subprocess.run(
        [*CUSTODY, "keygen", "--name", "Bench Officer", "--no-passphrase"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return env, CUSTODY


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--make-set":
        make_set(int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--sets", default="1,2,3,4")
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="custody-bench-", dir=args.dir))
    env, custody = officer_with_key(root)
    hashdeep = shutil.which("hashdeep")
    results: dict[str, dict[str, Any]] = {}
    print(
        f"custody benchmark: {os.cpu_count()} cores, {args.runs} runs each, medians; data in {root}"
    )
    try:
        for kind in (int(k) for k in args.sets.split(",")):
            row = bench_set(kind, root, args, env, custody, hashdeep)
            results[f"set{kind}"] = row
            report(kind, row)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))


def bench_set(
    kind: int,
    root: Path,
    args: argparse.Namespace,
    env: dict[str, str],
    custody: list[str],
    hashdeep: str | None,
) -> dict[str, Any]:
    """Build one data set, measure everything on it, and return the figures."""
    # Built by a child process: this process stays small, so the peak RSS each
    # measured command reports (Linux counts a forked child's pages) is its own.
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--make-set", str(kind), str(root), str(args.scale)],
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    src = root / f"set{kind}"
    os.sync()
    files = sum(1 for p in src.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    warm(src)
    out, bundle, copy = root / "out", root / "bundle", root / "copy"

    def clean() -> None:
        for p in (out, copy):
            shutil.rmtree(p, ignore_errors=True)
        # Every command starts with nothing left to flush: a sync inside one
        # command must not pay for another's (or the data generator's) writes.
        os.sync()
        # Each command then starts at once. On a virtual machine that hands freed
        # memory back to its host (free page reporting), memory freed by the
        # delete above is quick to reuse for a second or two, then slow to fault
        # in again (2 GiB written to the page cache: 0.6 s against 2.4-4 s). A
        # pause here would measure the host's memory, not the command.

    def clean_out() -> None:
        clean()
        out.mkdir()

    def nothing() -> None:
        os.sync()

    ingest_cmd = [*custody, "ingest", str(src), "--case", "BENCH", "--out", str(out / "b")]
    copy_commands = {
        "ingest": Command(clean_out, ingest_cmd, env=env),
        "cp_sync": Command(clean, f"cp -r '{src}' '{copy}' && sync"),
        "cp_sync_sha": Command(
            clean,
            f"cp -r '{src}' '{copy}' && sync && "
            f"find '{copy}' -type f -print0 | xargs -0 sha256sum > /dev/null",
        ),
    }
    if kind == 4:
        copy_commands["plain"] = Command(clean_out, [*ingest_cmd, "--no-metadata"], env=env)
    t = measure(args.runs, copy_commands)
    spread = {f"{name}_spread_s": x.spread for name, x in t.items()}
    ingest, cp_sync, cp_sync_sha = t["ingest"], t["cp_sync"], t["cp_sync_sha"]
    row: dict[str, Any] = {
        "files": files,
        "bytes": size,
        "ingest_s": ingest.median,
        "cp_sync_s": cp_sync.median,
        "cp_sync_sha256sum_s": cp_sync_sha.median,
        "ingest_vs_cp_sync": ingest.median / cp_sync.median,
        "ingest_vs_cp_sync_sha256sum": ingest.median / cp_sync_sha.median,
        "ingest_peak_rss_mib": max(ingest.rss_kib) / 1024,
    }
    if kind == 4:
        row["ingest_no_metadata_s"] = t["plain"].median
        row["metadata_cost"] = ingest.median / t["plain"].median
    # One bundle to verify, made outside the timings.
    shutil.rmtree(bundle, ignore_errors=True)
    subprocess.run(
        [*custody, "ingest", str(src), "--case", "BENCH", "--out", str(bundle)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    clean()
    warm(bundle)
    verify_commands = {
        "verify": Command(nothing, [*custody, "verify", str(bundle)], env=env),
        "sha_c": Command(nothing, "sha256sum --quiet -c manifest-sha256.txt", cwd=bundle),
        "limit": Command(nothing, [sys.executable, "-c", HASH_LIMIT_SCRIPT, str(bundle / "data")]),
    }
    if hashdeep:
        verify_commands["hashdeep"] = Command(
            nothing, f"hashdeep -c sha256 -r '{bundle / 'data'}' > /dev/null"
        )
    t = measure(args.runs, verify_commands)
    spread |= {f"{name}_spread_s": x.spread for name, x in t.items()}
    verify, sha_c, limit = t["verify"], t["sha_c"], t["limit"]
    row.update(
        {
            "verify_s": verify.median,
            "sha256sum_c_s": sha_c.median,
            "hash_limit_s": limit.median,
            "verify_vs_limit": verify.median / limit.median,
            "verify_vs_sha256sum_c": verify.median / sha_c.median,
            "verify_peak_rss_mib": max(verify.rss_kib) / 1024,
        }
    )
    if hashdeep:
        row["hashdeep_s"] = t["hashdeep"].median
        row["verify_vs_hashdeep"] = verify.median / t["hashdeep"].median
    row["spread"] = spread
    shutil.rmtree(src)
    shutil.rmtree(bundle)
    return row


NAMES = {
    1: "one 2 GiB file",
    2: "64 files of 32 MiB",
    3: "10,000 files of 4-64 KiB",
    4: "photos with EXIF and videos",
}


def report(kind: int, r: dict[str, Any]) -> None:
    print(f"\nset {kind}: {NAMES[kind]} ({int(r['files'])} files, {r['bytes'] / MIB:,.0f} MiB)")
    print(
        f"  ingest {r['ingest_s']:.2f} s = {r['ingest_vs_cp_sync']:.2f}x cp -r+sync "
        f"({r['cp_sync_s']:.2f} s), {r['ingest_vs_cp_sync_sha256sum']:.2f}x "
        f"cp -r+sync+sha256sum ({r['cp_sync_sha256sum_s']:.2f} s); "
        f"peak RSS {r['ingest_peak_rss_mib']:.0f} MiB"
    )
    if "metadata_cost" in r:
        print(
            f"  ingest with metadata = {r['metadata_cost']:.2f}x ingest --no-metadata "
            f"({r['ingest_no_metadata_s']:.2f} s)"
        )
    line = (
        f"  verify {r['verify_s']:.2f} s = {r['verify_vs_limit']:.2f}x hash-only limit "
        f"({r['hash_limit_s']:.2f} s), {r['verify_vs_sha256sum_c']:.2f}x sha256sum -c "
        f"({r['sha256sum_c_s']:.2f} s)"
    )
    if "verify_vs_hashdeep" in r:
        line += f", {r['verify_vs_hashdeep']:.2f}x hashdeep ({r['hashdeep_s']:.2f} s)"
    print(line + f"; peak RSS {r['verify_peak_rss_mib']:.0f} MiB")
    spread: dict[str, list[float]] = r["spread"]
    print(
        "  fastest-slowest run: "
        + ", ".join(
            f"{name.removesuffix('_spread_s')} {lo:.2f}-{hi:.2f} s"
            for name, (lo, hi) in spread.items()
        )
    )


if __name__ == "__main__":
    main()
