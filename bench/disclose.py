"""Disclosing a few files from a large bundle, and verifying the package, against
verifying the disclosed bytes themselves.

    python -m bench.disclose [--files 20000] [--disclosed 100] [--runs 3] [--dir /var/tmp]

Makes one bundle of --files small files (one ingest, outside the timings, but its
time is printed), and a second bundle of only the --disclosed files (the bytes a
recipient gets). Then times, side by side and taking turns (bench.run.measure):

  disclose        `custody disclose BIG --reveal F1 ... Fk` (everything else withheld)
  verify package  `custody verify PACKAGE`
  verify small    `custody verify SMALL`, the same bytes as a bundle of their own
  verify big      `custody verify BIG`, for scale

and prints the costs, their ratios, the package's size and the size of one inclusion
proof (which grows with log2 of the number of leaves, not with the bundle).
Try --files 100000 for the issue's figure (the ingest then takes minutes).

    python -m bench.disclose --video-mib 1024 [--dir /var/tmp]

instead makes one MP4 of that many MiB (a `moov` with a `udta` title, then the
`mdat`), ingests it, and prints the wall time and peak RSS of `custody disclose
--strip-metadata` (the copy is written streaming) and of `custody verify` of the
package (its parts checked streaming) beside `custody verify` of the bundle:
memory must not grow with the video.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.run import Command, measure, officer_with_key


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--disclosed", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    parser.add_argument("--video-mib", type=int, default=0, help="the MP4 benchmark instead")
    args = parser.parse_args()
    if args.video_mib:
        video(args.video_mib, args.dir)
        return
    root = Path(tempfile.mkdtemp(prefix="custody-bench-disclose-", dir=args.dir))
    try:
        env, custody = officer_with_key(root)
        src, small_src = root / "src", root / "small"
        src.mkdir()
        small_src.mkdir()
        step = max(1, args.files // args.disclosed)
        chosen = []
        for i in range(args.files):
            name = f"d{i // 1000:03d}/statement-{i:06d}.txt"
            (src / name).parent.mkdir(exist_ok=True)
            body = f"Statement {i} of a witness, page one.\n".encode() * 40
            (src / name).write_bytes(body)
            if i % step == 0 and len(chosen) < args.disclosed:
                chosen.append(name)
                (small_src / name).parent.mkdir(exist_ok=True)
                (small_src / name).write_bytes(body)
        started = time.perf_counter()
        big = _ingest(custody, env, src, root / "big")
        ingest_s = time.perf_counter() - started
        small = _ingest(custody, env, small_src, root / "small-bundle")
        package = root / "package"

        def fresh() -> None:
            shutil.rmtree(package, ignore_errors=True)

        reveal = [a for name in chosen for a in ("--reveal", name)]
        disclose = [*custody, "disclose", str(big), "-o", str(package), "--to", "Bench", *reveal]
        fresh()
        subprocess.run(disclose, env=env, check=True, stdout=subprocess.DEVNULL)
        nothing = lambda: None  # noqa: E731 - read from the page cache
        t = measure(
            args.runs,
            {
                "disclose": Command(fresh, disclose, env=env),
                "verify package": Command(
                    nothing, [*custody, "verify", str(package), "-q"], env=env
                ),
                "verify small": Command(nothing, [*custody, "verify", str(small), "-q"], env=env),
                "verify big": Command(nothing, [*custody, "verify", str(big), "-q"], env=env),
            },
        )
        lines = (package / "custody/disclosure/leaves.jsonl").read_bytes().splitlines()
        proof = json.loads(lines[0])["proof"]
        statement = json.loads((big / "custody/statement.json").read_bytes())
        size = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
        record = (package / "custody/disclosure/record.json").stat().st_size
    finally:
        shutil.rmtree(root, ignore_errors=True)
    m = {name: timing.median for name, timing in t.items()}
    leaves = statement["commitments"]["leaves"]
    print(
        f"{args.files} files ({leaves} committed leaves), {len(chosen)} disclosed, "
        f"medians of {args.runs}"
    )
    print(f"  ingest (once, with commitments) {ingest_s:8.2f} s")
    for name in ("disclose", "verify package", "verify small", "verify big"):
        print(f"  {name:31} {m[name]:8.2f} s  ({m[name] / m['verify small']:.2f}x verify small)")
    print(
        f"  one inclusion proof: {len(proof)} hashes, {32 * len(proof)} bytes "
        f"({len(lines[0])} bytes as a line of leaves.jsonl, leaf and salt included)"
    )
    print(f"  package: {size} bytes in all, record {record} bytes")


def _box(kind: bytes, body: bytes) -> bytes:
    return (8 + len(body)).to_bytes(4, "big") + kind + body


def video(mib: int, where: str | None) -> None:
    """Peak RSS of disclosing a stripped copy of a `mib` MiB MP4."""
    import random

    from bench.run import MIB, run_timed, write_random

    root = Path(tempfile.mkdtemp(prefix="custody-bench-disclose-video-", dir=where))
    try:
        env, custody = officer_with_key(root)
        src = root / "src"
        src.mkdir()
        title = _box(b"udta", _box(b"\xa9nam", b"\x00\x05\x00\x00Flat of W1, Shevchenka 14"))
        moov = _box(b"moov", _box(b"mvhd", bytes(100)) + title)
        head = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + moov
        path = src / "flat.mp4"
        size = mib * MIB
        path.write_bytes(head + (8 + size).to_bytes(4, "big") + b"mdat")
        tail = root / "mdat.bin"
        write_random(tail, size, random.Random(7))
        with open(path, "ab") as out, open(tail, "rb") as body:
            shutil.copyfileobj(body, out, 1 << 20)
        tail.unlink()
        bundle = _ingest(custody, env, src, root / "b")
        package = root / "package"
        disclose = [
            *custody,
            "disclose",
            str(bundle),
            "-o",
            str(package),
            "--to",
            "Bench",
            "--strip-metadata",
            "flat.mp4",
        ]
        seconds, rss = run_timed(disclose, env=env)
        verify_s, verify_rss = run_timed([*custody, "verify", str(bundle), "-q"], env=env)
        package_s, package_rss = run_timed([*custody, "verify", str(package), "-q"], env=env)
        stripped = (package / "data/flat.mp4").stat().st_size
        kept = b"Shevchenka" not in (package / "data/flat.mp4").read_bytes()[: len(head)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"one MP4 of {mib} MiB, metadata stripped (copy {stripped} bytes, title gone: {kept})")
    print(f"  disclose --strip-metadata  {seconds:8.2f} s  peak RSS {rss / 1024:7.1f} MiB")
    print(
        f"  verify the package         {package_s:8.2f} s  peak RSS {package_rss / 1024:7.1f} MiB"
    )
    print(f"  verify the bundle          {verify_s:8.2f} s  peak RSS {verify_rss / 1024:7.1f} MiB")


def _ingest(custody: list[str], env: dict[str, str], src: Path, out: Path) -> Path:
    done = subprocess.run(
        [*custody, "ingest", str(src), "--case", "BENCH", "--out", str(out), "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(done.stdout)["bundle"])


if __name__ == "__main__":
    main()
