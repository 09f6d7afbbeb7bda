"""Reading bundles for `custody similar`: the bundles of a case, found by the
statements the ledger's ingest entries sign, and each bundle's files with
their analysis (signed in the bundle, recorded in the ledger, or made now).
Nothing in a bundle is written."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import InputError, NotABundleError
from custody.base.fsutil import unsafe_path_reason
from custody.base.hashing import sha256_bytes
from custody.base.home import similar_dir
from custody.base.workers import run_parallel
from custody.bundle.format import layout
from custody.bundle.format.statement import StatementError, parse_statement
from custody.bundle.read.reader import scan_bundle
from custody.bundle.read.scan import BundleScan
from custody.similar.analyse import NEVER_TRIED, algorithm, analyse_file, kind_of
from custody.similar.document import Analysis, parse_similar_document, similar_document
from custody.similar.group import Item

if TYPE_CHECKING:
    from custody.scope.limit import ScopeLimit

ANALYSIS = "similar-analysis"


def case_bundles(
    case: str,
    entries: list[tuple[int, Any]],
    search: list[Path],
    warn: Callable[[str], None],
    not_found: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """The bundles of `case` the ledger (and the team log) records, found as
    folders, .zip or .tar files in `search` or one level below; each must hold
    the statement the ingest entry names. Those not found are warned of and
    added to `not_found`."""
    wanted: dict[str, str] = {}
    by_sha: dict[str, Any] = {}
    for _, entry in entries:
        s = entry.subject
        if (
            entry.action == "ingest"
            and s.get("case") == case
            and isinstance(s.get("bundle_id"), str)
            and isinstance(s.get("statement_sha256"), str)
        ):
            wanted[s["statement_sha256"]] = s["bundle_id"]
            by_sha.setdefault(s["statement_sha256"], entry)
    if not wanted:
        raise InputError(f"the ledger and the team log record no bundle of case {case!r}")
    found: dict[str, Path] = {}
    for root in search:
        for candidate in _candidates(root):
            statement = _statement_bytes(candidate)
            if statement is not None and sha256_bytes(statement) in wanted:
                found.setdefault(sha256_bytes(statement), candidate)
    for sha, bundle_id in wanted.items():
        if sha not in found:
            entry = by_sha[sha]
            exhibit = entry.subject.get("exhibit")
            warn(
                f"bundle {bundle_id} of case {case} (exhibit {exhibit or '-'}, ingested by "
                f"{entry.actor_name}) is recorded but not found under "
                + ", ".join(str(p) for p in search)
            )
            if not_found is not None:
                not_found.append(
                    {
                        "bundle_id": bundle_id,
                        "exhibit": exhibit if isinstance(exhibit, str) else None,
                        "statement_sha256": sha,
                        "submitted_by": entry.actor_name,
                        "submitted_at": entry.time,
                    }
                )
    return [found[s] for s in sorted(found, key=lambda s: str(found[s]))]


def _candidates(root: Path) -> list[Path]:
    out = []
    levels = [root]
    for _ in range(3):
        below = []
        for d in levels:
            if (d / layout.STATEMENT).is_file() or (
                d.is_file() and d.name.endswith((".zip", ".tar", ".tar.gz", ".tgz"))
            ):
                out.append(d)
                continue
            if d.is_dir() and not d.is_symlink():
                try:
                    below.extend(sorted(p for p in d.iterdir() if not p.name.startswith(".")))
                except OSError:
                    continue
        levels = below
    return out


def _statement_bytes(path: Path) -> bytes | None:
    if path.is_dir():
        try:
            return (path / layout.STATEMENT).read_bytes()
        except OSError:
            return None
    try:
        scan = scan_bundle(path, hash_payload=False)
    except Exception:  # not a bundle: the search goes on
        return None
    return scan.tag_bytes.get(layout.STATEMENT)


def scoped_hashes(limits: list[ScopeLimit], search: list[Path]) -> set[str]:
    """The SHA-256 of every payload file the scope records select, each read
    from its bundle found under `search` (InputError when one is not found)."""
    wanted = {limit.statement_sha256: limit for limit in limits}
    out: set[str] = set()
    for root in search:
        for candidate in _candidates(root):
            statement = _statement_bytes(candidate)
            limit = wanted.pop(sha256_bytes(statement), None) if statement else None
            if limit is None:
                continue
            scan = scan_bundle(candidate, hash_payload=False)
            stmt = parse_statement(scan.tag_bytes.get(layout.STATEMENT) or b"")
            for r in _metadata_records(scan, stmt, candidate, lambda _: None):
                if isinstance(r.get("path"), str) and limit.holds_file(r["path"]):
                    out.add(str(r.get("sha256") or ""))
    for limit in wanted.values():
        raise InputError(
            "the bundle this scope record is about is not found under "
            + ", ".join(str(p) for p in search),
            path=limit.record,
        )
    return out


@dataclass(frozen=True)
class Loaded:
    items: list[Item]
    statement: dict[str, Any]
    statement_sha256: str
    fresh: bytes | None
    """custody/similar.json bytes of an analysis made now (an older bundle)."""
    scope: ScopeLimit | None = None
    """The scope record the items were limited to (--scope)."""


def load_bundle(
    path: Path,
    home: Path,
    entries: list[tuple[int, Any]],
    warn: Callable[[str], None],
    workers: int | None,
    note: Callable[[str], None],
    limits: dict[str, ScopeLimit] | None = None,
) -> Loaded:
    """A bundle's images and videos with their analysis. With `limits` (scope
    records by the statement SHA-256 they are about), only the files the
    bundle's scope record selects are read, analysed and returned; a bundle
    without one is refused (InputError)."""
    scan = scan_bundle(path, hash_payload=False)
    raw = scan.tag_bytes.get(layout.STATEMENT)
    if raw is None:
        raise NotABundleError("has no custody/statement.json", path=str(path))
    try:
        statement = parse_statement(raw)
    except StatementError as e:
        raise InputError(f"custody/statement.json: {e}", path=str(path)) from e
    statement_sha256 = sha256_bytes(raw)
    records = _metadata_records(scan, statement, path, warn)
    limit = None
    if limits is not None:
        limit = limits.get(statement_sha256)
        if limit is None:
            raise InputError(
                "no --scope record is about this bundle: with --scope, give one for every "
                "bundle compared",
                path=str(path),
            )
        records = [
            r for r in records if isinstance(r.get("path"), str) and limit.holds_file(r["path"])
        ]
    analyses, source, fresh = _analyses(
        scan, statement, statement_sha256, records, path, home, entries, warn, workers, note
    )
    items = []
    for r in records:
        rel = r.get("path")
        if not isinstance(rel, str):
            continue
        items.append(
            Item(
                bundle=str(path),
                bundle_id=str(statement["bundle_id"]),
                case=str(statement["case"]),
                exhibit=statement.get("exhibit"),
                officer=str(statement["officer"]),
                created=str(statement["created"]),
                path=rel,
                sha256=str(r.get("sha256") or ""),
                size=int(r.get("size") or 0),
                captured_at=r.get("captured_at") if isinstance(r.get("captured_at"), str) else None,
                mime=r.get("mime") if isinstance(r.get("mime"), str) else None,
                analysis=analyses.get(rel),
                analysis_source=source,
            )
        )
    return Loaded(items, statement, statement_sha256, fresh, limit)


def _metadata_records(
    scan: BundleScan, statement: dict[str, Any], path: Path, warn: Callable[[str], None]
) -> list[dict[str, Any]]:
    data = scan.read_tag(layout.METADATA)
    if data is None:
        raise InputError("the bundle has no custody/metadata.json", path=str(path))
    if sha256_bytes(data) != statement["metadata_sha256"]:
        warn(f"{path}: custody/metadata.json is not the signed one; run custody verify")
    try:
        doc = json.loads(data.decode("utf-8"))
        return [r for r in doc["files"] if isinstance(r, dict)]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise InputError("custody/metadata.json is damaged", path=str(path)) from e


def _analyses(
    scan: BundleScan,
    statement: dict[str, Any],
    statement_sha256: str,
    records: list[dict[str, Any]],
    path: Path,
    home: Path,
    entries: list[tuple[int, Any]],
    warn: Callable[[str], None],
    workers: int | None,
    note: Callable[[str], None],
) -> tuple[dict[str, Analysis], str, bytes | None]:
    """The analysis of every image and video: signed in the bundle, recorded
    in the ledger, or made now (returned as bytes to record)."""
    signed = statement.get("similar_sha256")
    if isinstance(signed, str):
        data = scan.read_tag(layout.SIMILAR)
        if data is not None and sha256_bytes(data) == signed:
            try:
                signed_records = parse_similar_document(data)
                # Recorded without trying (the extra absent, or switched off): try now.
                if not all(a.not_analysed in NEVER_TRIED for a in signed_records):
                    return {a.path: a for a in signed_records}, "bundle", None
            except ValueError as e:
                warn(f"{path}: custody/similar.json cannot be read ({e}); analysing again")
        else:
            warn(f"{path}: custody/similar.json is missing or not the signed one; analysing again")
    stored = _recorded_analysis(home, statement_sha256, entries)
    if stored is not None:
        return {a.path: a for a in parse_similar_document(stored)}, "ledger", None
    media = [
        (str(r["path"]), str(r.get("sha256") or ""), kind)
        for r in records
        if isinstance(r.get("path"), str)
        and (kind := kind_of(r.get("mime"), str(r["path"]))) is not None
    ]
    if not media:
        return {}, "now", None
    if not path.is_dir():
        reason = "an archive made before analysis existed: run custody similar on its folder"
        return (
            {rel: Analysis(rel, sha, kind, not_analysed=reason) for rel, sha, kind in media},
            "now",
            None,
        )
    data_dir = path / layout.PAYLOAD_DIR
    note(f"{path}: analysing {len(media)} images and videos now (not analysed at ingest)")

    def one(item: tuple[str, str, str], stop: threading.Event) -> Analysis:
        rel, sha, kind = item
        if unsafe_path_reason(rel) is not None:
            return Analysis(rel, sha, kind, not_analysed="the path is not safe to open")
        target = data_dir / rel
        if target.is_symlink() or not target.is_file():
            return Analysis(rel, sha, kind, not_analysed="the file is missing from the bundle")
        if sha256_of_file(target) != sha:
            return Analysis(rel, sha, kind, not_analysed="the file differs from its manifest hash")
        return analyse_file(target, rel_path=rel, sha256=sha, kind=kind)

    results = run_parallel(one, media, workers=workers)
    document = similar_document(results, algorithm=algorithm())
    return {a.path: a for a in results}, "now", document


def sha256_of_file(path: Path) -> str:
    from custody.base.hashing import hash_stream

    with open(path, "rb") as fh:
        return hash_stream(fh)[0]


def _recorded_analysis(
    home: Path, statement_sha256: str, entries: list[tuple[int, Any]]
) -> bytes | None:
    """A stored analysis of this bundle whose SHA-256 a ledger entry signs."""
    signed = {
        str(e.subject.get("analysis_sha256"))
        for _, e in entries
        if e.action == ANALYSIS and e.subject.get("statement_sha256") == statement_sha256
    }
    if not signed:
        return None
    stored = similar_dir(home) / f"{statement_sha256}.json"
    try:
        data = stored.read_bytes()
    except OSError:
        return None
    return data if sha256_bytes(data) in signed else None
