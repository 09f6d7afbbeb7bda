"""Real pictures and videos for the perceptual-matching tests, made here with
Pillow and PyAV (no committed media): photo-like scenes (gradients, shapes,
texture) that differ by seed, their transformed copies, and short videos."""

from __future__ import annotations

import io
import random
from fractions import Fraction
from pathlib import Path
from typing import Any


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Any:
    """A photo-like RGB picture: a sky/ground gradient, shapes, texture."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size)
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    draw = ImageDraw.Draw(im)
    for y in range(h):
        t = y / h
        colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (w, y)], fill=colour)
    for n in range(70):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        big = n < 12
        x1 = x0 + rng.randrange(40, w // 2) if big else x0 + rng.randrange(8, w // 8)
        y1 = y0 + rng.randrange(40, h // 2) if big else y0 + rng.randrange(8, h // 8)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
    noise = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(im.filter(ImageFilter.GaussianBlur(1)), noise, 0.08)


def jpeg(im: Any, quality: int = 92) -> bytes:
    out = io.BytesIO()
    im.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def png(im: Any) -> bytes:
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def write_video(
    path: Path,
    seed: int,
    *,
    seconds: int = 4,
    fps: int = 5,
    size: tuple[int, int] = (320, 240),
    start: int = 0,
    codec: str = "mpeg4",
    mirror: bool = False,
    turn: int = 0,
) -> None:
    """A video whose content changes every second (a new scene each second,
    panning inside it), frames from second `start` on."""
    import av
    import numpy as np

    w, h = size
    if turn in (90, 270):  # turned on its side: the frame's sides swap
        w, h = h, w
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(start * fps, (start + seconds) * fps):
            second, step = divmod(i, fps)
            big = scene(seed * 1000 + second, (360, 280))
            picture = big.crop((step * 4, step * 2, step * 4 + 320, step * 2 + 240)).resize(size)
            if mirror:
                picture = picture.transpose(0)  # Image.Transpose.FLIP_LEFT_RIGHT
            if turn:
                picture = picture.rotate(turn, expand=True)  # counter-clockwise
            frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
            frame.pts = i - start * fps
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
