"""The PostgreSQL client: connecting with explicit timeouts, the schema, and the
translation of driver errors. The only module that imports psycopg directly.

Schema (schema `custody_team`), docs/team.md explains each table:

    team        id=1: format, origin, name, public_key, private_key, created
    tree_state  id=1: size, root, checkpoint  -- the single row every append locks
    leaves      seq, leaf_hash (unique), data, kind, ledger, entry_index, case_id, bundle_id
    nodes       level, idx, hash              -- perfect subtrees, as in the local ledger
    checkpoints size, note                    -- every signed team checkpoint
    ledgers     origin, size, checkpoint      -- each officer ledger's published head
    cosigned    size, note                    -- team checkpoints with witnesses' cosignatures
    witnesses   url, size                     -- the size each witness last cosigned (a hint)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from custody.base.errors import EnvironmentFailure, InputError

try:
    import psycopg
except ImportError:  # custody without the `team` extra: everything else still works
    psycopg = None  # type: ignore[assignment]

SCHEMA_NAME = "custody_team"
TEAM_FORMAT = "custody/team-log/v1"

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 120_000  # a 100,000-leaf audit reads for seconds, not minutes
LOCK_TIMEOUT_MS = 120_000  # waiting for other publishers' appends
IDLE_IN_TRANSACTION_MS = 300_000  # a publisher that hangs inside its append lets go

SCHEMA = f"""
CREATE SCHEMA {SCHEMA_NAME};
SET search_path TO {SCHEMA_NAME};
CREATE TABLE team (
    id integer PRIMARY KEY CHECK (id = 1), format text NOT NULL, origin text NOT NULL,
    name text NOT NULL, public_key bytea NOT NULL, private_key bytea NOT NULL,
    created text NOT NULL);
CREATE TABLE tree_state (
    id integer PRIMARY KEY CHECK (id = 1), size bigint NOT NULL, root bytea NOT NULL,
    checkpoint bytea NOT NULL);
CREATE TABLE leaves (
    seq bigint PRIMARY KEY, leaf_hash bytea NOT NULL UNIQUE, data bytea NOT NULL,
    kind text NOT NULL, ledger text NOT NULL, entry_index bigint, case_id text,
    bundle_id text);
CREATE INDEX leaves_case ON leaves (case_id);
CREATE INDEX leaves_bundle ON leaves (bundle_id);
CREATE TABLE nodes (
    level integer NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL,
    PRIMARY KEY (level, idx));
CREATE TABLE checkpoints (size bigint PRIMARY KEY, note bytea NOT NULL);
CREATE TABLE ledgers (origin text PRIMARY KEY, size bigint NOT NULL, checkpoint bytea NOT NULL);
CREATE TABLE cosigned (size bigint PRIMARY KEY, note bytea NOT NULL);
CREATE TABLE witnesses (url text PRIMARY KEY, size bigint NOT NULL);
"""


class TeamLogUnavailable(EnvironmentFailure):
    """The team database cannot be reached (down, unreachable, refused us)."""

    kind = "team_unavailable"


def _where(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the team database"
    host, port, db = info.get("host", "localhost"), info.get("port", "5432"), info.get("dbname")
    return f"postgresql://{host}:{port}/{db or ''}"


@contextmanager
def connect(url: str, *, purpose: str = "custody") -> Iterator[psycopg.Connection[Any]]:
    """An open connection with explicit timeouts, search_path set to the team
    schema. Raises TeamLogUnavailable when the server cannot be reached and
    InputError when the URL is not usable."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise InputError("the team database must be a postgresql:// URL")
    if psycopg is None:
        raise InputError("the team log needs psycopg: pip install 'custody[team]'")
    options = (
        f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS} "
        f"-c search_path={SCHEMA_NAME}"
    )
    try:
        conn = psycopg.connect(
            url,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=purpose,
            options=options,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
    except psycopg.ProgrammingError as e:
        raise InputError(f"unusable database URL ({e})") from e
    except psycopg.Error as e:
        raise TeamLogUnavailable(f"cannot reach {_where(url)} ({_first_line(e)})") from e
    try:
        yield conn
    except psycopg.OperationalError as e:
        raise TeamLogUnavailable(f"lost {_where(url)} ({_first_line(e)})") from e
    except psycopg.errors.UndefinedTable as e:
        raise InputError(
            f"{_where(url)} holds no custody team log (run 'custody team init')"
        ) from e
    except psycopg.Error as e:
        raise EnvironmentFailure(f"the team database failed ({_first_line(e)})") from e
    finally:
        conn.close()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else e.__class__.__name__


def create_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the team schema inside the caller's transaction. Raises InputError
    when the database already holds a team log."""
    exists = conn.execute(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (SCHEMA_NAME,)
    ).fetchone()
    if exists:
        raise InputError("this database already holds a custody team log (custody team join URL)")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
