"""Helpers for the team-log tests: officers' homes with real keys and ledgers,
and running the real CLI in a separate process (for concurrency and kill -9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.io.ledger_store import Ledger

PASSPHRASE = "correct horse battery staple"


def officer_home(root: Path, name: str, entries: int = 3) -> Path:
    """A home whose ledger holds `entries` real entries signed by a new key."""
    home = root / name.replace(" ", "-")
    key = Ed25519PrivateKey.generate()
    with Ledger.open(home) as ledger:
        for i in range(entries):
            ledger.append(
                action="trust" if i else "keygen",
                subject={"name": f"{name} {i}", "fingerprint": f"{i:064x}"},
                signer=key,
                signer_name=name,
                time=f"2026-11-25T12:{i // 60 % 60:02d}:{i % 60:02d}Z",
            )
    return home


def add_entries(home: Path, name: str, count: int, key: Ed25519PrivateKey | None = None) -> None:
    key = key or Ed25519PrivateKey.generate()
    with Ledger.open(home) as ledger:
        for i in range(count):
            ledger.append(
                action="trust",
                subject={"name": f"more {i}", "fingerprint": os.urandom(32).hex()},
                signer=key,
                signer_name=name,
                time="2026-11-26T09:00:00Z",
            )


def cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CUSTODY_HOME=str(home), CUSTODY_PASSPHRASE=PASSPHRASE)
    env.pop("CUSTODY_KEY", None)
    return env


def custody_process(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "custody", *args],
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def custody(home: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    proc = custody_process(home, *args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def custody_json(home: Path, *args: str) -> tuple[int, Any]:
    code, out, err = custody(home, *args, "--json")
    assert out.strip(), err
    return code, json.loads(out)
