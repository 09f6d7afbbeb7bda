"""The contact sheet of `custody similar --report`: one self-contained HTML
page (no scripts, no external resources) laid out for A4, showing the
matching files of each group side by side so that they can be compared at a
glance, with confirmed groups, suggested groups and rejected pairs apart.

Every value from evidence goes through report_style's `e` and helpers (made
visible, then HTML-escaped), as in the court report; thumbnails are data: URIs
of JPEGs custody made itself, or a grey box when switched off or blurred.
"""

from __future__ import annotations

import shlex
from typing import Any

from custody.render.report_style import digest, name, when
from custody.render.report_style import e as _e
from custody.render.similar import pair_text, ranges_text

SHEET_CSS = """
@page { size: A4; margin: 14mm 12mm 16mm;
        @bottom-right { content: "page " counter(page) " of " counter(pages);
                        font: 8pt Arial, sans-serif; color: #333; } }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; color: #111;
       max-width: 190mm; margin: 0 auto; }
h1 { font-size: 15pt; margin: 0 0 3mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; break-after: avoid; }
h3 { font-size: 10pt; margin: 4mm 0 1mm; break-after: avoid; }
.lead { border: 1px solid #999; background: #f6f6f6; padding: 2mm 3mm; }
.group { break-inside: avoid; border: 1px solid #bbb; padding: 2mm; margin: 3mm 0; }
.group.confirmed { border: 2px solid #176317; }
.group.rejected { border: 2px dashed #a01010; }
.cards { display: flex; flex-wrap: wrap; gap: 2mm; }
.card { width: 58mm; border: 1px solid #ddd; padding: 1.5mm; box-sizing: border-box;
        break-inside: avoid; font-size: 7.5pt; }
.thumb { width: 100%; height: 40mm; object-fit: contain; background: #eee; display: block; }
.nothumb { width: 100%; height: 40mm; background: #e4e4e4; color: #555; display: flex;
           align-items: center; justify-content: center; text-align: center; }
.card dl { margin: 1mm 0 0; } .card dt { font-weight: bold; } .card dd { margin: 0 0 0.5mm; }
.badge { font-size: 7pt; border: 1px solid #555; padding: 0 1mm; margin-right: 1mm; }
.name, .hash { font-family: "DejaVu Sans Mono", monospace; font-size: 7pt;
               overflow-wrap: anywhere; }
.pairs { font-size: 8pt; margin: 1.5mm 0 0; padding-left: 4mm; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 7pt; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: 8pt; table-layout: fixed; }
th, td { border: 1px solid #ccc; padding: 1mm; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
"""

MODE_WORDS = {
    "show": "Thumbnails are shown.",
    "blur": "Thumbnails are blurred beyond recognition; open the files themselves to compare.",
    "none": "Thumbnails are switched off.",
}


def _scopes(scopes: Any) -> list[str]:
    """The scope records the analysis was limited to (custody similar --scope)."""
    if not scopes:
        return []
    rows = "".join(
        f"<li>Bundle {_e(s['bundle_id'])}: scope record {_e(s['scope_id'])}, "
        f"scope.json SHA-256 <code>{_e(s['scope_sha256'])}</code>, "
        f"{int(s['compared'])} files compared</li>"
        for s in scopes
    )
    return [
        "<p>Limited to the items these scope records select (checkable with "
        "<code>custody verify BUNDLE --scope RECORD --used</code> this analysis):</p>",
        f"<ul>{rows}</ul>",
    ]


def render_sheet(data: dict[str, Any], thumbs: dict[tuple[str, str], str], *, mode: str) -> str:
    """The page for `custody similar --json`'s document `data` and the
    thumbnails (data: URIs by (bundle, path))."""
    groups = data["groups"]
    confirmed = [g for g in groups if g["status"] == "confirmed"]
    suggested = [g for g in groups if g["status"] != "confirmed"]
    t = data["thresholds"]
    case = data.get("case")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Contact sheet: matching images and videos</title>",
        f"<style>{SHEET_CSS}</style></head><body>",
        "<h1>Contact sheet: matching images and videos"
        + (f" in case {_e(case)}" if case else "")
        + "</h1>",
        '<p class="lead">'
        + _e(data["wording"])
        + f" Thresholds: PDQ distance at most {int(t['max_distance'])}, quality at least "
        f"{int(t['min_quality'])}. {MODE_WORDS.get(mode, '')}</p>",
        f"<p>{int(data['items'])} files in {len(data['bundles'])} bundles; "
        f"{int(data['analysed'])} images and videos analysed, "
        f"{len(data['not_analysed'])} not analysed. {len(confirmed)} confirmed groups, "
        f"{len(suggested)} suggested groups, {len(data['rejected'])} rejected pairs.</p>",
        *_scopes(data.get("scopes")),
        "<h2>Confirmed by an analyst</h2>",
    ]
    out += [_group(n, g, thumbs, case) for n, g in enumerate(confirmed, start=1)] or [
        "<p>None.</p>"
    ]
    out.append("<h2>Suggested (not yet confirmed or rejected)</h2>")
    out += [
        _group(n, g, thumbs, case) for n, g in enumerate(suggested, start=len(confirmed) + 1)
    ] or ["<p>None.</p>"]
    out.append("<h2>Rejected by an analyst (never grouped)</h2>")
    out += [_rejected(p, thumbs) for p in data["rejected"]] or ["<p>None.</p>"]
    if data["not_analysed"]:
        out.append("<h2>Not analysed</h2><table><thead><tr><th>File</th><th>Bundle</th>")
        out.append("<th>Reason</th></tr></thead><tbody>")
        for x in data["not_analysed"]:
            out.append(
                f"<tr><td>{name(x['path'])}</td><td>{name(x['bundle'])}</td>"
                f"<td>{_e(x['reason'])}</td></tr>"
            )
        out.append("</tbody></table>")
    if data.get("not_found"):
        out.append("<h2>Recorded for the case but not found (not compared)</h2><table><thead>")
        out.append("<tr><th>Bundle</th><th>Exhibit</th><th>Ingested by</th></tr></thead><tbody>")
        for x in data["not_found"]:
            out.append(
                f"<tr><td>{name(x['bundle_id'])}</td><td>{name(x['exhibit'] or '-')}</td>"
                f"<td>{name(x['submitted_by'])}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _card(m: dict[str, Any], thumbs: dict[tuple[str, str], str], badges: list[str]) -> str:
    uri = thumbs.get((m["bundle"], m["path"]))
    if uri is not None and uri.startswith("data:image/jpeg;base64,"):
        picture = f'<img class="thumb" alt="" src="{_e(uri)}">'
    else:
        picture = '<div class="nothumb">no picture</div>'
    size = f"{m['width']}x{m['height']}" if m.get("width") else "?"
    if m.get("duration_ms") is not None:
        size += f", {int(m['duration_ms']) // 1000} s"
    rows = [
        ("Exhibit", _e(m["exhibit"] or "-") + f" <span class='small'>{_e(m['bundle_id'])}</span>"),
        ("File", name(m["path"])),
        ("SHA-256", digest(m["sha256"])),
        ("Submitted", f"{_e(m['submitted_by'])}, {when(m['submitted_at'])}"),
        ("Captured (as recorded)", when(m["captured_at"]) if m["captured_at"] else "not recorded"),
        ("Size", f"{_e(size)}, {int(m['size'])} bytes"),
    ]
    marks = "".join(f'<span class="badge">{_e(b)}</span>' for b in badges)
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<div class="card">{picture}<div>{marks}</div><dl>{dl}</dl></div>'


def _group(n: int, g: dict[str, Any], thumbs: dict[tuple[str, str], str], case: Any) -> str:
    members = g["members"]
    cards = []
    for k, m in enumerate(members):
        badges = [f"#{k + 1}"]
        if g["earliest_capture"] == k:
            badges.append("earliest capture")
        if g["largest"] == k:
            badges.append("largest copy")
        cards.append(_card(m, thumbs, badges))
    pairs = []
    for p in g["pairs"]:
        a, b = members[p["a"]], members[p["b"]]
        line = f"#{p['a'] + 1} and #{p['b'] + 1}: {_e(pair_text(p, 'a'))}"
        if p.get("b_ranges_ms"):
            line += f"; in #{p['b'] + 1}: {_e(_video_side(p, 'b'))}"
        d = p.get("decision")
        if d:
            line += f" — {_e(d['verdict'])} by {_e(d['by'])} ({when(d['time'])}): {_e(d['note'])}"
        else:
            command = (
                f"custody similar confirm {a['sha256']} {b['sha256']} "
                f"--case {shlex.quote(str(case or a['case']))} --note '…'"
            )
            line += f"<br><code>{_e(command)}</code>"
        pairs.append(f"<li>{line}</li>")
    status = "confirmed" if g["status"] == "confirmed" else "suggested"
    return (
        f'<section class="group {status}"><h3>Group {n} ({status}): {len(members)} files</h3>'
        f'<div class="cards">{"".join(cards)}</div><ul class="pairs">{"".join(pairs)}</ul>'
        "</section>"
    )


def _video_side(pair: dict[str, Any], side: str) -> str:
    share = pair.get(f"{side}_share_percent")
    ranges = ranges_text(pair.get(f"{side}_ranges_ms"))
    return (f"{share}% of frames" if share is not None else "the picture") + f" at {ranges}"


def _rejected(p: dict[str, Any], thumbs: dict[tuple[str, str], str]) -> str:
    d = p.get("decision") or {}
    cards = _card(p["a"], thumbs, ["A"]) + _card(p["b"], thumbs, ["B"])
    detail = (
        f"Rejected by {_e(d.get('by'))} ({when(d.get('time'))}): {_e(d.get('note'))}."
        f" {_e(pair_text(p))}"
    )
    return (
        f'<section class="group rejected"><div class="cards">{cards}</div>'
        f'<p class="pairs">{detail}</p></section>'
    )
