"""`custody ledger show`: the ledger as a readable timeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from custody.io.ledger_store import Ledger
from custody.tlog.entries import EntryError, parse_entry


@dataclass(frozen=True)
class CheckedTimeline:
    """The timeline, and what is wrong with the ledger it comes from."""

    rows: list[dict[str, Any]]
    damage: str | None
    """One line when the ledger does not match its signed checkpoint, else None."""


def checked_timeline(
    ledger: Ledger, *, case: str | None = None, exhibit: str | None = None
) -> CheckedTimeline:
    """The timeline after the check an append makes (io/ledger_integrity.py). When
    the ledger is damaged, every entry `ledger verify` names is marked, and is
    listed whatever its case or exhibit says: an edited case id never hides an entry."""
    from custody.io.ledger_integrity import check_head
    from custody.ops.ledger.audit import verify_ledger

    head = check_head(ledger)
    if head.intact:
        return CheckedTimeline(ledger_timeline(ledger, case=case, exhibit=exhibit), None)
    damaged: dict[int, list[str]] = {}
    for problem in verify_ledger(ledger).problems:
        where = problem.path or ""
        if where.startswith("entry ") and where[6:].isdigit():
            damaged.setdefault(int(where[6:]), []).append(problem.kind)
    return CheckedTimeline(
        ledger_timeline(
            ledger,
            case=case,
            exhibit=exhibit,
            damaged={k: ", ".join(v) for k, v in damaged.items()},
        ),
        head.summary(),
    )


def ledger_timeline(
    ledger: Ledger,
    *,
    case: str | None = None,
    exhibit: str | None = None,
    damaged: Mapping[int, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per entry (optionally only one case's, one exhibit's), oldest
    first. An entry in `damaged` (position -> the problems found) is always
    listed, marked.

    An entry's exhibit is its subject's, or else that of the ingest entry of
    its bundle (a hand-over or a verification names only the bundle): so
    `exhibit` also keeps what happened to that exhibit's bundles later."""
    rows = []
    damaged = damaged or {}
    exhibits: dict[str, str] = {}  # bundle id -> the exhibit its ingest recorded
    for stored in ledger.entries():
        mark = damaged.get(stored.position)
        try:
            entry = parse_entry(stored.entry)
        except EntryError as e:
            rows.append(
                {
                    "index": stored.position,
                    "time": None,
                    "action": "UNREADABLE",
                    "who": None,
                    "fingerprint": None,
                    "bundle_id": None,
                    "case": None,
                    "exhibit": None,
                    "detail": str(e),
                    "damaged": mark or "bad_entry",
                }
            )
            continue
        subject = entry.subject
        bundle_id = subject.get("bundle_id")
        own = subject.get("exhibit")
        if entry.action == "ingest" and isinstance(bundle_id, str) and isinstance(own, str):
            exhibits.setdefault(bundle_id, own)
        if isinstance(own, str):
            shown: str | None = own
        else:
            shown = exhibits.get(bundle_id) if isinstance(bundle_id, str) else None
        if mark is None and (
            (case is not None and subject.get("case") != case)
            or (exhibit is not None and shown != exhibit)
        ):
            continue
        detail = entry_detail(entry.action, subject)
        rows.append(
            {
                "index": stored.position,
                "time": entry.time,
                "action": entry.action,
                "who": entry.actor_name,
                "fingerprint": entry.actor_fingerprint,
                "bundle_id": subject.get("bundle_id"),
                "case": subject.get("case"),
                "exhibit": shown,
                "detail": detail,
                "damaged": mark,
            }
        )
    return rows


def _authority_detail(action: str, subject: dict[str, Any]) -> str:
    """One line for a key authority's action (docs/keys.md)."""
    fp = str(subject.get("fingerprint"))[:16]
    if action == "authority-add":
        return f"certified {subject.get('name')} {fp} until {subject.get('valid_until')}"
    if action == "authority-revoke":
        reason, since = subject.get("reason"), subject.get("since")
        return f"revoked {subject.get('name')} {fp} ({reason}, since {since})"
    if action == "authority-rotate":
        old, new = subject.get("old_unit_fingerprint"), subject.get("new_unit_fingerprint")
        return f"unit key {str(old)[:16]} -> {str(new)[:16]}"
    if action == "authority-export":
        return f"exported register version {subject.get('version')} ({subject.get('keys')} keys)"
    return f"unit key {str(subject.get('unit_fingerprint'))[:16]} for {subject.get('name')}"


def entry_detail(action: str, subject: dict[str, Any]) -> str:
    """A short description of what an entry records, for tables."""
    if action == "transfer":
        to = subject.get("to") or {}
        return f"to {to.get('name') or to.get('fingerprint')}: {subject.get('reason')}"
    if action == "receive":
        frm = subject.get("from") or {}
        return f"from {frm.get('name') or frm.get('fingerprint')}"
    if action == "handover-close":
        by = subject.get("by") or {}
        who = by.get("name") or by.get("fingerprint")
        return f"receipt of hand-over {subject.get('sequence')} by {who} brought back"
    if action == "verify":
        if subject.get("verified"):
            return "verified"
        return f"NOT verified ({subject.get('problems')} problems)"
    if action in ("keygen", "trust"):
        return f"{subject.get('name')} {str(subject.get('fingerprint'))[:16]}"
    if action == "abandoned":
        return (
            f"ingest of entry {subject.get('ingest_entry')} was interrupted; "
            "no bundle with this id exists"
        )
    if action.startswith("authority-"):
        return _authority_detail(action, subject)
    if action == "disclose":
        return f"disclosed to {subject.get('to')} ({str(subject.get('disclosure_id'))[:8]})"
    if action == "staple":
        return f"proof now leads to cosigned checkpoint of {subject.get('tree_size')}"
    if action == "store":
        until = (subject.get("retention") or {}).get("retain_until")
        return f"to {subject.get('location')}" + (f", locked until {until}" if until else "")
    if action in ("similar-confirm", "similar-reject"):
        verdict = "same" if action == "similar-confirm" else "not the same"
        a, b = str(subject.get("a"))[:12], str(subject.get("b"))[:12]
        return f"{a} and {b}: {verdict} ({subject.get('note')})"
    if action == "similar-analysis":
        return f"analysis of {subject.get('analysed')} images and videos recorded"
    if action == "ingest":
        resumed = subject.get("resumed")  # a stopped ingest continued (ADR 0024)
        again = f"; resumed {', '.join(map(str, resumed))}" if isinstance(resumed, list) else ""
        return f"{subject.get('file_count')} files, {subject.get('total_bytes')} bytes{again}"
    if action == "timestamp":
        return f"{subject.get('file')} from {subject.get('tsa')} at {subject.get('gen_time')}"
    if action == "select":
        return f"scope {str(subject.get('scope_id'))[:8]}: {subject.get('selected')} items selected"
    return ""
