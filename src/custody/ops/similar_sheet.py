"""The pictures of `custody similar --report`: one thumbnail for each file in
a group or a rejected pair, read from the bundle folder (shown, blurred or
none). The page itself is made by custody.render.similar_sheet."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from custody.base.fsutil import unsafe_path_reason
from custody.bundle.format import layout
from custody.similar.thumbs import thumbnail


def sheet_thumbnails(data: dict[str, Any], *, mode: str) -> dict[tuple[str, str], str]:
    """{(bundle, path): data: URI of a JPEG} for every member of the result
    `data` (ops.similar.result_json) that can be shown. A video shows the first
    frame that matched."""
    if mode == "none":
        return {}
    wanted: dict[tuple[str, str], tuple[str, int | None]] = {}
    for group in data["groups"]:
        for k, m in enumerate(group["members"]):
            wanted.setdefault((m["bundle"], m["path"]), (m["kind"] or "", _first_ms(group, k)))
    for p in data["rejected"]:
        for m in (p["a"], p["b"]):
            wanted.setdefault((m["bundle"], m["path"]), (m["kind"] or "", None))
    out = {}
    for (bundle, rel), (kind, t_ms) in wanted.items():
        if kind not in ("image", "video") or unsafe_path_reason(rel) is not None:
            continue
        path = Path(bundle) / layout.PAYLOAD_DIR / rel
        if not Path(bundle).is_dir() or path.is_symlink() or not path.is_file():
            continue
        jpeg = thumbnail(path, kind=kind, t_ms=t_ms, mode=mode)
        if jpeg is not None:
            out[(bundle, rel)] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    return out


def _first_ms(group: dict[str, Any], k: int) -> int | None:
    times = []
    for p in group["pairs"]:
        if p["a"] == k:
            times += [f["a_ms"] for f in p["frames"] if f["a_ms"] >= 0]
        if p["b"] == k:
            times += [f["b_ms"] for f in p["frames"] if f["b_ms"] >= 0]
    return min(times) if times else None
