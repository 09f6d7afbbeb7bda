"""Where custody keeps its state: $CUSTODY_HOME, by default ~/.custody."""

from __future__ import annotations

import os
from pathlib import Path


def custody_home() -> Path:
    """The custody home directory (not created here)."""
    env = os.environ.get("CUSTODY_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".custody"


def keys_dir(home: Path) -> Path:
    """Where this user's own key pairs live."""
    return home / "keys"


def similar_dir(home: Path) -> Path:
    """Analyses of bundles made before ingest analysed them (`custody similar
    --record`), each signed by a ledger entry."""
    return home / "similar"


def trust_dir(home: Path) -> Path:
    """The trust store: public keys whose signatures this user accepts."""
    return home / "trust"
