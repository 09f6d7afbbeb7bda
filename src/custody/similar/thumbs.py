"""Small pictures of images and video frames for the contact sheet: shown,
blurred beyond recognition (for staff who should not see graphic content),
or none. Decoded with the same limits as the analysis; a file that cannot be
decoded has no thumbnail, never an error."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from custody.similar.analyse import MAX_FRAME_PIXELS, MAX_IMAGE_PIXELS

THUMB_SIDE = 200
MODES = ("show", "blur", "none")


def thumbnail(path: Path, *, kind: str, t_ms: int | None, mode: str) -> bytes | None:
    """A JPEG of at most THUMB_SIDE pixels a side, or None."""
    if mode == "none":
        return None
    try:
        picture = _image(path) if kind == "image" else _frame(path, t_ms or 0)
        if picture is None:
            return None
        picture.thumbnail((THUMB_SIDE, THUMB_SIDE))
        if mode == "blur":
            picture = _blur(picture)
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=80)
        return out.getvalue()
    except Exception:  # a file that cannot be decoded simply has no thumbnail
        return None


def _blur(picture: Any) -> Any:
    from PIL import Image, ImageFilter

    w, h = picture.size
    tiny = picture.resize((max(1, w // 25), max(1, h // 25)), Image.Resampling.BOX)
    return tiny.resize((w, h), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(6))


def _image(path: Path) -> Any:
    import warnings

    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as im:
            if im.size[0] * im.size[1] > MAX_IMAGE_PIXELS:
                return None
            if im.format == "JPEG":
                im.draft("RGB", (THUMB_SIDE * 2, THUMB_SIDE * 2))
            return ImageOps.exif_transpose(im).convert("RGB")


def _frame(path: Path, t_ms: int) -> Any:
    import av

    with av.open(str(path), timeout=10.0) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        if stream.codec_context.width * stream.codec_context.height > MAX_FRAME_PIXELS:
            return None
        start = stream.start_time or 0
        if t_ms > 0 and stream.time_base is not None:
            container.seek(
                start + int(t_ms / 1000 / stream.time_base), stream=stream, backward=True
            )
        last = None
        for n, frame in enumerate(container.decode(stream)):
            last = frame
            base = frame.time_base
            when = (frame.pts - start) * base * 1000 if frame.pts is not None and base else t_ms
            if when >= t_ms or n > 600:
                break
        return None if last is None else last.to_image()  # type: ignore[no-untyped-call]
