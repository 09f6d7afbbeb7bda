"""The HTML report of a disclosure package: the verdict, who disclosed what to
whom, the disclosure summary (what is proven, what is attested, what is
withheld and on what basis) and every problem. Values pass through
report_style.e (made visible, then escaped)."""

from __future__ import annotations

from typing import Any

from custody.render.report_style import CSS, fingerprint, when
from custody.render.report_style import e as _e


def render_package_report(data: dict[str, Any]) -> str:
    """A self-contained page for one package's report (PackageReport.to_json())."""
    ok = bool(data.get("verified"))
    d = data.get("disclosure") or {}
    signer = data.get("signer") or {}
    discloser = data.get("discloser") or {}
    verdict = "VERIFIED DISCLOSURE" if ok else "NOT VERIFIED"
    facts = [
        ("Case", data.get("case")),
        ("Exhibit", data.get("exhibit") or "-"),
        ("Bundle id", data.get("bundle_id")),
        (
            "Collected by",
            f"{signer.get('name')} ({'trusted' if signer.get('trusted') else 'NOT TRUSTED'})",
        ),
        ("Key", None),
        ("Disclosed to", d.get("to")),
        (
            "Disclosed by",
            f"{discloser.get('name')} ({'trusted' if discloser.get('trusted') else 'NOT TRUSTED'})",
        ),
        ("Disclosed on", d.get("created")),
        ("Officer's note", d.get("note")),
    ]
    rows = []
    for label, value in facts:
        cell = (
            fingerprint(signer.get("fingerprint"))
            if label == "Key"
            else (when(value) if label == "Disclosed on" else _e(value))
        )
        rows.append(f"<tr><th>{_e(label)}</th><td>{cell}</td></tr>")
    summary = [
        ("Committed at ingest", d.get("committed")),
        ("Disclosed intact (proven)", d.get("disclosed")),
        ("Metadata stripped (proven)", d.get("stripped")),
        ("Metadata fields withheld", d.get("withheld_fields")),
        ("Withheld", d.get("withheld")),
    ]
    srows = [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary]
    for r in d.get("messages_redacted") or []:
        srows.append(
            f"<tr><th>Chat, messages redacted (proven)</th><td>{_e(r.get('path'))}: "
            f"{_e(r.get('redacted'))} of {_e(r.get('of'))} ({_e(r.get('basis'))})</td></tr>"
        )
    for x in d.get("derived") or []:
        srows.append(
            f"<tr><th>Derived (attested, not proven)</th><td>{_e(x.get('path'))}: "
            f"{_e(x.get('method'))}, attested by {_e(x.get('attested_by'))}</td></tr>"
        )
    for basis, n in sorted((d.get("withheld_by_basis") or {}).items()):
        srows.append(f"<tr><th>Withheld under</th><td>{_e(basis)}: {_e(n)}</td></tr>")
    problems = "".join(
        f"<li>{_e(p.get('kind'))}: {_e(p.get('path') or '')} {_e(p.get('detail'))}</li>"
        for p in data.get("problems") or []
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Disclosure report</title><style>{CSS}</style></head><body>"
        f"<h1>Disclosure package report</h1>"
        f'<div class="verdict {"ok" if ok else "bad"}">{verdict}: {_e(data.get("package"))}</div>'
        f"<p>{_e(data.get('summary'))}</p>"
        f"<h2>Disclosure</h2><table>{''.join(rows)}</table>"
        f"<h2>Disclosure summary</h2><table>{''.join(srows)}</table>"
        + (f"<h2>Problems</h2><ul>{problems}</ul>" if problems else "")
        + f"<p>Verified {_e(data.get('verified_at'))} with {_e(data.get('verified_with'))}.</p>"
        "</body></html>\n"
    )
