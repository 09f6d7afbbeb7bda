"""Commands that change a finished bundle's tag files (transfer, receive,
timestamp, ledger staple, team proof) take turns on the bundle, and leave no
temporary file inside it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from conftest import Env
from custody.bundle.amend.tagwrite import bundle_lock
from team_helpers import custody_process


def test_a_transfer_waits_for_another_writer_of_the_bundle(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    bob = Env(home=tmp_path / "bob", tmp=tmp_path)
    assert bob.run("keygen", "--name", "DS Bob").exit_code == 0
    assert bob.run("keys", "export", "ds-bob", "-o", tmp_path / "bob.pub").exit_code == 0
    before = {p.relative_to(bundle) for p in bundle.rglob("*")}
    with bundle_lock(bundle):
        proc = custody_process(
            env.home, "transfer", str(bundle), "--to", str(tmp_path / "bob.pub"), "--reason", "x"
        )
        time.sleep(2)  # long enough to write a record and a manifest many times over
        assert proc.poll() is None, proc.communicate()
        assert not (bundle / "custody" / "chain").exists()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    added = {p.relative_to(bundle) for p in bundle.rglob("*")} - before
    assert {p.as_posix() for p in added} == {
        "custody/chain",
        "custody/chain/0001-transfer.json",
        "custody/chain/0001-transfer.sig",
    }
    assert not list(tmp_path.glob(f".{bundle.name}.*"))  # no temporary file left beside it
    listed = (bundle / "tagmanifest-sha256.txt").read_text()
    assert "custody/chain/0001-transfer.json" in listed and "0001-transfer.sig" in listed
    report = json.loads(env.run("verify", bundle, "--json").stdout)
    assert report["verified"] is True and report["problems"] == []
    assert report["open_handover"]["sequence"] == 1


def test_two_transfers_at_once_one_wins_and_the_bundle_is_whole(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    for name in ("bob", "carol"):
        other = Env(home=tmp_path / name, tmp=tmp_path)
        assert other.run("keygen", "--name", f"DS {name}").exit_code == 0
        assert (
            other.run("keys", "export", f"ds-{name}", "-o", tmp_path / f"{name}.pub").exit_code == 0
        )
    procs: list[subprocess.Popen[str]] = [
        custody_process(
            env.home, "transfer", str(bundle), "--to", str(tmp_path / f"{n}.pub"), "--reason", n
        )
        for n in ("bob", "carol")
    ]
    codes = sorted(p.wait(timeout=120) for p in procs)
    for p in procs:
        p.communicate()
    assert codes[0] == 0
    # Whichever came second, it neither overwrote the first one's signature nor left
    # a file unlisted: the bundle is whole, one hand-over waiting to be received.
    report = json.loads(env.run("verify", bundle, "--json").stdout)
    assert report["problems"] == [], report["problems"]
    assert report["open_handover"]["sequence"] == 1
