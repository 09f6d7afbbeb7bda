"""The offline verifier page's speed against `custody verify`, measured in one run.

    python -m bench.verifier_page [--runs 3] [--scale 1.0] [--dir /var/tmp] [--only video|small]

Two bundles, generated deterministically: one 2 GiB video, and 10,000 small files
(1-64 KiB). Each is verified by `custody verify` and by the page written by
`custody verifier`, in a real headless Chromium (Debian's chromium and chromedriver),
as a folder and as a .zip; the runs take turns. Printed: medians, the page's speed as a
ratio of custody verify's (target: at least 0.1x), and the browser's peak memory (the
sum of the RSS of all its processes, sampled), which must stay flat on the 2 GiB file.
The page's own time (from the file input's change event to the verdict) is printed beside:
the rest is ChromeDriver handing the files to the input, which a person's picker does too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.run import MIB, officer_with_key, run_timed, warm, write_random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_page import Page, PeakSampler, browser, chromium_missing


def make_sets(root: Path, scale: float, only: str | None) -> dict[str, Path]:
    rng = random.Random(16)
    sets = {}
    if only in (None, "video"):
        video = root / "video"
        video.mkdir(parents=True)
        write_random(video / "VID_0001.mp4", int(2048 * MIB * scale), rng)
        sets["2 GiB video"] = video
    if only in (None, "small"):
        small = root / "small"
        for i in range(int(10_000 * scale)):
            folder = small / f"d{i // 500:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{i:05d}.bin").write_bytes(rng.randbytes(rng.randint(1024, 64 * 1024)))
        sets["10,000 small files"] = small
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--only", choices=("video", "small"), default=None)
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        raise SystemExit(f"bench.verifier_page: {missing}")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="custody-bench-page-") as tmp:
        root = Path(tmp)
        env, custody = officer_with_key(root)
        page_file = root / "verify-bundle.html"
        subprocess.run([*custody, "verifier", "-o", page_file], env=env, check=True)
        key = next((root / "home" / "keys").glob("*.pub"))
        sets = make_sets(root / "sources", args.scale, args.only)
        with browser() as driver:
            browser_pid = driver.service.process.pid
            for label, source in sets.items():
                bundle = root / f"bundle-{source.name}"
                ingest = [*custody, "ingest", source, "--case", "BENCH", "--no-metadata"]
                subprocess.run(
                    [*ingest, "--out", bundle],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                archive = root / f"{source.name}.zip"
                with zipfile.ZipFile(archive, "w") as zf:
                    for p in sorted(bundle.rglob("*")):
                        if p.is_file():
                            zf.write(p, p.relative_to(bundle).as_posix())
                bench_set(label, bundle, archive, key, env, custody, driver, browser_pid, args)


def bench_set(
    label: str,
    bundle: Path,
    archive: Path,
    key: Path,
    env: dict[str, str],
    custody: list[str],
    driver: object,
    browser_pid: int,
    args: argparse.Namespace,
) -> None:
    size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
    times: dict[str, list[float]] = {
        "custody verify": [],
        "page, folder": [],
        "page, zip": [],
    }
    peaks: dict[str, int] = {"page, folder": 0, "page, zip": 0}
    in_page: dict[str, list[float]] = {"page, folder": [], "page, zip": []}
    cli_rss = 0
    for _ in range(args.runs):
        warm(bundle)
        seconds, rss = run_timed(
            [*custody, "verify", str(bundle), "--trust", str(key), "--no-trust-store", "-q"],
            env=env,
        )
        times["custody verify"].append(seconds)
        cli_rss = max(cli_rss, rss)
        for name, target in (("page, folder", bundle), ("page, zip", archive)):
            warm(target)
            page = Page(driver, bundle.parent / "verify-bundle.html")
            page.trust_key_file(key)
            with PeakSampler(browser_pid) as sampler:
                start = time.perf_counter()
                result = page.verify(target, timeout=3600)
                times[name].append(time.perf_counter() - start)
            in_page[name].append(float(result.get("seconds") or 0))
            peaks[name] = max(peaks[name], sampler.peak)
            if not result.get("verified"):
                raise SystemExit(f"the page did not verify {target}: {json.dumps(result)[:500]}")
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["custody verify"]
    print(f"\n{label}: {size / MIB:,.0f} MiB payload, {args.runs} runs, medians")
    for name, seconds in med.items():
        ratio = base / seconds
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f} s"
        line = f"  {name:<16} {seconds:8.2f} s  ({spread})  {size / MIB / seconds:8.1f} MiB/s"
        if name != "custody verify":
            peak = peaks[name] / 1024
            inside = statistics.median(in_page[name])
            line += f"  {ratio:5.2f}x custody verify  browser peak RSS {peak:,.0f} MiB"
            line += f"  (in the page: {inside:.2f} s, {base / inside:.2f}x)"
        else:
            line += f"  peak RSS {cli_rss / 1024:,.0f} MiB"
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
