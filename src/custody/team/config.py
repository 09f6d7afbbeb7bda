"""Which team log this home belongs to: $CUSTODY_HOME/team/. No network here.

team.json    the database URL, the team's origin and name (written 0600: the URL
             may hold a password)
team.pub     the team log's public key, pinned when the home joined: checkpoints
             are checked against this copy, never against the database's
state.json   what this home last saw: the published size of its own ledger and
             the newest team checkpoint (kept outside the database, so a team log
             rewritten behind the officers' backs is seen)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import InputError, KeyFileError
from custody.base.fsutil import environment_error, replace_file
from custody.base.home import team_dir
from custody.base.keys import PublicKeyInfo, parse_public_key_file, public_key_file_bytes

CONFIG_FORMAT = "custody/team-config/v1"


@dataclass(frozen=True)
class TeamConfig:
    """The team log this home publishes to."""

    database: str
    origin: str
    name: str
    key: PublicKeyInfo


def is_joined(home: Path) -> bool:
    return (team_dir(home) / "team.json").exists()


def load_team_config(home: Path) -> TeamConfig:
    """This home's team. Raises InputError when it has joined none."""
    path = team_dir(home) / "team.json"
    try:
        doc = json.loads(path.read_bytes())
        key = parse_public_key_file((team_dir(home) / "team.pub").read_bytes())
        return TeamConfig(str(doc["database"]), str(doc["origin"]), str(doc["name"]), key)
    except FileNotFoundError as e:
        raise InputError(
            "this home is in no team: run 'custody team join postgresql://...'", path=str(path)
        ) from e
    except (OSError, ValueError, KeyError, TypeError, KeyFileError) as e:
        raise InputError(f"damaged team configuration ({e})", path=str(path)) from e


def save_team_config(home: Path, config: TeamConfig) -> None:
    directory = team_dir(home)
    doc = {
        "format": CONFIG_FORMAT,
        "database": config.database,
        "origin": config.origin,
        "name": config.name,
        "fingerprint": config.key.fingerprint,
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        replace_file(
            directory / "team.pub", public_key_file_bytes(config.name, config.key.public_key)
        )
        replace_file(
            directory / "team.json",
            (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(),
            mode=0o600,
        )
    except OSError as e:
        raise environment_error(e, e.filename or directory) from e


def pinned_team_key(home: Path) -> PublicKeyInfo | None:
    """The team key this home pinned when it joined, if any."""
    path = team_dir(home) / "team.pub"
    try:
        return parse_public_key_file(path.read_bytes(), path=path)
    except FileNotFoundError:
        return None
    except (OSError, KeyFileError):
        return None


def load_state(home: Path) -> dict[str, Any]:
    try:
        doc = json.loads((team_dir(home) / "state.json").read_bytes())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def save_state(home: Path, **changes: Any) -> None:
    state = load_state(home)
    state.update(changes)
    path = team_dir(home) / "state.json"
    try:
        replace_file(path, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode())
    except OSError as e:
        raise environment_error(e, path) from e
