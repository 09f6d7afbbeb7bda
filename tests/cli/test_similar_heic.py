"""HEIC/HEIF photos (the iPhone's default) in `custody similar`: a real HEIC
written here (pillow-heif encodes it), ingested with its JPEG recompression;
both analysed and matched. Without a HEIF decoder (both plugins made
unimportable for one real ingest process) the HEIC is recorded as not
analysed with that reason, and the rest of the folder still is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Env, validate
from similar_media import jpeg, scene

pillow_heif = pytest.importorskip("pillow_heif")
pytest.importorskip("pdqhash")

CASE = "ICC-2026-014"


@pytest.fixture
def iphone(tmp_path: Path) -> Path:
    """IMG_0001.HEIC as a phone makes it, the JPEG a messaging app made of it
    (decoded, reduced, recompressed), and an unrelated photo."""
    from PIL import Image

    folder = tmp_path / "iphone"
    folder.mkdir()
    heic = folder / "IMG_0001.HEIC"
    pillow_heif.from_pillow(scene(21, (1008, 756))).save(heic, quality=85)
    assert heic.read_bytes()[4:12] == b"ftypheic"
    decoded = pillow_heif.open_heif(heic).to_pillow()
    (folder / "forwarded.jpg").write_bytes(jpeg(decoded.resize((640, 480), Image.BILINEAR), 70))
    (folder / "unrelated.jpg").write_bytes(jpeg(scene(22), 80))
    return folder


def test_a_heic_photo_and_its_jpeg_recompression_match(
    env: Env, officer: dict, iphone: Path, tmp_path: Path
) -> None:
    result = env.run("ingest", iphone, "--case", CASE, "--out", tmp_path / "b", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "b" / "custody" / "similar.json").read_text())
    heic = next(f for f in doc["files"] if f["path"] == "IMG_0001.HEIC")
    assert "not_analysed" not in heic and heic["quality"] >= 50
    assert (heic["width"], heic["height"]) == (1008, 756)
    result, data = env.run_json("similar", tmp_path / "b")
    assert result.exit_code == 0, result.output
    validate("similar", data)
    [group] = data["groups"]
    assert {m["path"] for m in group["members"]} == {"IMG_0001.HEIC", "forwarded.jpg"}
    assert group["pairs"][0]["distance"] <= 31
    assert group["members"][group["largest"]]["path"] == "IMG_0001.HEIC"


def test_without_a_heif_decoder_the_heic_is_not_analysed_and_says_why(
    env: Env, officer: dict, iphone: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "no-heif"
    blocker.mkdir()
    for module in ("pi_heif", "pillow_heif"):
        (blocker / f"{module}.py").write_text(f"raise ImportError('{module} is not installed')\n")
    out = str(tmp_path / "b")
    run = subprocess.run(
        [sys.executable, "-m", "custody", "ingest", str(iphone), "--case", CASE, "--out", out],
        env={
            **os.environ,
            "PYTHONPATH": str(blocker),
            "CUSTODY_HOME": str(env.home),
            "CUSTODY_PASSPHRASE": "correct horse battery staple",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    doc = json.loads((tmp_path / "b" / "custody" / "similar.json").read_text())
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path["IMG_0001.HEIC"]["not_analysed"].startswith("HEIC decoder not installed")
    assert "pdq" in by_path["forwarded.jpg"] and "pdq" in by_path["unrelated.jpg"]
    table = env.run("similar", tmp_path / "b")
    assert table.exit_code == 0 and "HEIC decoder not installed" in table.stdout
