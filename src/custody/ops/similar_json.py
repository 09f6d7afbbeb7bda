"""The document `custody similar --json` prints (docs/json.md), made from
the result; the table and the contact sheet are rendered from it too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custody.similar.group import Item, frame_summary

if TYPE_CHECKING:
    from custody.ops.similar import SimilarResult


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
                "bundle_id": items[i].bundle_id,
                "path": items[i].path,
                "sha256": items[i].sha256,
                "reason": _reason(items[i]),
            }
            for i in m.not_analysed
        ],
        "groups": groups,
        "rejected": rejected,
        "recorded_entries": list(result.recorded),
        "not_found": list(result.not_found),
        "warnings": list(result.warnings),
        "scopes": None if result.scopes is None else [dict(s) for s in result.scopes],
    }


def _reason(item: Item) -> str | None:
    return item.analysis.not_analysed if item.analysis is not None else None
