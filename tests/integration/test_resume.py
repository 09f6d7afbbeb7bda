"""A resumable ingest (docs/ledger.md, "Interrupted ingests continue"): kill -9 a real
ingest after a seeded number of finished copies (custody.base.faults), run the same
command again, and compare with an uninterrupted ingest of the same source: the same
manifest and metadata bytes, the same statement apart from times and bundle id, every
file copied once; a source file changed between the kill and the resume is copied again;
Ctrl-C with --resume keeps the partial copy to be continued."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import PASSPHRASE, Env, tree_snapshot

SEED = int(os.environ.get("CUSTODY_RESUME_SEED", "20261208"))
FILES = 60


def _source(root: Path) -> Path:
    rng = random.Random(SEED)
    for d in range(3):
        (root / f"DCIM-{d}").mkdir(parents=True)
        for i in range(FILES // 3):
            (root / f"DCIM-{d}" / f"IMG_{i:03d}.bin").write_bytes(rng.randbytes(20_000 + i))
    (root / "note.txt").write_text("statement of W1\n")
    return root


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _ingest(
    env: Env, source: Path, out: Path, log: Path, *extra: str, stop_after: int | None = None
) -> subprocess.Popen[bytes]:
    more = {} if stop_after is None else {"CUSTODY_STOP_AFTER_FILES": str(stop_after)}
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "custody", "ingest", str(source)),
            *("--case", "ICC-9", "--exhibit", "W1/1", "--out", str(out), "--json", *extra),
        ],
        env={
            **os.environ,
            "CUSTODY_HOME": str(env.home),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
            "CUSTODY_COPY_LOG": str(log),
            **more,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _until_stopped(proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while _state(proc.pid) != "T":
        if proc.poll() is not None:
            pytest.fail(f"ingest ended before it stopped: {proc.communicate()!r}")
        assert time.monotonic() < deadline, "the ingest never stopped"
        time.sleep(0.01)


def _finish(proc: subprocess.Popen[bytes]) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out), err.decode()


def _bundle_parts(bundle: Path) -> dict[str, object]:
    """Everything an uninterrupted ingest of the same source would also make, apart
    from the times and the bundle id (and the bag-info's date, which signs through
    the statement's bag_info_sha256)."""
    statement = json.loads((bundle / "custody" / "statement.json").read_bytes())
    for varying in ("bundle_id", "created", "bag_info_sha256", "commitments"):
        statement.pop(varying, None)
    bag_info = (bundle / "bag-info.txt").read_text().splitlines()
    return {
        "manifest": (bundle / "manifest-sha256.txt").read_bytes(),
        "metadata": (bundle / "custody" / "metadata.json").read_bytes(),
        "statement": statement,
        "bag_info": [line for line in bag_info if not line.startswith("Bagging-Date")],
        "payload": tree_snapshot(bundle / "data"),
    }


def _reference(env: Env, source: Path, tmp_path: Path) -> dict[str, object]:
    """An uninterrupted ingest of the same source by the same officer."""
    proc = _ingest(env, source, tmp_path / "reference", tmp_path / "ref.log", "--again")
    result, _ = _finish(proc)
    return _bundle_parts(Path(result["bundle"]))


def _copies(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _partials(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("stop_after", sorted(random.Random(SEED).sample(range(1, FILES), 3)))
def test_killed_ingest_resumes_to_the_same_bundle(
    env: Env, officer: dict, tmp_path: Path, stop_after: int
) -> None:
    source = _source(tmp_path / "phone")
    before = tree_snapshot(source)
    log = tmp_path / "copies.log"
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "out" / "W1"
    first = _ingest(env, source, bundle, log, stop_after=stop_after)
    _until_stopped(first)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert not bundle.exists() and len(_partials(bundle.parent)) == 1
    journalled = len(_copies(log))
    assert journalled >= stop_after
    [line] = json.loads(env.run("ledger", "verify", "--json").stdout)["interrupted_ingests"]
    assert "; the same ingest run again (or with --resume) continues it, " in line
    assert line.endswith(" removes it") and "custody ingest --discard " in line

    # The same command again continues it (no --resume needed after a kill).
    result, _ = _finish(_ingest(env, source, bundle, log))
    [line] = [w for w in result["warnings"] if "continuing the ingest of case ICC-9" in w]
    assert f"{journalled} finished copies to check" in line
    copies = _copies(log)
    assert sorted(copies) == sorted(set(copies)), "a file was copied twice"
    assert len(copies) == FILES + 1
    assert result["bundle"] == str(bundle)
    assert env.run("verify", bundle).exit_code == 0
    assert tree_snapshot(source) == before
    assert _partials(bundle.parent) == []
    assert list((env.home / "pending").glob("*")) == []
    entries = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    assert [e["action"] for e in entries] == ["keygen", "ingest"]
    assert _bundle_parts(bundle) == _reference(env, source, tmp_path)


def _killed_after(env: Env, source: Path, bundle: Path, log: Path, files: int) -> int:
    proc = _ingest(env, source, bundle, log, stop_after=files)
    _until_stopped(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return len(_copies(log))


def test_changed_source_and_damaged_copy_are_copied_again(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    source = _source(tmp_path / "phone")
    log = tmp_path / "copies.log"
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "out" / "W1"
    _killed_after(env, source, bundle, log, 30)
    done = _copies(log)
    changed, damaged = done[0], done[1]
    (source / changed).write_bytes(b"replaced after the kill\n")  # a new size and mtime
    [partial] = _partials(bundle.parent)
    copy = partial / "data" / damaged
    copy.write_bytes(b"\0" + copy.read_bytes()[1:])  # same size, other bytes

    result, _ = _finish(_ingest(env, source, bundle, log))
    copies = _copies(log)
    assert copies.count(changed) == 2 and copies.count(damaged) == 2
    assert len(copies) == FILES + 1 + 2
    assert (bundle / "data" / changed).read_bytes() == b"replaced after the kill\n"
    assert env.run("verify", bundle).exit_code == 0
    assert _bundle_parts(bundle) == _reference(env, source, tmp_path)
    assert result["files"] == FILES + 1


def test_untrusted_journal_starts_over(env: Env, officer: dict, tmp_path: Path) -> None:
    source = _source(tmp_path / "phone")
    log = tmp_path / "copies.log"
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "out" / "W1"
    first = _killed_after(env, source, bundle, log, 10)
    [partial] = _partials(bundle.parent)
    journal = partial / ".custody-journal"
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join([lines[0], b"{not json", *lines[1:]]))

    result, _ = _finish(_ingest(env, source, bundle, log))
    [line] = [w for w in result["warnings"] if "cannot be trusted" in w]
    assert line.endswith("starting over (its partial copy is removed)")
    assert len(_copies(log)) == first + FILES + 1
    assert env.run("verify", bundle).exit_code == 0
    assert _partials(bundle.parent) == []


def test_ctrl_c_with_resume_keeps_the_partial_copy(env: Env, officer: dict, tmp_path: Path) -> None:
    source = _source(tmp_path / "phone")
    log = tmp_path / "copies.log"
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "out" / "W1"
    proc = _ingest(env, source, bundle, log, "--resume", stop_after=25)
    _until_stopped(proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    [line] = err.decode().splitlines()
    [partial] = _partials(bundle.parent)
    assert line.startswith("custody: interrupted; ") and str(partial) in line
    assert len(list((env.home / "pending").glob("*.json"))) == 1

    result, _ = _finish(_ingest(env, source, bundle, log, "--resume"))
    assert any("continuing the ingest" in w for w in result["warnings"])
    copies = _copies(log)
    assert sorted(copies) == sorted(set(copies)) and len(copies) == FILES + 1
    assert env.run("verify", bundle).exit_code == 0
    assert _bundle_parts(bundle) == _reference(env, source, tmp_path)
    assert list((env.home / "pending").glob("*")) == []


def test_resume_with_nothing_to_continue_says_so(env: Env, officer: dict, tmp_path: Path) -> None:
    source = _source(tmp_path / "phone")
    out = tmp_path / "out"
    out.mkdir()
    result, _ = _finish(_ingest(env, source, out / "W1", tmp_path / "log", "--resume"))
    assert [w for w in result["warnings"] if "no stopped ingest of this source" in w]


@pytest.mark.parametrize("point", ["copied", "recorded"])
def test_killed_after_the_copies(env: Env, officer: dict, tmp_path: Path, point: str) -> None:
    """Killed once every file was copied: nothing is copied again. Killed after the
    ledger recorded the ingest: that bundle id is explained as abandoned (as before)
    and the ingest starts over under a new one."""
    source = _source(tmp_path / "phone")
    log = tmp_path / "copies.log"
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "out" / "W1"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "custody", "ingest", str(source)),
            *("--case", "ICC-9", "--exhibit", "W1/1", "--out", str(bundle), "--json"),
        ],
        env={
            **os.environ,
            "CUSTODY_HOME": str(env.home),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
            "CUSTODY_COPY_LOG": str(log),
            "CUSTODY_STOP_AT": point,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _until_stopped(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert len(_copies(log)) == FILES + 1

    result, _ = _finish(_ingest(env, source, bundle, log))
    actions = [
        e["action"] for e in json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    ]
    if point == "copied":
        assert len(_copies(log)) == FILES + 1
        assert actions == ["keygen", "ingest"]
    else:
        assert [w for w in result["warnings"] if "already recorded in the ledger" in w]
        assert len(_copies(log)) == 2 * (FILES + 1)
        assert actions == ["keygen", "ingest", "abandoned", "ingest"]
    assert env.run("verify", bundle).exit_code == 0
    assert _bundle_parts(bundle) == _reference(env, source, tmp_path)
    assert _partials(bundle.parent) == [] and list((env.home / "pending").glob("*")) == []


def _other_source(root: Path) -> Path:
    root.mkdir()
    (root / "statement.txt").write_text("statement of W2\n")
    return root


def test_stopped_ingest_outlives_another_ingest_and_resumes_twice(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    """Another ingest between the kill and the resume names the stopped one and
    leaves it alone; a resume killed in its turn is resumed again; the ledger entry
    keeps the first start and says when it was continued (ADR 0024)."""
    source = _source(tmp_path / "phone")
    log = tmp_path / "copies.log"
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "out" / "W1"
    first = _killed_after(env, source, bundle, log, 15)
    [partial] = _partials(bundle.parent)
    w2 = _other_source(tmp_path / "w2")
    other = env.run("ingest", w2, "--case", "ICC-9", "--out", tmp_path / "out" / "W2")
    assert other.exit_code == 0, other.output
    [kept] = [w for w in other.stderr.splitlines() if "it is kept" in w]
    assert str(bundle) in kept and f"after {first} finished copies" in kept
    assert _partials(bundle.parent) == [partial] and (partial / ".custody-journal").is_file()

    second = _killed_after(env, source, bundle, log, 20)  # this run's 20th copy
    assert second >= first + 20
    result, _ = _finish(_ingest(env, source, bundle, log))
    copies = _copies(log)
    assert sorted(copies) == sorted(set(copies)) and len(copies) == FILES + 1
    assert env.run("verify", bundle).exit_code == 0
    assert _bundle_parts(bundle) == _reference(env, source, tmp_path)
    assert _partials(bundle.parent) == [] and list((env.home / "pending").glob("*")) == []
    ledger = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    [entry] = [e for e in ledger if e.get("bundle_id") == result["bundle_id"]]
    statement = json.loads((bundle / "custody" / "statement.json").read_bytes())
    assert entry["time"] == statement["created"]  # the first start
    resumed = entry["detail"].split("; resumed ")[1].split(", ")
    assert len(resumed) == 2 and all(t >= statement["created"] for t in resumed)


def _disk_full_line(err: str, partial: Path) -> None:
    [line] = err.splitlines()
    assert "no space left on device" in line and f"partial copy is kept at {partial}" in line
    assert "run the same ingest again (or with --resume) to continue it" in line


def test_disk_full_keeps_the_partial_copy_to_continue(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    """A full disk (simulated after the 25th copy) stops the ingest with exit 3 and
    one line; nothing is lost, and the same command continues it."""
    source = _source(tmp_path / "phone")
    before = tree_snapshot(source)
    log = tmp_path / "copies.log"
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "out" / "W1"
    full = subprocess.run(
        [
            *(sys.executable, "-m", "custody", "ingest", str(source)),
            *("--case", "ICC-9", "--exhibit", "W1/1", "--out", str(bundle)),
        ],
        env={
            **os.environ,
            "CUSTODY_HOME": str(env.home),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
            "CUSTODY_COPY_LOG": str(log),
            "CUSTODY_DISK_FULL_AFTER_FILES": "25",
        },
        capture_output=True,
        text=True,
    )
    assert full.returncode == 3, full.stderr
    [partial] = _partials(bundle.parent)
    _disk_full_line(full.stderr, partial)
    # The other copy thread may finish one more file before the failure stops it.
    assert not bundle.exists() and 25 <= len(_copies(log)) < FILES + 1
    result, _ = _finish(_ingest(env, source, bundle, log))
    assert any("continuing the ingest" in w for w in result["warnings"])
    copies = _copies(log)
    assert sorted(copies) == sorted(set(copies)) and len(copies) == FILES + 1
    assert env.run("verify", bundle).exit_code == 0
    assert tree_snapshot(source) == before
    assert _bundle_parts(bundle) == _reference(env, source, tmp_path)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system of 640 KiB (tmpfs; only root may mount one): skipped elsewhere."""
    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=640k", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_real_disk_that_fills(env: Env, officer: dict, tmp_path: Path, small_disk: Path) -> None:
    """The bundle's disk fills during the copy (1.2 MB onto 640 KiB): exit 3, one line,
    the source untouched, the partial copy kept; once space is freed (the file system
    grown) the same command continues it into the bundle an uninterrupted ingest makes."""
    source = _source(tmp_path / "phone")
    before = tree_snapshot(source)
    log = tmp_path / "copies.log"
    bundle = small_disk / "W1"
    proc = _ingest(env, source, bundle, log)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (out, err)
    [partial] = _partials(small_disk)
    _disk_full_line(err.decode(), partial)
    assert not bundle.exists() and tree_snapshot(source) == before
    assert 0 < len(_copies(log)) < FILES + 1

    grown = ["mount", "-o", "remount,size=16m", str(small_disk)]
    subprocess.run(grown, check=True)
    result, _ = _finish(_ingest(env, source, bundle, log))
    assert any("continuing the ingest" in w for w in result["warnings"])
    copies = _copies(log)
    assert sorted(copies) == sorted(set(copies)) and len(copies) == FILES + 1
    assert env.run("verify", bundle).exit_code == 0
    assert tree_snapshot(source) == before
    assert _bundle_parts(bundle) == _reference(env, source, tmp_path)
