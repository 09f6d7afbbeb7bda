"""Metadata at phone scale gives the same records, faster: the JPEG EXIF
fast path against the general path, and the worker processes against one
process (the gain itself is measured in bench/phone.py, never here)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import custody.base.processes as processes
import custody.metadata.images as images
from conftest import REPO
from custody.metadata import extract_record
from extraction_tools import jpeg_with_exif


def record(path: Path, fast: bool) -> dict:
    images.FAST_JPEG = fast
    try:
        data = path.read_bytes()
        return extract_record(
            copy_path=path,
            rel_path=path.name,
            sha256="0" * 64,
            size=len(data),
            sniffed=("image/jpeg",),
        )
    finally:
        images.FAST_JPEG = True


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def plain_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    return out.getvalue()


@given(
    when=st.sampled_from(["2022:03:01 10:00:00", "2022:13:01 10:00:00", "", "0000:00:00 00:00:00"]),
    make=st.text(max_size=12),
    layout=st.sampled_from(["exif", "xmp-first", "app0-first", "no-exif", "cut", "fill"]),
    seed=st.integers(min_value=0, max_value=50),
)
def test_fast_path_gives_the_same_record(tmp_path_factory, when, make, layout, seed):
    data = jpeg_with_exif(when or "2022:03:01 10:00:00", make or "x", seed=seed)
    if layout == "xmp-first":
        data = data[:2] + segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>") + data[2:]
    elif layout == "app0-first":
        data = data[:2] + segment(0xE0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00") + data[2:]
    elif layout == "no-exif":
        data = plain_jpeg()
    elif layout == "cut":
        data = data[: len(data) // 3]
    elif layout == "fill":
        data = data[:2] + b"\xff\xff" + data[2:]
    path = tmp_path_factory.mktemp("jpeg") / "a.jpg"
    path.write_bytes(data)
    assert record(path, fast=True) == record(path, fast=False)


@pytest.fixture
def many_photos(tmp_path: Path) -> Path:
    source = tmp_path / "photos"
    source.mkdir()
    for i in range(160):  # past the size at which a pool is started
        (source / f"IMG_{i:04d}.jpg").write_bytes(
            jpeg_with_exif(f"2022:03:{1 + i % 28:02d} 10:00:00", seed=i)
        )
    (source / "notes.txt").write_text("not a photo\n")
    for name in ("C.jpg", "cloud.jpg", "no_manifest.jpg"):  # C2PA read in forked workers too
        (source / f"c2pa-{name}").write_bytes((REPO / "tests/fixtures/c2pa" / name).read_bytes())
    return source


def test_worker_processes_give_the_same_metadata(env, ingest, many_photos, tmp_path):
    docs = []
    for workers in (1, 2):
        processes.WORKERS = workers
        try:
            result, data = ingest(many_photos, "--again", "--out", str(tmp_path / f"b{workers}"))
        finally:
            processes.WORKERS = None
        assert result.exit_code == 0, result.output
        docs.append((Path(data["bundle"]) / "custody" / "metadata.json").read_bytes())
    assert docs[0] == docs[1]
    files = json.loads(docs[0])["files"]
    assert files[5]["captured_at"] == "2022-03-06T10:00:00" and files[5]["c2pa"] is None
    signed = {f["path"]: f["c2pa"] for f in files if f["path"].startswith("c2pa-")}
    assert signed["c2pa-C.jpg"]["state"] in ("valid", "trusted", "invalid", "untrusted")
    assert "Context is not valid" not in json.dumps(signed)
    assert signed["c2pa-no_manifest.jpg"] is None


def test_map_ordered_keeps_order_and_raises():
    out = list(processes.map_ordered(_square, range(500), workers=2, sized=500, chunk=7))
    assert out == [i * i for i in range(500)]
    with pytest.raises(ZeroDivisionError):
        list(processes.map_ordered(_invert, range(-300, 300), workers=2, sized=600))


def _square(_: object, i: int) -> int:
    return i * i


def _invert(_: object, i: int) -> float:
    return 1 / i
