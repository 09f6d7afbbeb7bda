"""Where custody keeps its state: $CUSTODY_HOME, by default ~/.custody.

Every folder directly under the home is named here, and only here: a module
that keeps state under the home asks this one where."""

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


def authority_dir(home: Path) -> Path:
    """The unit's key authority: the unit key and the register it signs (ops/authority.py)."""
    return home / "authority"


def team_dir(home: Path) -> Path:
    """The team log this home joined: team.json, team.pub, state.json, forks/ (team/config.py)."""
    return home / "team"


def registers_dir(home: Path) -> Path:
    """Unit key registers this user trusts (register/store.py)."""
    return home / "registers"


def pending_dir(home: Path) -> Path:
    """Markers of ingests under way (base/pending.py)."""
    return home / "pending"


def ledger_dir(home: Path) -> Path:
    """The officer's ledger: ledger.sqlite3, checkpoint.txt, tokens, forks/ (io/ledger_store.py)."""
    return home / "ledger"


def witness_dir(home: Path) -> Path:
    """This home as a witness: its key, the logs it accepts and their state (witness/config.py)."""
    return home / "witness"


def witnesses_dir(home: Path) -> Path:
    """The witnesses this user trusts, one public key file each (witness/trust.py)."""
    return home / "witnesses"


def tsa_roots_dir(home: Path) -> Path:
    """The TSA root certificates this user trusts (tsa/roots.py)."""
    return home / "tsa-roots"
