"""`custody similar`: perceptual matching across bundles or a whole case,
and the analysts' signed decisions on what it suggests (docs/similar.md).

Reads the bundles (their signed analysis in custody/similar.json, or, for a
bundle made before analysis existed, a recorded analysis from the ledger or
one made now from its files), the decisions recorded in the ledger, and
groups the items with custody.similar.group. Nothing in a bundle is ever
written; what is recorded goes into the ledger and $CUSTODY_HOME.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.base.fsutil import replace_file
from custody.base.hashing import sha256_bytes
from custody.base.home import similar_dir
from custody.base.keys import Signer
from custody.io.ledger_store import Ledger
from custody.io.team.db import TeamLogUnavailable
from custody.ops.similar_case import (
    case_file_hashes,
    merge_entries,
    pull_missing,
    team_case_entries,
)
from custody.ops.similar_read import (
    ANALYSIS,
    Loaded,
    case_bundles,
    load_bundle,
    scoped_hashes,
)
from custody.scope.limit import ScopeLimit, load_scope_limit
from custody.similar.group import Decision, Item, Matching, group_items
from custody.tlog.entries import EntryError, parse_entry

CONFIRM = "similar-confirm"
REJECT = "similar-reject"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SimilarResult:
    """What `custody similar` found: the items read, and how they group."""

    items: tuple[Item, ...]
    matching: Matching
    bundles: tuple[str, ...]
    case: str | None
    warnings: tuple[str, ...]
    recorded: tuple[int, ...]
    """Ledger entries of analyses recorded by this run (with --record)."""
    not_found: tuple[dict[str, Any], ...] = ()
    """Bundles of the case that the ledger or the team log records and no --in holds."""
    scopes: tuple[dict[str, Any], ...] | None = None
    """With --scope: each scope record the comparison was limited to (its SHA-256,
    the bundle it is about, how many of its files were compared); None without."""


@dataclass(frozen=True)
class DecisionResult:
    case: str
    a: str
    b: str
    verdict: str
    note: str
    entry: int
    officer: str
    time: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decide_pair(
    *,
    home: Path,
    case: str,
    a: str,
    b: str,
    confirm: bool,
    note: str,
    signer: Signer,
    search: Sequence[Path] = (),
    scopes: Sequence[Path] = (),
) -> DecisionResult:
    """Record an analyst's decision that files `a` and `b` (SHA-256) of `case`
    show the same content (confirm) or do not (reject), as a signed ledger
    entry. Nothing is merged or deleted; a later decision on the same pair
    takes the place of an earlier one in the output, and both stay in the
    ledger. Raises InputError for a malformed SHA-256, the same file twice, or
    a SHA-256 that is no file of the case's bundles found under `search`
    (default: the current folder), LedgerDamaged when the ledger does not
    match its checkpoint. With `scopes`, A and B must be files those scope
    records select (of their bundles under `search`): a decision on anything
    outside them is refused, and the entry names the records' SHA-256."""
    a, b = a.strip().lower(), b.strip().lower()
    for value in (a, b):
        if not _SHA256.fullmatch(value):
            raise InputError(f"not a SHA-256 (64 hex digits): {value[:80]!r}")
    if a == b:
        raise InputError("both SHA-256 values are the same file")
    if not case.strip():
        raise InputError("a case id is needed (--case)")
    if not note.strip():
        raise InputError("say why in --note: the decision is evidence too")
    where = list(search) or [Path(".")]
    entries = merge_entries(team_case_entries(home, case), _ledger_entries(home))
    files = case_file_hashes(home, case, entries, where)
    for value in (a, b):
        if value not in files:
            raise InputError(
                f"{value} is not a file of case {case}'s bundles found under "
                + ", ".join(str(p) for p in where)
            )
    subject_scopes: list[str] = []
    if scopes:
        limits = list(load_limits(scopes).values())
        inside = scoped_hashes(limits, where)
        for value in (a, b):
            if value not in inside:
                raise InputError(
                    f"{value} is outside the scope records given: a decision on it is refused"
                )
        subject_scopes = sorted(limit.scope_sha256 for limit in limits)
    first, second = sorted((a, b))
    verdict = "confirmed" if confirm else "rejected"
    time = _now()
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action=CONFIRM if confirm else REJECT,
            subject={
                "case": case,
                "a": first,
                "b": second,
                "note": note,
                **({"scope_sha256": subject_scopes} if subject_scopes else {}),
            },
            signer=signer.key,
            signer_name=signer.name,
            time=time,
        )
    return DecisionResult(case, first, second, verdict, note, appended.index, signer.name, time)


def find_similar(
    *,
    home: Path,
    bundles: Sequence[Path] = (),
    case: str | None = None,
    search: Sequence[Path] = (),
    pull: Path | None = None,
    record: Signer | None = None,
    workers: int | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    scopes: Sequence[Path] = (),
) -> SimilarResult:
    """Group the images and videos of `bundles` (folders or archives), or of
    every bundle of `case` the ledger records that is found under `search`
    (folders, default the current one). With `record`, an analysis made now
    for a bundle without one is stored under $CUSTODY_HOME and recorded as a
    signed ledger entry (the bundle is never touched). With `pull`, a bundle of
    the case not found under `search` that a `store` entry says is in an S3
    store is pulled into that folder and compared.
    With `scopes` (scope records, one per bundle compared), only the files each
    bundle's record selects are read, analysed, compared and shown; a bundle
    without one, or a record about no bundle compared, is refused.
    Raises InputError (nothing to compare, not a bundle), LedgerDamaged."""
    limits = load_limits(scopes) if scopes else None
    if limits is not None and record is not None:
        raise InputError(
            "--record keeps a whole bundle's analysis: it cannot be made under --scope"
        )
    warnings: list[str] = []

    def warn(line: str) -> None:
        warnings.append(line)
        if on_warning is not None:
            on_warning(line)

    if record is not None:
        Ledger.refuse_if_damaged(home)  # before the long work, not after (ADR 0015)
    entries = _ledger_entries(home)
    team_cases: set[str] = set()

    def with_team(case_id: str, *, required: bool) -> None:
        # When this home has joined a team: every officer's entries for the case.
        # Drawing a case needs the team log; showing other officers' decisions
        # on bundles given by path goes on without it, and says so.
        nonlocal entries
        if case_id not in team_cases:
            team_cases.add(case_id)
            try:
                entries = merge_entries(team_case_entries(home, case_id), entries)
            except TeamLogUnavailable as e:
                if required:
                    raise
                warn(f"other officers' decisions are not shown: {e}")

    paths = list(bundles)
    not_found: list[dict[str, Any]] = []
    if case is not None:
        with_team(case, required=True)
        paths += case_bundles(case, entries, list(search) or [Path(".")], warn, not_found)
        if pull is not None and not_found:
            pulled, not_found = pull_missing(not_found, entries, pull, warn)
            paths += pulled
    if not paths:
        raise InputError("no bundles to compare: give BUNDLE paths or --case with --in")
    items: list[Item] = []
    used_scopes: list[dict[str, Any]] = []
    recorded: list[int] = []
    seen: set[str] = set()
    for path in paths:
        loaded = load_bundle(
            path, home, entries, warn, workers, on_note or (lambda _: None), limits
        )
        if loaded.statement_sha256 in seen:
            continue
        seen.add(loaded.statement_sha256)
        items.extend(loaded.items)
        if loaded.scope is not None:
            used_scopes.append({**loaded.scope.to_json(), "compared": len(loaded.items)})
        if record is not None and loaded.fresh is not None:
            recorded.append(_record_analysis(home, loaded, record))
    cases = {it.case for it in items}
    for case_id in sorted(cases):
        with_team(case_id, required=False)
    if limits is not None:
        used = {s["scope_sha256"] for s in used_scopes}
        for limit in limits.values():
            if limit.scope_sha256 not in used:
                raise InputError(
                    "the scope record is about no bundle compared here", path=limit.record
                )
    decisions = [d for c, d in _decisions(entries) if c in cases or c == case]
    matching = group_items(items, decisions)
    return SimilarResult(
        tuple(items),
        matching,
        tuple(str(p) for p in paths),
        case,
        tuple(warnings),
        tuple(recorded),
        tuple(not_found),
        tuple(used_scopes) if limits is not None else None,
    )


def load_limits(scopes: Sequence[Path]) -> dict[str, ScopeLimit]:
    """Scope records by the statement SHA-256 they are about: one per bundle
    (InputError for two about the same bundle, or a damaged record)."""
    out: dict[str, ScopeLimit] = {}
    for record in scopes:
        limit = load_scope_limit(record)
        if limit.statement_sha256 in out:
            raise InputError(
                "two scope records are about the same bundle: give one per bundle",
                path=str(record),
            )
        out[limit.statement_sha256] = limit
    return out


def _ledger_entries(home: Path) -> list[tuple[int, Any]]:
    if not Ledger.exists(home):
        return []
    out = []
    with Ledger.open(home, create=False) as ledger:
        for stored in ledger.entries():
            try:
                out.append((stored.position, parse_entry(stored.entry)))
            except EntryError:
                continue  # `ledger verify` reports it; a decision there is not read
    return out


def _decisions(entries: list[tuple[int, Any]]) -> list[tuple[str, Decision]]:
    found = []
    for position, entry in entries:
        if entry.action not in (CONFIRM, REJECT):
            continue
        s = entry.subject
        if not all(isinstance(s.get(k), str) for k in ("case", "a", "b")):
            continue
        verdict = "confirmed" if entry.action == CONFIRM else "rejected"
        found.append(
            (
                s["case"],
                Decision(
                    s["a"],
                    s["b"],
                    verdict,
                    str(s.get("note") or ""),
                    entry.actor_name,
                    entry.time,
                    position,
                ),
            )
        )
    return found


def _record_analysis(home: Path, loaded: Loaded, signer: Signer) -> int:
    assert loaded.fresh is not None
    folder = similar_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{loaded.statement_sha256}.json"
    replace_file(target, loaded.fresh)
    analysed = sum(1 for it in loaded.items if it.analysis and it.analysis.not_analysed is None)
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action=ANALYSIS,
            subject={
                "bundle_id": loaded.statement["bundle_id"],
                "case": loaded.statement["case"],
                "statement_sha256": loaded.statement_sha256,
                "analysis_sha256": sha256_bytes(loaded.fresh),
                "analysed": analysed,
                "file": os.path.join("similar", target.name),
            },
            signer=signer.key,
            signer_name=signer.name,
            time=_now(),
        )
    return appended.index
