"""Analysis of one file: the PDQ hash of an image (with its eight flipped and
rotated variants), or of about one frame a second of a video.

Decoding uses Pillow (images) and PyAV (video, FFmpeg inside its wheels);
hashing uses the `pdqhash` package, Meta's PDQ code. All three come with the
optional extra `custody[similar]`; without it every image and video is
recorded as not analysed, with that reason. Hostile files cannot take
unbounded memory or time: the pixels of an image and of a video frame, the
frames decoded and the seconds spent are capped, and whatever goes wrong is
recorded as the reason the file was not analysed, never raised.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from custody.similar.document import Analysis, Frame

MAX_IMAGE_PIXELS = 100_000_000
"""An image with more pixels is not decoded (a 100-megapixel camera is the largest common)."""
MAX_FULL_DECODE_PIXELS = 50_000_000
"""A picture that cannot be decoded at a reduced scale (anything but JPEG) is decoded
whole: above this many pixels (150 MB of RGB) it is not analysed, so memory stays bounded."""
MAX_FRAME_PIXELS = 8192 * 4352
"""A video frame larger than 8K is not decoded."""
HASH_SIDE = 512
"""Images and frames are reduced to at most this many pixels a side before hashing,
as Meta recommends for PDQ: the hash is taken on a 64x64 reduction anyway."""
FRAME_INTERVAL_MS = 1000
MAX_FRAMES = 120
"""At most this many frames of a video are hashed: a longer video is sampled more sparsely."""
SEEK_INTERVAL_MS = 4000
"""At or above this sampling interval each sample is reached by seeking, not decoding through."""
MAX_DECODED_FRAMES = 200_000
TIME_LIMIT_S = 30.0
"""Seconds one video may take; the frames hashed by then are kept and the cut is noted."""

MISSING_EXTRA = "perceptual analysis is not installed (pip install 'custody[similar]')"
SWITCHED_OFF = "analysis was switched off (--no-similar or --no-metadata)"
HEIC_MISSING = "HEIC decoder not installed (pip install 'custody[similar]')"
NEVER_TRIED = (MISSING_EXTRA, SWITCHED_OFF)
"""Reasons that say nothing about the file: `custody similar` analyses such files again."""
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".bmp", ".tif")
_VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".3gp", ".mkv", ".webm", ".avi")


def missing_dependency() -> str | None:
    """None when the optional extra is importable, else the reason to record."""
    try:
        import av  # noqa: F401
        import numpy  # noqa: F401
        import pdqhash  # noqa: F401
        import PIL  # noqa: F401
    except ImportError:
        return MISSING_EXTRA
    return None


def algorithm() -> str:
    """The name and version of the hashing code, recorded with the results."""
    try:
        from importlib.metadata import version

        return f"PDQ (pdqhash {version('pdqhash')}); video frames decoded by PyAV {version('av')}"
    except Exception:
        return "PDQ"


def kind_of(mime: str | None, path: str = "") -> str | None:
    """The kind, "image" or "video", or None (not a file this analysis reads).
    A file whose bytes show no type (an empty or damaged one) goes by its
    extension, so that it is recorded as not analysed rather than left out."""
    if mime is None:
        lower = path.lower()
        if lower.endswith(_IMAGE_EXTENSIONS):
            return "image"
        if lower.endswith(_VIDEO_EXTENSIONS):
            return "video"
        return None
    family = mime.split("/")[0]
    if family == "image" and mime != "image/svg+xml":
        return "image"
    if family == "video":
        return "video"
    return None


def analyse_file(path: Path, *, rel_path: str, sha256: str, kind: str) -> Analysis:
    """Analyse one file. Never raises for a bad file: the reason is recorded."""
    reason = missing_dependency()
    if reason is not None:
        return Analysis(rel_path, sha256, kind, not_analysed=reason)
    try:
        if path.stat().st_size == 0:
            return Analysis(rel_path, sha256, kind, not_analysed="empty file")
        if kind == "image":
            return _analyse_image(path, rel_path, sha256)
        return _analyse_video(path, rel_path, sha256)
    except MemoryError:
        return Analysis(rel_path, sha256, kind, not_analysed="too large to decode")
    except RecursionError:
        return Analysis(rel_path, sha256, kind, not_analysed="structure nested too deeply")
    except Exception as e:  # decoders fail in every way on hostile files
        return Analysis(rel_path, sha256, kind, not_analysed=_describe(e, path))


def _describe(e: BaseException, path: Path) -> str:
    """The reason, without the file's path on this machine (a bundle's temporary
    folder at ingest): the same file always gives the same record."""
    strerror = getattr(e, "strerror", None)
    text = strerror if isinstance(strerror, str) and strerror else str(e)
    text = text.replace(str(path), "").replace(os.fspath(path.name), "")
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    text = " ".join(text.replace("''", "").split()).rstrip(":")[:200]
    name = type(e).__name__
    return f"cannot decode: {name}: {text}" if text else f"cannot decode: {name}"


def hash_hex(bits: Any) -> str:
    """The 256 bits pdqhash returns (bit 0 first) as 64 hex digits, bit 255 first."""
    import numpy as np

    packed = np.packbits(np.asarray(bits, dtype=np.uint8)[::-1])
    return bytes(packed).hex()


_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_heif_lock = threading.Lock()
_heif_ready: list[bool] = []


def _is_heif(path: Path) -> bool:
    """A HEIF/HEIC file by its ISO-BMFF `ftyp` box (major brand)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def heif_decoder() -> bool:
    """Pillow reads HEIF/HEIC through pi-heif (in the extra: pillow-heif's
    decode-only build, whose wheels carry no GPL encoder) or pillow-heif when
    that is what is installed, registered here, the first time a HEIF file is
    analysed, not when custody starts: only the primary image is decoded (no
    thumbnails, depth or auxiliary images), with libheif's security limits on."""
    import importlib

    with _heif_lock:
        if not _heif_ready:
            for module in ("pi_heif", "pillow_heif"):
                try:
                    plugin = importlib.import_module(module)
                except ImportError:
                    continue
                plugin.register_heif_opener(
                    thumbnails=False, depth_images=False, aux_images=False, decode_threads=1
                )
                _heif_ready.append(True)
                break
            else:
                _heif_ready.append(False)
        return _heif_ready[0]


def _analyse_image(path: Path, rel_path: str, sha256: str) -> Analysis:
    import warnings

    import numpy as np
    import pdqhash
    from PIL import Image, ImageOps

    if _is_heif(path) and not heif_decoder():
        return Analysis(rel_path, sha256, "image", not_analysed=HEIC_MISSING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's decompression-bomb and EXIF warnings
        try:
            opened = Image.open(path)
        except Image.DecompressionBombError:
            too_large = f"image too large to decode (more than {MAX_IMAGE_PIXELS:,} pixels)"
            return Analysis(rel_path, sha256, "image", not_analysed=too_large)
        with opened as im:
            width, height = im.size
            if width <= 0 or height <= 0:
                return Analysis(rel_path, sha256, "image", not_analysed="image has no pixels")
            if width * height > MAX_IMAGE_PIXELS:
                return Analysis(
                    rel_path,
                    sha256,
                    "image",
                    not_analysed=f"image too large to decode ({width}x{height} pixels)",
                    width=width,
                    height=height,
                )
            if im.format != "JPEG" and width * height > MAX_FULL_DECODE_PIXELS:
                return Analysis(
                    rel_path,
                    sha256,
                    "image",
                    not_analysed=f"image too large to decode ({width}x{height} pixels)",
                    width=width,
                    height=height,
                )
            if im.format == "JPEG":
                im.draft("RGB", (HASH_SIDE, HASH_SIDE))  # decode at 1/2, 1/4 or 1/8 scale
            im.seek(0)  # the first frame of an animation
            shown = ImageOps.exif_transpose(im)  # the picture as it is shown
            rgb = _rgb(shown)
            rgb.thumbnail((HASH_SIDE, HASH_SIDE), Image.Resampling.BILINEAR)
            pixels = np.asarray(rgb, dtype=np.uint8)
    hashes, quality = pdqhash.compute_dihedral(pixels)
    variants = tuple(hash_hex(h) for h in hashes)
    return Analysis(
        rel_path,
        sha256,
        "image",
        pdq=variants[0],
        quality=int(quality),
        dihedral=variants,
        width=width,
        height=height,
    )


def _rgb(im: Any) -> Any:
    """RGB pixels; transparency is laid on white, as a viewer shows it."""
    from PIL import Image

    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _analyse_video(path: Path, rel_path: str, sha256: str) -> Analysis:
    import av

    deadline = time.monotonic() + TIME_LIMIT_S
    with av.open(str(path), mode="r", timeout=TIME_LIMIT_S) as container:
        if not container.streams.video:
            return Analysis(rel_path, sha256, "video", not_analysed="no video stream")
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width * height > MAX_FRAME_PIXELS:
            return Analysis(
                rel_path,
                sha256,
                "video",
                not_analysed=f"video frames too large to decode ({width}x{height} pixels)",
                width=width,
                height=height,
            )
        duration_ms = _duration_ms(container, stream)
        interval = FRAME_INTERVAL_MS
        if duration_ms is not None and duration_ms > FRAME_INTERVAL_MS * MAX_FRAMES:
            interval = -(-duration_ms // MAX_FRAMES)
        notes: list[str] = []
        if interval >= SEEK_INTERVAL_MS and duration_ms is not None:
            frames = _sample_by_seeking(container, stream, interval, duration_ms, deadline, notes)
        else:
            frames = _sample_in_order(container, stream, interval, deadline, notes)
    if not frames:
        return Analysis(
            rel_path,
            sha256,
            "video",
            not_analysed="no decodable frame" + (f" ({notes[0]})" if notes else ""),
            width=width or None,
            height=height or None,
        )
    return Analysis(
        rel_path,
        sha256,
        "video",
        frames=tuple(frames),
        duration_ms=duration_ms,
        frames_capped=interval > FRAME_INTERVAL_MS,
        width=width or None,
        height=height or None,
        notes=tuple(notes),
    )


def _duration_ms(container: Any, stream: Any) -> int | None:
    if stream.duration is not None and stream.time_base is not None:
        return max(0, int(stream.duration * stream.time_base * 1000))
    if container.duration is not None:
        return max(0, int(container.duration // 1000))  # microseconds
    return None


def _frame_ms(frame: Any, stream: Any) -> int | None:
    if frame.pts is None or frame.time_base is None:
        return None
    start = stream.start_time or 0
    return max(0, int((frame.pts - start) * frame.time_base * 1000))


def _hash_frame(frame: Any, t_ms: int) -> Frame:
    import pdqhash

    w, h = int(frame.width), int(frame.height)
    if w <= 0 or h <= 0 or w * h > MAX_FRAME_PIXELS:
        raise ValueError(f"frame of {w}x{h} pixels")
    scale = min(1.0, HASH_SIDE / max(w, h))
    pixels = frame.to_ndarray(
        width=max(1, round(w * scale)), height=max(1, round(h * scale)), format="rgb24"
    )
    # The dihedral variants cost no more than the hash (they come from the same DCT).
    # A frame keeps the left-right mirror (index 5 in pdqhash's order) and the turns by
    # 90, 180 and 270 degrees (indexes 1-3): a video re-uploaded flipped or on its side.
    variants, quality = pdqhash.compute_dihedral(pixels)
    turned = (hash_hex(variants[1]), hash_hex(variants[2]), hash_hex(variants[3]))
    return Frame(t_ms, hash_hex(variants[0]), int(quality), hash_hex(variants[5]), turned)


def _sample_in_order(
    container: Any, stream: Any, interval: int, deadline: float, notes: list[str]
) -> list[Frame]:
    frames: list[Frame] = []
    next_ms = 0
    decoded = 0
    try:
        for frame in container.decode(stream):
            decoded += 1
            if decoded > MAX_DECODED_FRAMES or len(frames) >= MAX_FRAMES:
                notes.append(f"stopped after {decoded - 1} frames")
                break
            if time.monotonic() > deadline:
                notes.append(f"stopped after {TIME_LIMIT_S:g} s at {next_ms} ms")
                break
            t_ms = _frame_ms(frame, stream)
            if t_ms is None:
                t_ms = next_ms
            if t_ms < next_ms:
                continue
            frames.append(_hash_frame(frame, t_ms))
            next_ms = (t_ms // interval + 1) * interval
    except Exception as e:  # a damaged stream: keep the frames decoded before it
        notes.append(f"decoding stopped: {type(e).__name__}")
    return frames


def _sample_by_seeking(
    container: Any, stream: Any, interval: int, duration_ms: int, deadline: float, notes: list[str]
) -> list[Frame]:
    frames: list[Frame] = []
    base = stream.time_base
    start = stream.start_time or 0
    for target in range(0, duration_ms, interval):
        if time.monotonic() > deadline:
            notes.append(f"stopped after {TIME_LIMIT_S:g} s at {target} ms")
            break
        try:
            container.seek(start + int(target / 1000 / base), stream=stream, backward=True)
            for decoded, frame in enumerate(container.decode(stream)):
                t_ms = _frame_ms(frame, stream)
                if t_ms is None or t_ms >= target or decoded > 1000:
                    if frames and t_ms is not None and t_ms <= frames[-1].t_ms:
                        break  # the same keyframe as the last sample
                    frames.append(_hash_frame(frame, target if t_ms is None else t_ms))
                    break
                if time.monotonic() > deadline:
                    break
        except Exception as e:
            notes.append(f"seeking stopped early: {type(e).__name__}")
            break
    return frames
