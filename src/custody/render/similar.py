"""`custody similar`: groups of matching items as 80-column tables, --json,
and the analysts' decisions. Rendered from the same dictionary --json prints
(custody.ops.similar.result_json), so both state the same facts."""

from __future__ import annotations

from typing import Any

from custody.render._base import Output, json_form


def _ms(ms: Any) -> str:
    if not isinstance(ms, int):
        return "?"
    s = ms // 1000
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def ranges_text(ranges: Any) -> str:
    """Matched time ranges of a video, as 0:03-0:12, 1:05."""
    parts = []
    for start, end in ranges or ():
        parts.append(_ms(start) if start == end else f"{_ms(start)}-{_ms(end)}")
    return ", ".join(parts)


def pair_text(pair: dict[str, Any], side: str = "b") -> str:
    """How a pair matched, in a few words."""
    d = pair.get("distance")
    how = str(pair.get("how"))
    if how == "identical":
        text = "identical (same SHA-256)"
    elif how == "analyst":
        text = "joined by an analyst"
    elif how == "frames":
        share = pair.get(f"{side}_share_percent")
        ranges = ranges_text(pair.get(f"{side}_ranges_ms"))
        text = f"frames, distance {d}" + (f", {share}% of frames" if share is not None else "")
        if ranges:
            text += f" at {ranges}"
    else:
        text = f"{how}, distance {d}"
    return text


class SimilarViews(Output):
    """`custody similar`, `similar confirm`, `similar reject`."""

    @json_form(lambda self, data: data)
    def similar(self, data: dict[str, Any]) -> None:
        groups, rejected = data["groups"], data["rejected"]
        confirmed = sum(1 for g in groups if g["status"] == "confirmed")
        t = data["thresholds"]
        self._line(
            f"{data['items']} files, {data['analysed']} images and videos analysed, "
            f"{len(data['not_analysed'])} not analysed."
        )
        self._line(
            f"Match: PDQ distance <= {t['max_distance']} of 256 bits, quality >= "
            f"{t['min_quality']}; a match is a lead."
        )
        self._line('Anything else is "not detected", which never means "different".')
        self._line(
            f"{_count(len(groups), 'group')} ({confirmed} confirmed by an analyst, "
            f"{len(groups) - confirmed} suggested), {_count(len(rejected), 'pair')} rejected."
        )
        for n, group in enumerate(groups, start=1):
            self._group(n, group)
        if rejected:
            rows = [
                [
                    p["a"]["sha256"][:12],
                    p["b"]["sha256"][:12],
                    str(p["distance"]) if p["distance"] is not None else "-",
                    str((p["decision"] or {}).get("by") or ""),
                    str((p["decision"] or {}).get("note") or ""),
                ]
                for p in rejected
            ]
            whole = [
                [p["a"]["sha256"], p["b"]["sha256"], *row[2:]]
                for p, row in zip(rejected, rows, strict=True)
            ]
            self._line("")
            self._table(
                ["A", "B", "Distance", "Rejected by", "Note"],
                rows,
                title="Rejected by an analyst (not grouped)",
                whole=whole,
            )
        if data["not_analysed"]:
            self._line("")
            self._table(
                ["File", "Not analysed because"],
                [[f"{x['path']}", str(x["reason"])] for x in data["not_analysed"]],
                title="Not analysed",
            )
        if data.get("not_found"):
            self._line("")
            self._table(
                ["Bundle", "Exhibit", "Ingested by"],
                [
                    [str(x["bundle_id"]), str(x["exhibit"] or "-"), str(x["submitted_by"])]
                    for x in data["not_found"]
                ],
                title="Recorded for the case but not found (not compared)",
            )

    def _group(self, n: int, group: dict[str, Any]) -> None:
        members = group["members"]
        best: dict[int, dict[str, Any]] = {}
        for p in group["pairs"]:
            for k, side in ((p["b"], "b"), (p["a"], "a")):
                dist = p["distance"] if p["distance"] is not None else 999
                old = best.get(k)
                if old is None or dist < (old["pair"]["distance"] or 999):
                    best[k] = {"pair": p, "side": side}
        rows, whole = [], []
        for k, m in enumerate(members):
            mark = ""
            if group["earliest_capture"] == k:
                mark += " earliest"
            if group["largest"] == k:
                mark += " largest"
            found = best.get(k)
            how = pair_text(found["pair"], found["side"]) if found else ""
            exhibit = m["exhibit"] or m["bundle_id"][:8]
            row = [
                f"{k + 1}{mark}",
                str(exhibit),
                str(m["path"]),
                m["sha256"][:12],
                str(m["captured_at"] or "-"),
                how,
            ]
            rows.append(row)
            whole.append([*row[:3], m["sha256"], *row[4:]])
        self._line("")
        self._table(
            ["#", "Exhibit", "File", "SHA-256", "Captured", "Match"],
            rows,
            title=f"Group {n} ({group['status']}): {len(members)} files",
            whole=whole,
        )

    @json_form(lambda self, data: data)
    def similar_decision(self, data: dict[str, Any]) -> None:
        self._fields(
            [
                ("Recorded", f"{data['verdict']} (ledger entry {data['entry']})"),
                ("Case", str(data["case"])),
                ("A", str(data["a"])),
                ("B", str(data["b"])),
                ("Note", str(data["note"])),
                ("By", f"{data['officer']} at {data['time']}"),
            ]
        )
