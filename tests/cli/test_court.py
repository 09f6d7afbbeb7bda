"""For court staff and scripts: the HTML report (rendered to PDF for real), folder audit,
batch runs without a terminal, JSON schemas and shell completion."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser_page import print_to_pdf
from conftest import EXAMPLES, PASSPHRASE, REPO, Env, validate


@pytest.fixture
def bundle(env: Env, officer: dict, tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES, src)
    shutil.copy(src / "IMG_20220225_140310.jpg", src / "copy-of-photo.jpg")
    out = tmp_path / "bundle"
    assert (
        env.run(
            "ingest", src, "--case", "ICC-2026-014", "--exhibit", "JS/1", "--out", out
        ).exit_code
        == 0
    )
    return out


# --- the report ----------------------------------------------------------------------------


def write_report(env: Env, bundle: Path, target: Path) -> tuple[int, dict]:
    result = env.run("verify", bundle, "--report", target, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_report_is_self_contained_and_states_the_json_facts(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    code, data = write_report(env, bundle, tmp_path / "report.html")
    assert code == 0
    # <wbr> marks where a long name or hash may break: not part of the text.
    page = (tmp_path / "report.html").read_text("utf-8").replace("<wbr>", "")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert "VERIFIED." in page
    for fact in (
        data["case"],
        data["exhibit"],
        data["bundle_fingerprint"],
        data["statement_sha256"],
        data["signer"]["name"],
    ):
        assert str(fact).replace("/", "/") in page
    for f in data["files"]:
        assert f["sha256"] in page and f["path"] in page
    assert data["ledger"]["checkpoint"].splitlines()[0] in page


def pdf_text(html: Path, tmp_path: Path) -> str:
    pdf = print_to_pdf(html, tmp_path)
    text = subprocess.run(
        ["pdftotext", "-raw", pdf, "-"], capture_output=True, text=True, check=True
    ).stdout
    # Table cells wrap anywhere: compare without whitespace.
    return squash(text)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_report_printed_to_pdf_for_a_verified_bundle(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    code, data = write_report(env, bundle, tmp_path / "ok.html")
    flat = pdf_text(tmp_path / "ok.html", tmp_path)
    assert code == 0
    assert squash("VERIFIED. Every file is intact and complete") in flat
    assert "ICC-2026-014" in flat and "JS/1" in flat
    assert data["bundle_fingerprint"] in flat
    assert squash("PC Jane Smith, War Crimes Team") in flat
    assert "2022-02-25T14:03:10+02:00" in flat
    assert "SM-G991B" in flat
    for f in data["files"]:
        assert f["sha256"] in flat


def test_report_printed_to_pdf_for_a_tampered_bundle(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    photo = bundle / "data" / "IMG_20220225_140955.jpg"
    photo.write_bytes(photo.read_bytes() + b"edited")
    (bundle / "data" / "planted.txt").write_text("x")
    code, _ = write_report(env, bundle, tmp_path / "bad.html")
    assert code == 1
    flat = pdf_text(tmp_path / "bad.html", tmp_path)
    assert "NOTVERIFIED" in flat
    assert squash("content is not what the officer recorded") in flat
    assert squash("A file is in the bundle that the signed records do not list") in flat
    assert "IMG_20220225_140955.jpg" in flat and "planted.txt" in flat


# --- audit ---------------------------------------------------------------------------------


def test_audit_classifies_every_difference(env: Env, bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "found-on-server"
    shutil.copytree(bundle / "data", folder)
    os.rename(folder / "IMG_20220225_140955.jpg", folder / "renamed.jpg")  # moved
    (folder / "VID_20220225_141500.mp4").write_bytes(b"re-encoded")  # modified
    (folder / "photos from Shevchenka street.eml").unlink()  # missing
    (folder / "copy-of-photo.jpg").unlink()  # a duplicate gone
    (folder / "new.txt").write_text("not in the bundle")  # new
    result = env.run("audit", folder, bundle, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    validate("audit", data)
    assert data["moved"] == [
        {"bundle_path": "IMG_20220225_140955.jpg", "folder_path": "renamed.jpg"}
    ]
    assert data["modified"] == ["VID_20220225_141500.mp4"]
    assert data["new"] == ["new.txt"]
    # The photo is in the bundle twice and in the folder once: one match, one missing.
    assert sorted(data["missing"]) == ["copy-of-photo.jpg", "photos from Shevchenka street.eml"]
    assert "IMG_20220225_140310.jpg" in data["matched"]
    human = env.run("audit", folder, bundle)
    assert "moved: IMG_20220225_140955.jpg -> renamed.jpg" in human.stdout


def test_audit_exact_match_and_duplicates(env: Env, bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "original"
    shutil.copytree(bundle / "data", folder)
    assert env.run("audit", folder, bundle).exit_code == 0
    shutil.copy(folder / "IMG_20220225_140310.jpg", folder / "third-copy.jpg")
    data = json.loads(env.run("audit", folder, bundle, "--json").stdout)
    assert data["new"] == ["third-copy.jpg"] and data["identical"] is False


def test_audit_against_a_tampered_bundle_fails(env: Env, bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "original"
    shutil.copytree(bundle / "data", folder)
    (bundle / "data" / "planted.txt").write_text("x")
    result = env.run("audit", folder, bundle, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["bundle_verified"] is False


# --- batch runs and no terminal --------------------------------------------------------------


def run_cli(
    env: Env, *args: str | os.PathLike[str], extra: dict | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "CUSTODY_HOME": str(env.home),
        "CUSTODY_PASSPHRASE": PASSPHRASE,
        **(extra or {}),
    }
    environ = {k: v for k, v in environ.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "custody", *map(str, args)],
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_batch_of_many_folders_with_one_bad(env: Env, officer: dict, tmp_path: Path) -> None:
    sources = []
    for i in range(4):
        src = tmp_path / f"witness-{i}"
        src.mkdir()
        (src / f"statement-{i}.txt").write_text(f"witness {i}\n")
        sources.append(src)
    bad = tmp_path / "witness-missing"
    lines = [f"{s}\tCASE-{i}\tW{i}" for i, s in enumerate(sources)]
    lines.insert(2, f"{bad}\tCASE-X")
    (tmp_path / "list.tsv").write_text("# source, case, exhibit\n" + "\n".join(lines) + "\n")
    done = run_cli(
        env, "ingest", "--from", tmp_path / "list.tsv", "--out", tmp_path / "out", "--json"
    )
    assert done.returncode == 2, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    for record in records:
        validate("ingest-batch-line", record)
    assert [r.get("ok") for r in records[:-1]] == [True, True, False, True, True]
    assert records[2]["error"]["message"] == "no such folder"
    assert records[-1]["summary"] == {
        "sources": 5,
        "succeeded": 4,
        "failed": 1,
        "failed_sources": [str(bad)],
    }
    for r in records:
        if r.get("ok"):
            assert env.run("verify", r["bundle"]).exit_code == 0


def test_several_sources_and_quiet(env: Env, officer: dict, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "x.txt").write_text(d.name)
    done = run_cli(env, "ingest", a, b, "--case", "Q", "--out", tmp_path / "out", "--quiet")
    assert done.returncode == 0, done.stderr
    paths = done.stdout.split()
    assert len(paths) == 2 and all(Path(p).is_dir() for p in paths)


def test_no_terminal_no_passphrase_is_an_immediate_error(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    done = run_cli(
        env, "ingest", src, "--case", "C", extra={"CUSTODY_PASSPHRASE": None}, timeout=30
    )
    assert done.returncode == 2
    assert "CUSTODY_PASSPHRASE" in done.stderr and done.stderr.count("\n") == 1


def test_example_batch_script_runs(env: Env, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "custody"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m custody "$@"\n')
    shim.chmod(0o755)
    done = subprocess.run(
        ["bash", REPO / "examples" / "batch.sh", tmp_path / "out"],
        env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.count("\nVERIFIED      ") == 2
    assert "\n2 bundles: 2 verified, 0 not verified, 0 unusable\n" in done.stdout
    assert '"succeeded": 2' in done.stdout


# --- schemas for every --json output ------------------------------------------------------------


def test_every_json_output_matches_its_schema(
    env: Env, officer: dict, bundle: Path, tmp_path: Path
) -> None:
    validate("keygen", officer)
    outputs = {
        "verify": env.run("verify", bundle, "--json"),
        "show": env.run("show", bundle, "--json"),
        "keys-list": env.run("keys", "list", "--json"),
        "ledger-verify": env.run("ledger", "verify", "--json"),
        "ledger-show": env.run("ledger", "show", "--json"),
    }
    for name, result in outputs.items():
        validate(name, json.loads(result.stdout))
    for record in json.loads(outputs["show"].stdout)["files"]:
        validate("metadata-record", record)
    cp = tmp_path / "cp.txt"
    cp.write_text(env.run("ledger", "checkpoint").stdout)
    validate(
        "ledger-consistency", json.loads(env.run("ledger", "consistency", cp, "--json").stdout)
    )
    src = tmp_path / "one"
    src.mkdir()
    (src / "a.txt").write_text("a")
    validate(
        "ingest",
        json.loads(env.run("ingest", src, "--case", "S", "--out", tmp_path / "s", "--json").stdout),
    )
    validate("error", json.loads(env.run("verify", tmp_path / "nothing", "--json").stdout))
    other = Env(home=tmp_path / "other", tmp=tmp_path)
    other.run("keygen", "--name", "Other")
    other.run("keys", "export", "other", "-o", tmp_path / "other.pub")
    validate(
        "keys-trust", json.loads(env.run("keys", "trust", tmp_path / "other.pub", "--json").stdout)
    )
    validate(
        "handover",
        json.loads(
            env.run(
                "transfer", bundle, "--to", tmp_path / "other.pub", "--reason", "test", "--json"
            ).stdout
        ),
    )


# --- shell completion -----------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts(shell: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "custody"],
        env={**os.environ, "_CUSTODY_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "_CUSTODY_COMPLETE" in done.stdout


def test_completion_offers_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "custody"],
        env={
            **os.environ,
            "_CUSTODY_COMPLETE": "bash_complete",
            "COMP_WORDS": "custody led",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert "ledger" in done.stdout
