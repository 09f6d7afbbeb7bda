"""Which intake state an operation works on: the local folder DIR, or the
state several servers share (records in PostgreSQL, bytes in S3) when the
command names a store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import InputError

DATABASE_ENV = "CUSTODY_INTAKE_DATABASE"


@dataclass(frozen=True)
class SharedOptions:
    """`--store s3://bucket/prefix`, `--endpoint-url`, `--database`: all None
    for an intake that keeps its state in its folder."""

    store: str | None = None
    endpoint_url: str | None = None
    database: str | None = None

    @property
    def shared(self) -> bool:
        return self.store is not None

    def args(self) -> list[str]:
        """The same choice as command-line options (for the finish processes;
        the database URL, which may hold a password, goes in `env()`)."""
        out: list[str] = []
        if self.store is not None:
            out += ["--store", self.store]
        if self.endpoint_url is not None:
            out += ["--endpoint-url", self.endpoint_url]
        return out

    def env(self) -> dict[str, str]:
        return {DATABASE_ENV: self.database} if self.database is not None else {}


def open_state(*, home: Path, data: Path, options: SharedOptions) -> Any:
    """A StateDir over `data`, or a SharedState (the database from --database,
    else the team configuration of `custody team join`). Raises InputError."""
    from custody.io.intake.store import StateDir

    if options.store is None:
        if options.database is not None or options.endpoint_url is not None:
            raise InputError("--database and --endpoint-url need --store s3://bucket/prefix")
        return StateDir(data)
    from custody.io.intake.shared import SharedState
    from custody.io.s3.location import S3Location
    from custody.team.config import is_joined, load_team_config

    location = S3Location.parse(options.store)
    database = options.database
    if database is None:
        if not is_joined(home):
            raise InputError(
                "a shared intake needs PostgreSQL: give --database postgresql://... "
                "or join the team first (custody team join)"
            )
        database = load_team_config(home).database
    return SharedState(
        data, database=database, location=location, endpoint_url=options.endpoint_url
    )


def clear_failure(state: Any, inv_id: str) -> None:
    """Forget a failed finish, so that it can be tried again."""
    remove = getattr(state, "remove_marker", None)
    if remove is not None:
        remove(inv_id, "failed.json")
    else:
        (state.submission(inv_id) / "failed.json").unlink(missing_ok=True)
