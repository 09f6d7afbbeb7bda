"""`custody ledger show`: the ledger as a readable timeline."""

from __future__ import annotations

from typing import Any

from .entries import EntryError, parse_entry
from .store import Ledger


def ledger_timeline(ledger: Ledger, *, case: str | None = None) -> list[dict[str, Any]]:
    """One row per entry (optionally only one case's), oldest first."""
    rows = []
    for stored in ledger.entries():
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
                    "detail": str(e),
                }
            )
            continue
        subject = entry.subject
        if case is not None and subject.get("case") != case:
            continue
        detail = ""
        if entry.action == "transfer":
            to = subject.get("to") or {}
            detail = f"to {to.get('name') or to.get('fingerprint')}: {subject.get('reason')}"
        elif entry.action == "receive":
            frm = subject.get("from") or {}
            detail = f"from {frm.get('name') or frm.get('fingerprint')}"
        elif entry.action == "verify":
            detail = (
                "verified"
                if subject.get("verified")
                else f"NOT verified ({subject.get('problems')} problems)"
            )
        elif entry.action in ("keygen", "trust"):
            detail = f"{subject.get('name')} {str(subject.get('fingerprint'))[:16]}"
        elif entry.action == "abandoned":
            detail = (
                f"ingest of entry {subject.get('ingest_entry')} was interrupted; "
                "no bundle with this id exists"
            )
        elif entry.action == "staple":
            detail = f"proof now leads to cosigned checkpoint of {subject.get('tree_size')}"
        elif entry.action == "store":
            until = (subject.get("retention") or {}).get("retain_until")
            detail = f"to {subject.get('location')}" + (f", locked until {until}" if until else "")
        elif entry.action == "ingest":
            detail = f"{subject.get('file_count')} files, {subject.get('total_bytes')} bytes"
        elif entry.action == "timestamp":
            detail = f"{subject.get('file')} from {subject.get('tsa')} at {subject.get('gen_time')}"
        rows.append(
            {
                "index": stored.position,
                "time": entry.time,
                "action": entry.action,
                "who": entry.actor_name,
                "fingerprint": entry.actor_fingerprint,
                "bundle_id": subject.get("bundle_id"),
                "case": subject.get("case"),
                "detail": detail,
            }
        )
    return rows
