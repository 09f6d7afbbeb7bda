"""Witnesses cosigning team checkpoints (docs/team.md, "Witnesses").

A team checkpoint is an ordinary C2SP checkpoint whose origin and key name is the
team's origin, so any C2SP tlog-witness (`custody witness serve` among them)
cosigns it once its operator accepts the team key:

    custody witness add-log custody-team/<uuid> --key met-team.pub

The cosigned checkpoints and the size each witness holds are kept in the team
database (tables `cosigned` and `witnesses`), so that every officer's
`team proof` staples them; they are checked by `team verify` like everything
else the database holds. The submitting itself is ops/witness_submit.py's, over the
team log as a WitnessedLog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from custody.base.errors import CustodyError
from custody.io import witness_client as client
from custody.io.team.db import connect
from custody.io.team.witnessing import TeamLog
from custody.ops.witness_submit import WitnessRun, warn_about, witness_log
from custody.policy import TrustPolicy
from custody.team.config import load_team_config

if TYPE_CHECKING:
    pass

Warn = Callable[[str], None]

"""Also in db.SCHEMA; created here too for team logs made before witnessing."""


@contextmanager
def open_team_log(home: Path, *, purpose: str) -> Iterator[TeamLog]:
    """The team log this home joined, as a WitnessedLog. Raises InputError when
    not in a team, TeamLogUnavailable when the database cannot be reached."""
    config = load_team_config(home)
    with connect(config.database, purpose=purpose) as conn:
        yield TeamLog(conn, config, home)


def witness_team(
    *, home: Path, policy: TrustPolicy, urls: Sequence[str], timeout: float = client.TIMEOUT_S
) -> WitnessRun:
    """Submit the team log's current checkpoint to each witness in `urls`."""
    with open_team_log(home, purpose="custody-team-witness") as log:
        return witness_log(log, urls=urls, known=policy.witness_keys, timeout=timeout)


def witness_team_quietly(
    *, home: Path, policy: TrustPolicy, urls: Sequence[str], warn: Warn
) -> None:
    """Automatic witnessing of the team checkpoint ($CUSTODY_WITNESS, after a
    publish): never fails the operation; one warning line per witness that did
    not cosign."""
    if not urls:
        return
    try:
        run = witness_team(home=home, policy=policy, urls=urls)
    except CustodyError as e:
        warn(f"team witnessing skipped: {e.diagnostics()}")
        return
    warn_about(run, warn, later="custody team witness")
