"""`custody similar`: perceptual matching across bundles or a whole case,
and the analysts' signed decisions on what it suggests (docs/similar.md).

Reads the bundles (their signed analysis in custody/similar.json, or, for a
bundle made before analysis existed, a recorded analysis from the ledger or
one made now from its files), the decisions recorded in the ledger, and
groups the items with custody.similar.group. Nothing in a bundle is ever
written; what is recorded goes into the ledger and $CUSTODY_HOME.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..bundle import layout
from ..bundle.reader import BundleScan, scan_bundle
from ..bundle.statement import StatementError, parse_statement
from ..errors import InputError, NotABundleError
from ..fsutil import replace_file, unsafe_path_reason
from ..hashing import sha256_bytes
from ..home import similar_dir
from ..keys import Signer
from ..ledger.entries import EntryError, parse_entry
from ..ledger.store import Ledger
from ..similar.analyse import NEVER_TRIED, algorithm, analyse_file, kind_of
from ..similar.document import Analysis, parse_similar_document, similar_document
from ..similar.group import Decision, Item, Matching, group_items
from ..workers import run_parallel

CONFIRM = "similar-confirm"
REJECT = "similar-reject"
ANALYSIS = "similar-analysis"
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
    *, home: Path, case: str, a: str, b: str, confirm: bool, note: str, signer: Signer
) -> DecisionResult:
    """Record an analyst's decision that files `a` and `b` (SHA-256) of `case`
    show the same content (confirm) or do not (reject), as a signed ledger
    entry. Nothing is merged or deleted; a later decision on the same pair
    takes the place of an earlier one in the output, and both stay in the
    ledger. Raises InputError for a malformed SHA-256 or the same file twice,
    LedgerDamaged when the ledger does not match its checkpoint."""
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
    first, second = sorted((a, b))
    verdict = "confirmed" if confirm else "rejected"
    time = _now()
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action=CONFIRM if confirm else REJECT,
            subject={"case": case, "a": first, "b": second, "note": note},
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
    record: Signer | None = None,
    workers: int | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> SimilarResult:
    """Group the images and videos of `bundles` (folders or archives), or of
    every bundle of `case` the ledger records that is found under `search`
    (folders, default the current one). With `record`, an analysis made now
    for a bundle without one is stored under $CUSTODY_HOME and recorded as a
    signed ledger entry (the bundle is never touched).
    Raises InputError (nothing to compare, not a bundle), LedgerDamaged."""
    warnings: list[str] = []

    def warn(line: str) -> None:
        warnings.append(line)
        if on_warning is not None:
            on_warning(line)

    if record is not None:
        Ledger.refuse_if_damaged(home)  # before the long work, not after (ADR 0015)
    entries = _ledger_entries(home)
    paths = list(bundles)
    if case is not None:
        paths += _case_bundles(case, entries, list(search) or [Path(".")], warn)
    if not paths:
        raise InputError("no bundles to compare: give BUNDLE paths or --case with --in")
    items: list[Item] = []
    recorded: list[int] = []
    seen: set[str] = set()
    for path in paths:
        loaded = _load_bundle(path, home, entries, warn, workers)
        if loaded.statement_sha256 in seen:
            continue
        seen.add(loaded.statement_sha256)
        items.extend(loaded.items)
        if record is not None and loaded.fresh is not None:
            recorded.append(_record_analysis(home, loaded, record))
    cases = {it.case for it in items}
    decisions = [d for c, d in _decisions(entries) if c in cases or c == case]
    matching = group_items(items, decisions)
    return SimilarResult(
        tuple(items),
        matching,
        tuple(str(p) for p in paths),
        case,
        tuple(warnings),
        tuple(recorded),
    )


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


def _case_bundles(
    case: str, entries: list[tuple[int, Any]], search: list[Path], warn: Callable[[str], None]
) -> list[Path]:
    """The bundles of `case` the ledger records, found as folders, .zip or .tar
    files in `search` or one level below; each must hold the statement the
    ledger's ingest entry names."""
    wanted: dict[str, str] = {}
    for _, entry in entries:
        s = entry.subject
        if (
            entry.action == "ingest"
            and s.get("case") == case
            and isinstance(s.get("bundle_id"), str)
            and isinstance(s.get("statement_sha256"), str)
        ):
            wanted[s["statement_sha256"]] = s["bundle_id"]
    if not wanted:
        raise InputError(f"the ledger records no bundle of case {case!r}")
    found: dict[str, Path] = {}
    for root in search:
        for candidate in _candidates(root):
            statement = _statement_bytes(candidate)
            if statement is not None and sha256_bytes(statement) in wanted:
                found.setdefault(sha256_bytes(statement), candidate)
    for sha, bundle_id in wanted.items():
        if sha not in found:
            warn(
                f"bundle {bundle_id} of case {case} is in the ledger but not found under "
                + ", ".join(str(p) for p in search)
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


@dataclass(frozen=True)
class _Loaded:
    items: list[Item]
    statement: dict[str, Any]
    statement_sha256: str
    fresh: bytes | None
    """custody/similar.json bytes of an analysis made now (an older bundle)."""


def _load_bundle(
    path: Path,
    home: Path,
    entries: list[tuple[int, Any]],
    warn: Callable[[str], None],
    workers: int | None,
) -> _Loaded:
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
    analyses, source, fresh = _analyses(
        scan, statement, statement_sha256, records, path, home, entries, warn, workers
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
    return _Loaded(items, statement, statement_sha256, fresh)


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
    from ..hashing import hash_stream

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


def _record_analysis(home: Path, loaded: _Loaded, signer: Signer) -> int:
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


RESULT_FORMAT = "custody/similar-result/v1"
WORDING = (
    "A match is a lead for an analyst, not a conclusion: the items' PDQ hashes are within "
    "{d} bits of 256, both of quality {q} or more. Items not grouped are not detected as "
    "matching, which does not mean they differ."
)


def member_json(item: Item) -> dict[str, Any]:
    """One item as --json shows it (docs/json.md, "custody similar")."""
    a = item.analysis
    out: dict[str, Any] = {
        "bundle": item.bundle,
        "bundle_id": item.bundle_id,
        "case": item.case,
        "exhibit": item.exhibit,
        "path": item.path,
        "sha256": item.sha256,
        "size": item.size,
        "mime": item.mime,
        "submitted_by": item.officer,
        "submitted_at": item.created,
        "captured_at": item.captured_at,
        "kind": a.kind if a else None,
        "width": a.width if a else None,
        "height": a.height if a else None,
        "duration_ms": a.duration_ms if a and a.kind == "video" else None,
        "analysis": item.analysis_source,
        "pdq": a.pdq if a else None,
        "quality": a.quality if a else None,
        "frames_hashed": len(a.frames) if a and a.kind == "video" else None,
        "not_analysed": a.not_analysed if a else None,
    }
    return out


def pair_json(pair: Any, index_of: dict[int, int] | None = None) -> dict[str, Any]:
    from ..similar.group import frame_summary

    out: dict[str, Any] = {
        "a": index_of[pair.a] if index_of is not None else pair.a,
        "b": index_of[pair.b] if index_of is not None else pair.b,
        "status": pair.status,
        "how": pair.how,
        "distance": pair.distance,
        "a_share_percent": pair.a_share,
        "b_share_percent": pair.b_share,
        "frames": [{"a_ms": ta, "b_ms": tb, "distance": d} for ta, tb, d in pair.frames],
        **frame_summary(pair),
        "decision": None,
    }
    if pair.decision is not None:
        d = pair.decision
        out["decision"] = {
            "verdict": d.verdict,
            "note": d.note,
            "by": d.who,
            "time": d.time,
            "ledger_entry": d.entry,
        }
    return out


def result_json(result: SimilarResult) -> dict[str, Any]:
    """The document `custody similar --json` prints (docs/json.md)."""
    m = result.matching
    items = result.items
    groups = []
    for g in m.groups:
        index_of = {item: k for k, item in enumerate(g.members)}
        groups.append(
            {
                "status": g.status,
                "members": [member_json(items[i]) for i in g.members],
                "earliest_capture": None if g.earliest is None else index_of[g.earliest],
                "largest": index_of[g.largest],
                "pairs": [pair_json(p, index_of) for p in g.pairs],
            }
        )
    rejected = []
    for p in m.rejected:
        entry = pair_json(p)
        entry["a"], entry["b"] = member_json(items[p.a]), member_json(items[p.b])
        rejected.append(entry)
    return {
        "format": RESULT_FORMAT,
        "thresholds": dict(m.thresholds),
        "wording": WORDING.format(d=m.thresholds["max_distance"], q=m.thresholds["min_quality"]),
        "case": result.case,
        "bundles": list(result.bundles),
        "items": len(items),
        "analysed": m.analysed,
        "not_analysed": [
            {
                "bundle": items[i].bundle,
                "path": items[i].path,
                "sha256": items[i].sha256,
                "reason": _reason(items[i]),
            }
            for i in m.not_analysed
        ],
        "groups": groups,
        "rejected": rejected,
        "recorded_entries": list(result.recorded),
        "warnings": list(result.warnings),
    }


def _reason(item: Item) -> str | None:
    return item.analysis.not_analysed if item.analysis is not None else None
