"""The documentation cannot rot: its commands are run here, exactly as written."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO, Env


def by_hand_recipe() -> str:
    text = (REPO / "docs/verify-by-hand.md").read_text("utf-8")
    m = re.search(r"<!-- by-hand-recipe.*?-->\n```sh\n(.*?)```", text, re.S)
    assert m, "docs/verify-by-hand.md lost its recipe"
    return m.group(1)


def run_recipe(bundle: Path, key: str) -> subprocess.CompletedProcess[str]:
    script = "set -euo pipefail\n" + by_hand_recipe()
    return subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "BUNDLE": str(bundle), "OFFICER_KEY": key, "LC_ALL": "C.UTF-8"},
        capture_output=True,
        text=True,
    )


@pytest.fixture
def simple_bundle(env: Env, officer: dict, tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(REPO / "examples/evidence", src)
    (src / "-dash [1].txt").write_text("x")
    result = env.run("ingest", src, "--case", "C-1", "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    return tmp_path / "b"


def test_by_hand_recipe_accepts_a_good_bundle(simple_bundle: Path, officer: dict) -> None:
    done = run_recipe(simple_bundle, officer["public_key"])
    assert done.returncode == 0, done.stdout + done.stderr


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


def _fix_tag_manifest(bundle: Path) -> None:
    lines = []
    for line in (bundle / "tagmanifest-sha256.txt").read_text().splitlines():
        name = line[66:]
        lines.append(hashlib.sha256((bundle / name).read_bytes()).hexdigest() + "  " + name)
    (bundle / "tagmanifest-sha256.txt").write_text("\n".join(lines) + "\n")


def _add_file(b: Path) -> None:
    (b / "data/extra.txt").write_text("planted")


def _edit_bag_info(b: Path) -> None:
    p = b / "bag-info.txt"
    p.write_text(p.read_text().replace("C-1", "C-2"))
    _fix_tag_manifest(b)


TAMPERINGS: dict[str, Callable[[Path], None]] = {
    "changed payload byte": lambda b: _flip(b / "data/IMG_20220225_140310.jpg"),
    "added payload file": _add_file,
    "removed payload file": lambda b: (b / "data/-dash [1].txt").unlink(),
    "edited bag-info with fixed tag manifest": _edit_bag_info,
    "changed signature": lambda b: _flip(b / "custody/statement.sig"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_by_hand_recipe_rejects_tampering(simple_bundle: Path, officer: dict, name: str) -> None:
    TAMPERINGS[name](simple_bundle)
    assert run_recipe(simple_bundle, officer["public_key"]).returncode != 0


def test_by_hand_recipe_rejects_another_key(simple_bundle: Path, tmp_path: Path) -> None:
    other = Env(home=tmp_path / "other", tmp=tmp_path)
    result, data = other.run_json("keygen", "--name", "Someone Else")
    assert result.exit_code == 0
    assert run_recipe(simple_bundle, data["public_key"]).returncode != 0


def test_bagit_python_validates_a_bundle(simple_bundle: Path, tmp_path: Path) -> None:
    bagit = pytest.importorskip("bagit")
    bag = bagit.Bag(str(simple_bundle))
    bag.validate()
    assert bag.info["Custody-Case-Id"] == "C-1"
    # and the command-line validator that ships with it
    done = subprocess.run(
        [sys.executable, "-m", "bagit", "--validate", str(simple_bundle)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_bagit_python_rejects_a_tampered_bundle(simple_bundle: Path) -> None:
    bagit = pytest.importorskip("bagit")
    _flip(simple_bundle / "data/IMG_20220225_140955.jpg")
    assert not bagit.Bag(str(simple_bundle)).is_valid()


def readme_blocks() -> list[str]:
    text = (REPO / "README.md").read_text("utf-8")
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci/run").read_text()
    assert "blocks[1]" in ci  # .ci/run executes README's second block itself
    assert "pytest" in readme_blocks()[1]


@pytest.mark.skipif(
    os.environ.get("CUSTODY_SKIP_INSTALL_TEST") == "1", reason="asked to skip the install test"
)
def test_readme_quick_start_runs_on_a_fresh_copy(tmp_path: Path) -> None:
    """The first Quick start line, as a new user runs it: install, keygen, ingest, verify."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False
    ).stdout.split(b"\0")
    if not any(files):
        pytest.skip("not a git checkout")
    copy = tmp_path / "custody"
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if src.is_file():
            dst = copy / os.fsdecode(name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(
        ["bash", "-c", "set -e\n" + readme_blocks()[0]],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout
    assert "Ingested and signed." in done.stdout
