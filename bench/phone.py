"""Phone-scale metadata and extraction ingest, measured in one run (issue 26).

    python -m bench.phone [--photos 5000] [--members 100000] [--runs 3] [--dir /var/tmp]

1. Metadata of phone photos: --photos generated JPEGs with EXIF (capture time, device,
   GPS) ingested three ways in turns, run by run: the general EXIF path in one process
   (how custody read them before), the JPEG fast path (metadata/jpeg.py) in one process,
   and the fast path on every core (custody.base.processes). The ratios are the gain.
2. An extraction against the same files loose: a generated Cellebrite UFDR of --members
   members (report.xml plus files/<category>/..., one in ten a JPEG) ingested in place,
   against a plain folder of the same files. Both record the same metadata per file;
   the UFDR adds each member's device path and its members file.

Everything is generated deterministically in a temporary folder and read once before
timing (page cache). Prints medians and the fastest/slowest run of each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import custody.base.processes as processes
import custody.metadata.images as images
from custody.base.processes import map_ordered
from custody.bundle.write.records import _read_one
from custody.ops.writer import ingest
from extraction_tools import Item, jpeg_with_exif, report_xml


def make_photos(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        when = f"2022:{1 + i % 12:02d}:{1 + i % 28:02d} {i % 24:02d}:00:00"
        (folder / f"IMG_{i:06d}.jpg").write_bytes(jpeg_with_exif(when, seed=i))


def make_members(n: int) -> list[tuple[str, str, bytes]]:
    """(device path, category, bytes) of n phone files: one in ten a photo."""
    photo = jpeg_with_exif()
    out = []
    for i in range(n):
        if i % 10 == 0:
            out.append(
                (
                    f"/private/var/mobile/Media/DCIM/{i // 1000:03d}APPLE/IMG_{i:06d}.JPG",
                    "Image",
                    photo,
                )
            )
        else:
            out.append(
                (
                    f"/private/var/mobile/Library/f{i // 1000:03d}/note_{i:06d}.txt",
                    "Text",
                    b"%d\n" % i * 40,
                )
            )
    return out


def make_ufdr(path: Path, members: list[tuple[str, str, bytes]]) -> None:
    entries = [
        (Item(device, data, category), f"files\\{category}\\{i:06d}_{device.rsplit('/', 1)[-1]}")
        for i, (device, category, data) in enumerate(members)
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("report.xml", report_xml(entries))
        for item, local in entries:
            zf.writestr(local.replace("\\", "/"), item.data)


def make_folder(folder: Path, members: list[tuple[str, str, bytes]]) -> None:
    for i, (device, category, data) in enumerate(members):
        target = folder / category / f"{i // 1000:03d}" / f"{i:06d}_{device.rsplit('/', 1)[-1]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def warm(path: Path) -> None:
    for p in [path] if path.is_file() else path.rglob("*"):
        if p.is_file():
            p.read_bytes()


def timed(work: Path, source: Path, key: Ed25519PrivateKey, label: str) -> float:
    out = work / f"bundle-{label}"
    start = time.perf_counter()
    ingest(source=source, case="BENCH", signing_key=key, officer="Bench", out=out)
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed


def compare(
    name: str, runs: int, configs: dict[str, Callable[[], float]]
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {label: [] for label in configs}
    for _ in range(runs):
        for label, run in configs.items():  # in turns: a slow moment slows all alike
            times[label].append(run())
    base = statistics.median(next(iter(times.values())))
    print(f"\n{name}")
    for label, values in times.items():
        median = statistics.median(values)
        print(
            f"  {label:<42} {median:8.2f} s  (runs {min(values):.2f}–{max(values):.2f})"
            f"  {base / median:5.2f}× the first"
        )
    return times


def set_mode(fast: bool, workers: int | None) -> None:
    images.FAST_JPEG = fast
    processes.WORKERS = workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=5000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="custody-bench-phone-") as tmp:
        work = Path(tmp)
        photos = work / "photos"
        make_photos(photos, args.photos)
        warm(photos)

        def photos_with(fast: bool, workers: int | None, label: str) -> Callable[[], float]:
            def run() -> float:
                set_mode(fast, workers)
                return timed(work, photos, key, label)

            return run

        compare(
            f"1. ingest of {args.photos:,} JPEGs with EXIF (metadata read from the copies)",
            args.runs,
            {
                "general EXIF path, one process (before)": photos_with(False, 1, "slow"),
                "JPEG fast path, one process": photos_with(True, 1, "fast"),
                f"JPEG fast path, every core ({processes.process_workers()})": photos_with(
                    True, None, "pool"
                ),
            },
        )
        jobs = [
            (p.name, "0" * 64, p.stat().st_size, "image/jpeg") for p in sorted(photos.iterdir())
        ]
        siblings = frozenset(j[0] for j in jobs)

        def metadata_only(fast: bool, workers: int | None) -> Callable[[], float]:
            def run() -> float:
                set_mode(fast, workers)
                start = time.perf_counter()
                for _ in map_ordered(
                    _read_one, jobs, context=(photos, siblings, True), sized=len(jobs)
                ):
                    pass
                return time.perf_counter() - start

            return run

        compare(
            f"1b. the metadata of the same {args.photos:,} JPEGs alone (no copy, no signing)",
            args.runs,
            {
                "general EXIF path, one process (before)": metadata_only(False, 1),
                "JPEG fast path, one process": metadata_only(True, 1),
                f"JPEG fast path, every core ({processes.process_workers()})": metadata_only(
                    True, None
                ),
            },
        )
        set_mode(True, None)
        members = make_members(args.members)
        ufdr = work / "ufdr" / "W1.ufdr"
        ufdr.parent.mkdir()
        make_ufdr(ufdr, members)
        folder = work / "folder"
        make_folder(folder, members)
        del members
        warm(ufdr)
        warm(folder)
        compare(
            f"2. {args.members:,} phone files: a UFDR read in place against a plain folder",
            args.runs,
            {
                "plain folder of the same files": lambda: timed(work, folder, key, "folder"),
                "UFDR (members file, device paths)": lambda: timed(work, ufdr.parent, key, "ufdr"),
            },
        )


if __name__ == "__main__":
    main()
