"""The entries a case is drawn from for `custody similar --case`: this home's
ledger and, when the home has joined a team, every officer's entries for the
case in the team log (ingests, and analysts' decisions published there).

The team log is read in one read-only REPEATABLE READ transaction through
custody.io.team.reads; an entry's case is read from the signed entry, the
index column only narrows the search. Signatures are checked by `custody
team verify`, not here: what this finds is a lead, never a conclusion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from custody.io.team.reads import entry_leaves, reading
from custody.team.config import is_joined, load_team_config
from custody.team.leaves import LeafError, parse_leaf


def team_case_entries(home: Path, case: str) -> list[tuple[int, Any]]:
    """(index in the officer's ledger, entry) of every officer entry for
    `case` in the team log this home joined, in the team log's order; empty
    when the home has joined no team. Raises TeamLogUnavailable."""
    if not is_joined(home):
        return []
    config = load_team_config(home)
    out: list[tuple[int, Any]] = []
    with reading(config.database, purpose="custody-similar") as conn:
        for _, data in entry_leaves(conn, case=case):
            try:
                leaf = parse_leaf(data)
            except LeafError:
                continue  # `team verify` reports it
            entry = leaf.parsed_entry
            if entry is None or entry.subject.get("case") != case:
                continue
            out.append((entry.index, entry))
    return out


def merge_entries(
    team: list[tuple[int, Any]], local: list[tuple[int, Any]]
) -> list[tuple[int, Any]]:
    """The team log's entries, then this home's not yet published there (an
    entry published by this home is in both: it counts once)."""

    def key(entry: Any) -> tuple[str, int, str, str]:
        return (entry.actor_fingerprint, entry.index, entry.action, entry.time)

    seen = {key(e) for _, e in team}
    return [*team, *((p, e) for p, e in local if key(e) not in seen)]


def case_file_hashes(
    home: Path, case: str, entries: list[tuple[int, Any]], search: list[Path]
) -> set[str]:
    """The SHA-256 of every file of the case's bundles found under `search`
    (as each bundle's manifest records it). Raises InputError when the ledger
    and the team log record no bundle of the case."""
    from custody.bundle.format import layout
    from custody.bundle.read.reader import scan_bundle
    from custody.ops.similar_read import case_bundles

    hashes: set[str] = set()
    for path in case_bundles(case, entries, search, lambda _: None):
        try:
            scan = scan_bundle(path, hash_payload=False)
        except Exception:  # unreadable now: its files are not counted
            continue
        manifest = scan.read_tag(layout.MANIFEST)
        for line in (manifest or b"").decode("utf-8", "replace").splitlines():
            digest, _, name = line.partition(" ")
            if name.strip().startswith(layout.PAYLOAD_DIR + "/"):
                hashes.add(digest.strip().lower())
    return hashes


def pull_missing(
    not_found: list[dict[str, Any]],
    entries: list[tuple[int, Any]],
    into: Path,
    warn: Callable[[str], None],
) -> tuple[list[Path], list[dict[str, Any]]]:
    """Bundles recorded but not found that a `store` entry (this home's ledger
    or the team log) says were pushed to an S3 store: pulled into `into`
    (byte-exact, checked against their manifests, as `custody store pull`
    does; a folder already there from an earlier run is used again), each
    checked to hold the statement its ingest entry signs. Returns the folders
    and what is still not found."""
    from custody.base.errors import CustodyError
    from custody.base.hashing import sha256_bytes
    from custody.bundle.format import layout
    from custody.io.s3.location import S3Location
    from custody.ops.store_pull import pull_bundle

    stored: dict[str, tuple[str, str | None]] = {}
    for _, entry in entries:
        s = entry.subject
        if entry.action == "store" and isinstance(s.get("location"), str):
            endpoint = s.get("endpoint_url")
            stored[str(s.get("statement_sha256"))] = (
                s["location"],
                endpoint if isinstance(endpoint, str) else None,
            )
    found: list[Path] = []
    still: list[dict[str, Any]] = []
    for missing in not_found:
        where = stored.get(missing["statement_sha256"])
        if where is None:
            still.append(missing)
            continue
        location, endpoint = where
        try:
            target = into / S3Location.parse(location).name
            if not target.exists():
                pulled = pull_bundle(source=location, out=target, endpoint_url=endpoint)
                if not pulled.intact:
                    raise CustodyError(f"pulled with problems: {pulled.problems[0].line()}")
            statement = (target / layout.STATEMENT).read_bytes()
        except (CustodyError, OSError) as e:
            warn(f"bundle {missing['bundle_id']} stored at {location} cannot be pulled: {e}")
            still.append(missing)
            continue
        if sha256_bytes(statement) != missing["statement_sha256"]:
            warn(f"{target} does not hold the statement of bundle {missing['bundle_id']}")
            still.append(missing)
            continue
        found.append(target)
    return found, still
