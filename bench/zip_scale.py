"""Zips of many members read in flat memory (issue 26, items 1 and 3), measured in one run.

    python -m bench.zip_scale [--counts 10000,100000,300000] [--dir /var/tmp] [--no-bundle-zip]

For each count N, in one run:

1. a generated Cellebrite UFDR of N members (report.xml plus files/<category>/..., stored,
   ZIP64 past 65,535 members) ingested in place: `custody ingest W1.ufdr`, then
   `custody verify` of the bundle made;
2. a bundle of N small files, zipped (as a clerk would hand it over), verified as a zip:
   `custody verify bundle.zip` (this also measures the bundle scan and the manifest
   checks, which other parts of the code own);
3. the zip layer alone on that bundle zip, in a fresh process: the zip rules
   (check_archive), the rules and the scan (scan_zip, whose BundleScan keeps one entry per
   file: that part is not this reader's), against Python's zipfile listing the same zip
   (`ZipFile(...).infolist()`), which is how both were read before.

Prints wall time and peak RSS (ru_maxrss of the process and its workers) of each, and the
ratios between counts: memory should stay flat, time grow linearly. The data are generated
in child processes: Linux keeps a process's peak RSS across fork and exec, so a benchmark
that built a large zip in itself would see its own peak in every command it measures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.run import officer_with_key, run_timed

REPORT_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<project id="p1" name="Witness W1" reportVersion="7.60.0.0" '
    'xmlns="http://pa.cellebrite.com/report/2.0">\n'
    '<sourceExtractions><extractionInfo id="0" name="File System" type="FileSystem"/>'
    "</sourceExtractions>\n<taggedFiles>\n"
)
CATEGORIES = ("Image", "Text", "Audio", "Other")


def member(i: int) -> tuple[str, str, bytes]:
    """(device path, stored name, bytes) of member i."""
    category = CATEGORIES[i % len(CATEGORIES)]
    device = f"/private/var/mobile/Media/f{i // 1000:04d}/item_{i:07d}.bin"
    stored = f"files/{category}/{i // 1000:04d}/item_{i:07d}.bin"
    return device, stored, b"%d\n" % i * (1 + i % 7)


def make_ufdr(path: Path, count: int) -> None:
    """A UFDR of `count` members, report.xml written first and streamed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open("report.xml", "w", force_zip64=True) as report:
            report.write(REPORT_HEAD.encode())
            for i in range(count):
                device, stored, data = member(i)
                local = stored.replace("/", "\\")
                report.write(
                    (
                        f'<file fs="Apple File System" path="{device}" size="{len(data)}" '
                        f'id="f{i}" extractionId="0" deleted="Intact"><accessInfo>'
                        '<timestamp name="ModifyTime">2022-02-25T10:00:00+02:00</timestamp>'
                        f'</accessInfo><metadata section="File"><item name="Local Path">'
                        f'<![CDATA[{local}]]></item><item name="SHA256">'
                        f"{hashlib.sha256(data).hexdigest()}</item></metadata></file>\n"
                    ).encode()
                )
            report.write(b"</taggedFiles>\n</project>\n")
        for i in range(count):
            _, stored, data = member(i)
            zf.writestr(stored, data)


def make_tree(folder: Path, count: int) -> None:
    for i in range(count):
        sub = folder / f"d{i // 1000:04d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"f{i:07d}.txt").write_bytes(b"%d\n" % i)


def zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath) / name
                zf.write(full, f"bundle/{full.relative_to(folder).as_posix()}")


LAYER = """
import sys, time
from pathlib import Path
path = Path(sys.argv[1])
start = time.perf_counter()
if sys.argv[2] in ("check", "scan"):
    from custody.bundle.read.archive_checks import check_archive
    from custody.bundle.read.archives import scan_zip
    assert check_archive(path) == "zip"
    n = len(scan_zip(path, None).files) if sys.argv[2] == "scan" else 0
else:
    import zipfile
    with zipfile.ZipFile(path) as zf:
        n = len(zf.infolist())
print(n, time.perf_counter() - start)
"""


def make(what: str, n: int, path: Path, env: dict[str, str]) -> None:
    """Generate in a child process (see the module docstring)."""
    subprocess.run(
        [sys.executable, "-m", "bench.zip_scale", "--make", what, str(n), str(path)],
        env=env,
        check=True,
    )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--make":
        what, n, path = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
        if what == "ufdr":
            make_ufdr(path, n)
        elif what == "tree":
            make_tree(path, n)
        else:
            zip_folder(Path(str(path) + ".folder"), path)
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="10000,100000,300000")
    parser.add_argument("--dir", default=None, help="where to build the data (default: $TMPDIR)")
    parser.add_argument("--no-bundle-zip", action="store_true", help="only the UFDR part")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    root = Path(tempfile.mkdtemp(prefix="custody-bench-zip-", dir=args.dir))
    env, custody = officer_with_key(root)
    rows: dict[str, list[tuple[int, float, int]]] = {}

    def record(label: str, n: int, seconds: float, kib: int) -> None:
        rows.setdefault(label, []).append((n, seconds, kib))
        print(f"  {label:<44} {n:>9,}  {seconds:8.1f} s  {kib / 1024:7.0f} MiB", flush=True)

    print(f"custody zip scale benchmark: {os.cpu_count()} cores; data in {root}")
    try:
        for n in counts:
            work = root / str(n)
            (work / "src").mkdir(parents=True)
            ufdr = work / "src" / "W1.ufdr"
            make("ufdr", n, ufdr, env)
            bundle = work / "ufdr-bundle"
            s, kib = run_timed(
                [*custody, "ingest", str(ufdr), "--case", "BENCH", "--out", str(bundle)], env=env
            )
            record("ingest W1.ufdr (in place)", n, s, kib)
            s, kib = run_timed([*custody, "verify", str(bundle)], env=env)
            record("verify its bundle", n, s, kib)
            shutil.rmtree(bundle)
            ufdr.unlink()
            if args.no_bundle_zip:
                continue
            tree = work / "tree"
            make("tree", n, tree, env)
            folder = work / "bundle"
            run_timed(
                [*custody, "ingest", str(tree), "--case", "BENCH", "--out", str(folder)], env=env
            )
            shutil.rmtree(tree)
            archive = work / "bundle.zip"
            folder.rename(work / "bundle.zip.folder")
            folder = work / "bundle.zip.folder"
            make("zip", n, archive, env)
            shutil.rmtree(folder)
            s, kib = run_timed([*custody, "verify", str(archive)], env=env)
            record("verify bundle.zip", n, s, kib)
            for how, label in (
                ("check", "zip layer: the zip rules (check_archive)"),
                ("scan", "zip layer: rules + scan_zip (with BundleScan)"),
                ("zipfile", "zip layer: zipfile infolist (before)"),
            ):
                s, kib = run_timed([sys.executable, "-c", LAYER, str(archive), how], env=env)
                record(label, n, s, kib)
            shutil.rmtree(work)
        print("\nratios to the smallest count (memory flat = 1.0; time linear = count ratio)")
        for label, values in rows.items():
            n0, s0, k0 = values[0]
            for n, s, k in values[1:]:
                print(
                    f"  {label:<44} {n / n0:6.1f}× members: time {s / max(s0, 1e-9):6.2f}×, "
                    f"peak RSS {k / k0:5.2f}×"
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
