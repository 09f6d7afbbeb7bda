"""Perceptual matching (`custody similar`): accuracy and speed, measured in one run.

    python -m bench.similar [--originals 20] [--videos 3] [--hashes 100000]
                            [--ingest-scale 0.25] [--runs 3] [--dir /var/tmp]

1. Images: real photos (../shared/corpus/exif-samples when present, then generated
   scenes), each transformed with ImageMagick (`convert`): recompression at several
   qualities, resizing, a messaging-app pipeline (long side 1600, quality 70, metadata
   stripped), grayscale, mirror, rotation by 90 degrees and by small angles, a caption
   bar, crops, a screenshot with borders, letterboxing. Prints the detection rate per
   transformation (distance <= 31 against any of the original's eight flipped and
   rotated variants, both qualities >= 50, as `custody similar` decides) and the false
   matches among every pair of items made from different originals.
2. Videos: ffmpeg's generated sources (testsrc2, mandelbrot, life, ...), re-encoded,
   scaled, trimmed, with a logo overlay, mirrored; detection by the rule of
   custody.similar.group (two matching frames).
3. The time to match --hashes hashes against each other (the multi-index of
   custody.similar.distance), with near copies planted.
4. Ingest of bench set 4 (bench/run.py) with the analysis against --no-similar,
   medians of --runs runs taken in turns: the ratio.

ImageMagick and ffmpeg make the test set only; custody never calls them.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custody.similar import MATCH_DISTANCE, MIN_QUALITY
from custody.similar.analyse import analyse_file
from custody.similar.distance import near_pairs, pack
from custody.similar.document import Analysis, Frame
from custody.similar.group import Item, detect_pairs

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "exif-samples"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/exif-samples")

# name -> ImageMagick arguments between input and output (listed in the issue, and more)
IMAGE_TRANSFORMS: dict[str, list[str]] = {
    "recompress q90": ["-quality", "90"],
    "recompress q70": ["-quality", "70"],
    "recompress q50": ["-quality", "50"],
    "recompress q30": ["-quality", "30"],
    "resize 50%": ["-resize", "50%"],
    "resize 25%": ["-resize", "25%"],
    "messaging (1600px, q70, stripped)": ["-resize", "1600x1600>", "-quality", "70", "-strip"],
    "grayscale": ["-colorspace", "Gray"],
    "mirror": ["-flop"],
    "rotate 90": ["-rotate", "90"],
    "rotate 3 degrees": ["-background", "white", "-rotate", "3"],
    "rotate 10 degrees": ["-background", "white", "-rotate", "10"],
    "caption bar": [
        "-gravity",
        "south",
        "-background",
        "black",
        "-splice",
        "0x{h12}",
        "-font",
        "DejaVu-Sans",
        "-fill",
        "white",
        "-pointsize",
        "{h6}",
        "-annotate",
        "+0+10",
        "Forwarded many times",
    ],
    "crop 10% each side": ["-gravity", "center", "-crop", "80%x80%+0+0", "+repage"],
    "crop to a quarter": ["-gravity", "northwest", "-crop", "50%x50%+0+0", "+repage"],
    "screenshot with borders": [
        "-bordercolor",
        "white",
        "-border",
        "8%x30%",
        "-gravity",
        "north",
        "-background",
        "#202020",
        "-splice",
        "0x60",
    ],
    "letterbox": ["-background", "black", "-gravity", "center", "-extent", "{w}x{h18}"],
}
TARGET = ("recompress", "resize", "messaging", "mirror")
"""Transformations the issue asks to be detected at 95% or more."""

VIDEO_SOURCES = [
    "testsrc2",
    "life=mold=10:ratio=0.5:death_color=#c83232",
    "mandelbrot",
    "cellauto=rule=110",
]
VIDEO_TRANSFORMS: dict[str, list[str]] = {
    "re-encode (crf 35)": ["-c:v", "libx264", "-crf", "35"],
    "scale 50%": ["-vf", "scale=iw/2:-2", "-c:v", "libx264", "-crf", "28"],
    "trim (seconds 3-9)": ["-ss", "3", "-t", "6", "-c:v", "libx264", "-crf", "23"],
    "logo overlay": [
        "-vf",
        "drawbox=x=iw*0.7:y=ih*0.05:w=iw*0.25:h=ih*0.15:color=red@0.8:t=fill",
        "-c:v",
        "libx264",
        "-crf",
        "23",
    ],
    "mirror": ["-vf", "hflip", "-c:v", "libx264", "-crf", "23"],
    "turned 90 degrees (on its side)": ["-vf", "transpose=1", "-c:v", "libx264", "-crf", "23"],
    "turned 180 degrees": ["-vf", "hflip,vflip", "-c:v", "libx264", "-crf", "23"],
}


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def originals(folder: Path, count: int) -> list[Path]:
    """Real photos first (reduced to at most 2048 pixels a side, metadata kept), then
    generated scenes."""
    folder.mkdir()
    out: list[Path] = []
    photos = sorted(CORPUS.rglob("*.jpg")) if CORPUS.is_dir() else []
    # orientation/ holds one landscape and one portrait photo, each under all eight EXIF
    # orientations: the same pictures, so only one of each is an original here.
    photos = [p for p in photos if p.parent.name != "orientation" or p.stem.endswith("_1")]
    for p in photos[:count]:
        target = folder / f"photo-{len(out):03d}.jpg"
        run(
            [
                "convert",
                str(p),
                "-auto-orient",
                "-resize",
                "2048x2048>",
                "-quality",
                "92",
                str(target),
            ]
        )
        out.append(target)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from similar_media import jpeg, scene

    seed = 100
    while len(out) < count:
        target = folder / f"scene-{len(out):03d}.jpg"
        target.write_bytes(jpeg(scene(seed, (1600, 1200)), 92))
        out.append(target)
        seed += 1
    return out


def analyse(path: Path, kind: str = "image") -> Analysis:
    return analyse_file(path, rel_path=path.name, sha256=path.name, kind=kind)


def min_distance(a: Analysis, b: Analysis) -> int | None:
    if a.pdq is None or b.pdq is None:
        return None
    _, _, ds = near_pairs(pack(list(a.dihedral)), pack([b.pdq]), 256)
    return int(ds.min()) if len(ds) else None


def bench_images(root: Path, count: int) -> None:
    sources = originals(root / "originals", count)
    print(
        f"Images: {len(sources)} originals "
        f"({sum(1 for s in sources if s.name.startswith('photo'))} real photos), "
        f"{len(IMAGE_TRANSFORMS)} transformations each"
    )
    made = root / "variants"
    made.mkdir()
    analysed: dict[tuple[int, str], Analysis] = {}
    from PIL import Image

    for i, src in enumerate(sources):
        analysed[(i, "original")] = analyse(src)
        with Image.open(src) as im:
            w, h = im.size
        sizes = {"w": w, "h": h, "h12": h * 12 // 100, "h6": h * 6 // 100, "h18": h * 18 // 10}
        for name, args in IMAGE_TRANSFORMS.items():
            target = made / f"{i:03d}-{name.replace(' ', '_').replace('%', 'pc')}.jpg"
            run(["convert", str(src), *(a.format(**sizes) for a in args), str(target)])
            analysed[(i, name)] = analyse(target)
    print(f"{'transformation':<36} {'detected':>9} {'rate':>6} {'median d':>9}")
    misses: list[str] = []
    for name in IMAGE_TRANSFORMS:
        hits, ds = 0, []
        for i in range(len(sources)):
            a, b = analysed[(i, "original")], analysed[(i, name)]
            d = min_distance(a, b)
            ok = (
                d is not None
                and d <= MATCH_DISTANCE
                and (a.quality or 0) >= MIN_QUALITY
                and (b.quality or 0) >= MIN_QUALITY
            )
            hits += ok
            if not ok and name.startswith(TARGET):
                misses.append(
                    f"  missed: {sources[i].name} {name}: distance {d}, "
                    f"quality {a.quality} and {b.quality}"
                )
            if d is not None:
                ds.append(d)
        rate = hits / len(sources)
        flag = "  (target >= 95%)" if name.startswith(TARGET) else ""
        med = statistics.median(ds) if ds else float("nan")
        print(f"{name:<36} {hits:>4}/{len(sources):<4} {rate:>6.0%} {med:>9.0f}{flag}")
    for line in misses:
        print(line)
    # False matches: every pair of items made from different originals.
    keys = [k for k, a in analysed.items() if a.pdq is not None]
    items = [
        Item(
            "b",
            "id",
            "C",
            None,
            "o",
            "t",
            f"{k[0]}/{k[1]}",
            f"{k[0]}/{k[1]}",
            0,
            None,
            "image/jpeg",
            analysed[k],
        )
        for k in keys
    ]
    pairs = detect_pairs(items)
    unrelated = sum(
        1 for x in range(len(keys)) for y in range(x + 1, len(keys)) if keys[x][0] != keys[y][0]
    )
    false = [p for p in pairs if keys[p.a][0] != keys[p.b][0]]
    print(f"False matches among {unrelated:,} pairs from different originals: {len(false)}")
    for p in false[:10]:
        print(f"  {keys[p.a]} ~ {keys[p.b]}: distance {p.distance}")


def bench_videos(root: Path, count: int) -> None:
    folder = root / "videos"
    folder.mkdir()
    sources = []
    for i, lavfi in enumerate(VIDEO_SOURCES[:count]):
        target = folder / f"source-{i}.mp4"
        spec = f"{lavfi}{':' if '=' in lavfi else '='}size=640x360:rate=25"
        run(
            [
                "ffmpeg",
                "-y",
                "-f",
                "lavfi",
                "-i",
                spec,
                "-t",
                "12",
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-crf",
                "18",
                str(target),
            ]
        )
        sources.append(target)
    print(
        f"\nVideos: {len(sources)} ffmpeg-generated sources of 12 s "
        f"({', '.join(s.split('=')[0] for s in VIDEO_SOURCES[:count])})"
    )
    items: list[Item] = []
    labels: list[tuple[int, str]] = []
    for i, src in enumerate(sources):
        variants = {"original": src}
        for name, args in VIDEO_TRANSFORMS.items():
            target = folder / f"{i}-{name.split(' ')[0]}.mp4"
            run(["ffmpeg", "-y", "-i", str(src), *args, "-pix_fmt", "yuv420p", str(target)])
            variants[name] = target
        for name, path in variants.items():
            a = analyse(path, "video")
            items.append(
                Item("b", "id", "C", None, "o", "t", path.name, path.name, 0, None, "video/mp4", a)
            )
            labels.append((i, name))
    pairs = {(p.a, p.b) for p in detect_pairs(items)}
    print(f"{'transformation':<36} {'detected':>9}")
    missed: list[str] = []
    for name in VIDEO_TRANSFORMS:
        hits = 0
        for i in range(len(sources)):
            a, b = labels.index((i, "original")), labels.index((i, name))
            found = (min(a, b), max(a, b)) in pairs
            hits += found
            if not found:
                source = VIDEO_SOURCES[i].split("=")[0]
                missed.append(f"  missed: {source} {name}")
        print(f"{name:<36} {hits:>4}/{len(sources)}")
    for line in missed:
        print(line)
    false = sum(1 for a, b in pairs if labels[a][0] != labels[b][0])
    unrelated = sum(
        1
        for x in range(len(labels))
        for y in range(x + 1, len(labels))
        if labels[x][0] != labels[y][0]
    )
    print(f"False matches among {unrelated} pairs of videos from different sources: {false}")
    # The same items with each frame's turns left out (as analyses made before them).
    from dataclasses import replace

    plain = [
        replace(
            it,
            analysis=replace(
                it.analysis, frames=tuple(replace(f, turned=()) for f in it.analysis.frames)
            ),
        )
        if it.analysis is not None
        else it
        for it in items
    ]
    without = {(p.a, p.b) for p in detect_pairs(plain)}
    for name in VIDEO_TRANSFORMS:
        if name.startswith("turned"):
            hits = sum(
                (min(x, y), max(x, y)) in without
                for i in range(len(sources))
                for x, y in [(labels.index((i, "original")), labels.index((i, name)))]
            )
            print(f"without the frames' turns: {name} {hits}/{len(sources)}")


def bench_matching(count: int) -> None:
    rng = random.Random(1)
    hexes = [rng.randbytes(32).hex() for _ in range(count)]
    for k in range(0, count, 100):  # 1% near copies, 0-31 bits away
        value = int(hexes[k], 16)
        for b in rng.sample(range(256), rng.randrange(32)):
            value ^= 1 << b
        hexes[k + 1] = f"{value:064x}"
    words = pack(hexes)
    start = time.perf_counter()
    qs, ts, _ = near_pairs(words, words)
    seconds = time.perf_counter() - start
    found = int((qs != ts).sum()) // 2
    print(
        f"\nMatching {count:,} hashes against each other: {seconds:.1f} s "
        f"({found:,} near pairs found, {count // 100:,} planted)"
    )


def bench_frame_turns(videos: int, runs: int) -> None:
    """What keeping each frame's turns (90, 180, 270 degrees) costs in matching:
    `videos` videos of 120 frames, their frames' hashes random except one
    re-upload on its side per 20 videos; detect_pairs with the turns against
    the same frames without them (hashing costs nothing more: pdqhash computes
    the eight variants from one DCT)."""
    from dataclasses import replace

    rng = random.Random(2)

    def near(h: str) -> str:
        value = int(h, 16)
        for b in rng.sample(range(256), 10):
            value ^= 1 << b
        return f"{value:064x}"

    def video(n: int, frames: list[Frame]) -> Item:
        a = Analysis(f"v{n}.mp4", f"{n:064x}", "video", frames=tuple(frames), duration_ms=120_000)
        return Item("b", "id", "C", None, "o", "t", a.path, a.sha256, 0, None, "video/mp4", a)

    items: list[Item] = []
    for n in range(videos):
        frames = [
            Frame(
                k * 1000,
                rng.randbytes(32).hex(),
                90,
                rng.randbytes(32).hex(),
                tuple(rng.randbytes(32).hex() for _ in range(3)),
            )
            for k in range(120)
        ]
        if n % 20 == 1:  # a re-upload of the previous video, turned on its side
            frames = [
                Frame(
                    f.t_ms,
                    near(g.turned[0]),
                    90,
                    rng.randbytes(32).hex(),
                    (rng.randbytes(32).hex(), rng.randbytes(32).hex(), near(g.pdq)),
                )
                for f, g in zip(frames, items[-1].analysis.frames, strict=True)
            ]
        items.append(video(n, frames))
    plain = [
        replace(
            it,
            analysis=replace(
                it.analysis, frames=tuple(replace(f, turned=()) for f in it.analysis.frames)
            ),
        )
        for it in items
    ]
    timings: dict[str, list[float]] = {"with": [], "without": []}
    found: dict[str, int] = {}
    for _ in range(runs):
        for label, pool in (("without", plain), ("with", items)):
            start = time.perf_counter()
            pairs = detect_pairs(pool)
            timings[label].append(time.perf_counter() - start)
            found[label] = len(pairs)
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(
        f"\nVideo frames turned by 90/180/270 degrees ({videos} videos x 120 frames, "
        f"medians of {runs}): matching {med['with']:.2f} s with the turns against "
        f"{med['without']:.2f} s without ({med['with'] / med['without']:.2f}x); "
        f"re-uploads on their side found {found['with']} with, {found['without']} without "
        f"(planted {len(range(1, videos, 20))})"
    )


def bench_ingest(root: Path, scale: float, runs: int) -> None:
    from bench.run import make_set, officer_with_key

    src = make_set(4, root, scale)
    env, custody = officer_with_key(root)
    timings: dict[str, list[float]] = {"with analysis": [], "--no-similar": []}
    for n in range(runs):
        for name, extra in (("with analysis", []), ("--no-similar", ["--no-similar"])):
            case = f"BENCH-{n}-{len(timings[name])}-{extra[0] if extra else 'with'}"
            out = root / "out"
            shutil.rmtree(out, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            start = time.perf_counter()
            subprocess.run(
                [*custody, "ingest", str(src), "--case", case, "--out", str(out), *extra],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            timings[name].append(time.perf_counter() - start)
    a, b = (statistics.median(timings[k]) for k in ("with analysis", "--no-similar"))
    files = len(list(src.iterdir()))
    print(
        f"\nIngest of set 4 ({files} files, scale {scale}), medians of {runs}: "
        f"with analysis {a:.2f} s, --no-similar {b:.2f} s: {a / b:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--originals", type=int, default=20)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--ingest-scale", type=float, default=0.25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--turn-videos", type=int, default=400)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--only", choices=["images", "videos", "matching", "ingest"])
    args = parser.parse_args()
    for tool in ("convert", "ffmpeg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench.similar needs {tool} to make its test set")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        if args.only in (None, "images"):
            bench_images(root, args.originals)
        if args.only in (None, "videos"):
            bench_videos(root, args.videos)
        if args.only in (None, "matching"):
            bench_matching(args.hashes)
            bench_frame_turns(args.turn_videos, args.runs)
        if args.only in (None, "ingest"):
            (root / "ingest").mkdir()
            bench_ingest(root / "ingest", args.ingest_scale, args.runs)


if __name__ == "__main__":
    main()
