"""The entries a case is drawn from for `custody similar --case`: this home's
ledger and, when the home has joined a team, every officer's entries for the
case in the team log (ingests, and analysts' decisions published there).

The team log is read in one read-only REPEATABLE READ transaction through
custody.io.team.reads; an entry's case is read from the signed entry, the
index column only narrows the search. Signatures are checked by `custody
team verify`, not here: what this finds is a lead, never a conclusion.
"""

from __future__ import annotations

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
