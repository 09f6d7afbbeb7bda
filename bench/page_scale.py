"""The verifier page on a .zip bundle of many small files: time and memory against the count.

    python -m bench.page_scale [--counts 10000,50000,100000] [--dir /var/tmp] [--keep DIR]

For each count, a bundle of that many 512-byte files in folders of 1,000
(bench.memory.make_small_files) is made by `custody ingest` and zipped as
bench.verifier_page zips it; the page written by `custody verifier` verifies the zip in
a fresh headless Chromium (Debian's chromium and chromedriver). Printed for each count:
the page's own reading time (from the file input's change event to the end of hashing;
the checks after it are not in it), the wall time from giving the file to the verdict
shown (reading and checks, and ChromeDriver handing over the file), the browser's
memory at rest with the page open, its peak while verifying (the sum of the RSS of all
its processes, sampled every 250 ms), and the growth above rest; then, against the
smallest count, the time per file ratio (1.00 is linear) and the growth of memory.
Issue 26's target: the growth above rest does not rise with the count beyond a fixed
overhead, and the time per file stays within 1.2x.

With --keep DIR the key, the page and the zips are kept in DIR and reused by the next
run (the sources and bundle folders are deleted once zipped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.memory import make_small_files
from bench.run import CUSTODY, MIB, officer_with_key

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_page import Page, PeakSampler, browser, chromium_missing, tree_rss_kib

# Only the summary crosses back from the page: the report's per-file table is not
# what is measured here.
SUMMARY = (
    "const r = window.custodyResult;"
    "return JSON.stringify(r && (r.error ? {error: r.error} : {verified: r.verified,"
    " files_checked: r.files_checked, problems: r.problems.slice(0, 5), seconds: r.seconds}));"
)


def officer(root: Path) -> tuple[dict[str, str], list[str]]:
    if (root / "home" / "keys").is_dir():
        env = {**os.environ, "CUSTODY_HOME": str(root / "home")}
        env.pop("CUSTODY_PASSPHRASE", None)
        return env, CUSTODY
    return officer_with_key(root)


def make_zip(root: Path, count: int, env: dict[str, str], custody: list[str]) -> Path:
    archive = root / f"small-{count}.zip"
    if archive.exists():
        return archive
    source = root / f"source-{count}"
    bundle = root / f"bundle-{count}"
    shutil.rmtree(source, ignore_errors=True)
    shutil.rmtree(bundle, ignore_errors=True)
    make_small_files(source, count)
    subprocess.run(
        [*custody, "ingest", source, "--case", "BENCH", "--no-metadata", "--out", bundle],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = archive.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as zf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(bundle).as_posix())
    partial.replace(archive)
    shutil.rmtree(source)
    shutil.rmtree(bundle)
    return archive


def measure(page_file: Path, key: Path, archive: Path) -> dict[str, Any]:
    with browser() as driver:
        pid = driver.service.process.pid
        page = Page(driver, page_file)
        page.trust_key_file(key)
        time.sleep(1.0)
        rest = tree_rss_kib(pid)
        driver.execute_script(
            "document.body.dataset.state = 'waiting'; window.custodyResult = null;"
        )
        with PeakSampler(pid) as sampler:
            start = time.perf_counter()
            driver.find_element("id", "bundle-zip").send_keys(str(archive))
            page.wait(lambda: page.state() in ("done", "error"), 7200)
            wall = time.perf_counter() - start
        result = json.loads(driver.execute_script(SUMMARY))
    if not result.get("verified"):
        raise SystemExit(f"the page did not verify {archive}: {json.dumps(result)[:500]}")
    return {
        "seconds": float(result["seconds"]),
        "wall": wall,
        "rest": rest,
        "peak": sampler.peak,
        "files": result["files_checked"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="10000,50000,100000")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    missing = chromium_missing()
    if missing:
        raise SystemExit(f"bench.page_scale: {missing}")
    tmp = None
    if args.keep is not None:
        root = args.keep
        root.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(dir=args.dir, prefix="custody-bench-page-scale-")
        root = Path(tmp.name)
    try:
        env, custody = officer(root)
        page_file = root / "verify-bundle.html"
        subprocess.run(
            [*custody, "verifier", "-o", page_file], env=env, check=True, stdout=subprocess.DEVNULL
        )
        key = next((root / "home" / "keys").glob("*.pub"))
        rows = []
        for count in counts:
            archive = make_zip(root, count, env, custody)
            row = measure(page_file, key, archive)
            row["count"] = count
            row["zip"] = archive.stat().st_size
            rows.append(row)
            print_row(row)
        print_ratios(rows)
    finally:
        if tmp is not None:
            tmp.cleanup()


def print_row(row: dict[str, Any]) -> None:
    growth = (row["peak"] - row["rest"]) / 1024
    print(
        f"{row['count']:>9,} files  zip {row['zip'] / MIB:7.1f} MiB  "
        f"reading {row['seconds']:7.2f} s, to the verdict {row['wall']:7.2f} s  "
        f"browser at rest {row['rest'] / 1024:5.0f} MiB, peak {row['peak'] / 1024:6.0f} MiB "
        f"(+{growth:,.0f} MiB)",
        flush=True,
    )


def print_ratios(rows: list[dict[str, Any]]) -> None:
    base = rows[0]
    per_file = base["seconds"] / base["count"]
    base_growth = max(base["peak"] - base["rest"], 1)
    print(f"\nagainst {base['count']:,} files (time per file ratio; 1.00 is linear):")
    wall_per_file = base["wall"] / base["count"]
    for row in rows[1:]:
        ratio = row["seconds"] / row["count"] / per_file
        wall = row["wall"] / row["count"] / wall_per_file
        growth = (row["peak"] - row["rest"]) / base_growth
        print(
            f"  {row['count']:>9,} files: {row['count'] / base['count']:5.1f}x the files, "
            f"time per file {ratio:4.2f}x reading, {wall:4.2f}x to the verdict; "
            f"memory growth above rest {growth:4.2f}x "
            f"({(row['peak'] - row['rest']) / 1024:,.0f} vs {base_growth / 1024:,.0f} MiB)"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
