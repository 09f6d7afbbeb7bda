"""What a disclosure package's record says was done, as the report's
`disclosure` object and one sentence for a person."""

from __future__ import annotations

from typing import Any

from custody.disclosure import package as P
from custody.disclosure.checks import Parsed, withheld_files


def summarise(p: Parsed) -> dict[str, Any]:
    """The `disclosure` object of the report: what the record says was done."""
    rec, st = p.record or {}, p.statement or {}
    com = st.get("commitments") if isinstance(st.get("commitments"), dict) else {}
    everything = [i for i in rec.get("items", []) if isinstance(i, dict)]
    items = [i for i in everything if i.get("archive") is None]
    by_basis: dict[str, int] = {}
    for _index, b in withheld_files(rec, int(com.get("files", 0)) if com else 0)[0]:
        by_basis[b] = by_basis.get(b, 0) + 1
    note = rec.get("note")
    return {
        "committed": int(com.get("files", 0)) if com else len(items),
        "whole": not rec.get("committed", True),
        "disclosed": sum(1 for i in items if i.get("treatment") in (P.INTACT, P.WHOLE)),
        "stripped": sum(1 for i in items if i.get("treatment") == P.STRIPPED),
        "messages_redacted": [
            {
                "path": i.get("path"),
                "redacted": len(i.get("redacted", [])),
                "of": i.get("messages"),
                "basis": i.get("basis"),
            }
            for i in everything
            if i.get("treatment") == P.REDACTED
        ],
        "derived": [
            {
                "path": i.get("path"),
                "method": i.get("method"),
                "basis": i.get("basis"),
                "attested_by": rec.get("officer"),
            }
            for i in items
            if i.get("treatment") == P.DERIVED
        ],
        "archives": [_archive(a, everything) for a in items if a.get("treatment") == P.MEMBERS],
        "withheld": sum(by_basis.values()),
        "withheld_by_basis": by_basis,
        "withheld_fields": sum(len(i.get("withheld_fields", [])) for i in everything),
        "note": "disclosed"
        if isinstance(note, dict) and note.get("disclosed")
        else ("withheld" if isinstance(note, dict) else "none"),
        "to": rec.get("to"),
        "disclosed_by": rec.get("officer"),
        "disclosure_id": rec.get("disclosure_id"),
        "created": rec.get("created"),
        "supplement_to": rec.get("supplement_to"),
    }


def _archive(item: dict[str, Any], everything: list[dict[str, Any]]) -> dict[str, Any]:
    """One archive disclosed as its members: how many, and what became of each."""
    members = [i for i in everything if i.get("archive") == item.get("file")]
    by_basis: dict[str, int] = {}
    for w in item.get("withheld") or []:
        if isinstance(w, dict) and isinstance(w.get("leaves"), list):
            for run in w["leaves"]:
                if isinstance(run, list) and len(run) == 2 and all(isinstance(x, int) for x in run):
                    basis = str(w.get("basis"))
                    by_basis[basis] = by_basis.get(basis, 0) + run[1] - run[0] + 1
    treatments = [i.get("treatment") for i in members]
    withheld = sum(by_basis.values())
    return {
        "path": item.get("path"),
        "members": len(members) + withheld,
        "disclosed": treatments.count(P.INTACT),
        "stripped": treatments.count(P.STRIPPED),
        "redacted": treatments.count(P.REDACTED),
        "withheld": withheld,
        "withheld_by_basis": by_basis,
    }


def sentence(summary: dict[str, Any]) -> str:
    """'47 committed: 12 disclosed intact, ... 30 withheld under 81(4)'."""
    if summary.get("whole"):
        return (
            f"{summary['disclosed']} files disclosed whole (the bundle was made before "
            "commitments existed: nothing could be withheld)"
        )
    parts = []
    if summary["disclosed"]:
        parts.append(f"{summary['disclosed']} disclosed intact")
    if summary["stripped"]:
        parts.append(f"{summary['stripped']} with metadata stripped (proven)")
    archives = [str(a["path"]) + "/" for a in summary.get("archives", [])]
    for r in summary["messages_redacted"]:
        if not str(r["path"]).startswith(tuple(archives)):  # a member: told with its archive
            parts.append(f"1 chat with {r['redacted']} of {r['of']} messages redacted (proven)")
    for d in summary["derived"]:
        parts.append(f"1 derived by {d['method']} (attested by {d['attested_by']})")
    for a in summary.get("archives", []):
        inner = []
        if a["disclosed"]:
            inner.append(f"{a['disclosed']} intact")
        if a["stripped"]:
            inner.append(f"{a['stripped']} with metadata stripped (proven)")
        for r in summary["messages_redacted"]:
            if str(r["path"]).startswith(str(a["path"]) + "/"):
                inner.append(f"1 chat with {r['redacted']} of {r['of']} messages redacted (proven)")
        for basis, n in sorted(a["withheld_by_basis"].items()):
            inner.append(f"{n} withheld under {basis}")
        parts.append(f"1 archive disclosed as its {a['members']} members ({', '.join(inner)})")
    for basis, n in sorted(summary["withheld_by_basis"].items()):
        parts.append(f"{n} withheld under {basis}")
    return f"{summary['committed']} committed: " + ", ".join(parts or ["nothing disclosed"])
