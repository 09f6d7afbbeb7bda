"""The offline verifier page on a zip of many members, in a real headless Chromium: a
central directory larger than the slice the page reads it in, local headers checked a
window at a time, small members hashed in runs (stored and deflated). Honest and
tampered, the page's verdict, problems and per-file table must be `custody verify
--json`'s (docs/verifier-page.md, "Bundles of many files")."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_page import Page, browser, chromium_missing
from conftest import Env

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))

FILES = 15_000  # names of ~40 bytes: a central directory above the page's 1 MiB slice


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Path, Path]:
    root = tmp_path_factory.mktemp("page-scale")
    env = Env(home=root / "home", tmp=root)
    result, officer = env.run_json("keygen", "--name", "PC Jane Smith")
    assert result.exit_code == 0, result.output
    source = root / "source"
    for i in range(FILES):
        folder = source / f"dir{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"msg-{i:06d}.txt").write_bytes(f"message {i}\n".encode() * (1 + i % 7))
    bundle = root / "bundle"
    result = env.run("ingest", source, "--case", "SCALE", "--no-metadata", "--out", bundle)
    assert result.exit_code == 0, result.output
    return env, bundle, Path(officer["public_key"])


@pytest.fixture(scope="module")
def page(made: tuple[Env, Path, Path]) -> Iterator[Page]:
    env, _, key = made
    out = env.tmp / "verify-bundle.html"
    assert env.run("verifier", "-o", out).exit_code == 0
    with browser() as driver:
        page = Page(driver, out)
        page.trust_key_file(key)
        yield page


def zipped(bundle: Path, out: Path, compression: int) -> Path:
    """The bundle folder zipped under its own name (members named bundle/...)."""
    with zipfile.ZipFile(out, "w", compression) as zf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(bundle.parent).as_posix())
    return out


def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The per-file table's fields both verifiers give (custody adds metadata)."""
    return [(f["path"], f["sha256"], f["size"], f["state"]) for f in report["files"]]


def both(env: Env, page: Page, target: Path, key: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    result = env.run("verify", target, "--json", "--no-trust-store", "--trust", key)
    assert result.exit_code in (0, 1), result.output
    expected: dict[str, Any] = json.loads(result.stdout)
    got = page.verify(target, timeout=300)
    assert "error" not in got, got
    pairs = sorted({(p["kind"], p["path"]) for p in got["problems"]})
    assert pairs == sorted({(p["kind"], p["path"]) for p in expected["problems"]})
    assert got["verified"] is expected["verified"]
    for field in ("files_checked", "bytes_checked", "statement_sha256"):
        assert got[field] == expected[field], field
    return got, expected


def test_a_zip_of_many_members_honest_and_tampered(
    made: tuple[Env, Path, Path], page: Page, tmp_path: Path
) -> None:
    env, bundle, key = made
    stored = zipped(bundle, tmp_path / "stored.zip", zipfile.ZIP_STORED)
    got, expected = both(env, page, stored, key)
    assert got["verified"] is True and got["files_checked"] == FILES
    # The per-file table, made only when read, is custody's row for row.
    assert rows(got) == rows(expected)

    tampered = tmp_path / "bundle"
    shutil.copytree(bundle, tampered)
    (tampered / "data" / "dir003" / "msg-003141.txt").write_bytes(b"changed\n")
    (tampered / "data" / "dir014" / "msg-014999.txt").unlink()
    (tampered / "data" / "dir007" / "extra.txt").write_bytes(b"not listed\n")
    target = zipped(tampered, tmp_path / "deflated.zip", zipfile.ZIP_DEFLATED)
    got, expected = both(env, page, target, key)
    assert got["verified"] is False
    assert {(p["kind"], p["path"]) for p in got["problems"]} >= {
        ("changed", "data/dir003/msg-003141.txt"),
        ("missing", "data/dir014/msg-014999.txt"),
        ("extra", "data/dir007/extra.txt"),
    }
    assert rows(got) == rows(expected)
