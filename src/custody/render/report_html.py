"""The verification report a court can file: one self-contained HTML page.

It is rendered from the dictionary `custody verify --json` prints, so it
states the same facts, plus what that document leaves out on purpose: the
members of each archive and the conversation of each chat export, as the
signed metadata recorded them (ops/contents.py, render/report_contents.py). No
scripts, no external resources; laid out for A4 paper and PDF, with the case,
exhibit, bundle fingerprint and "page N of M" on every printed page
(render/report_style.py), and readable on a phone.

Every value goes through `_e` (report_style.e): made visible (custody.base.textsafe,
as on a terminal, so a bidi override cannot reorder the page and a name that is
not UTF-8 cannot stop it being written) and then HTML-escaped.
"""

from __future__ import annotations

from typing import Any

from custody.base.models import timestamp_when
from custody.bundle.format.chain import open_handover_words
from custody.ops.contents import BundleContents
from custody.render.media import device_text, place_text
from custody.render.report_contents import archive_sections, chat_appendix
from custody.render.report_style import CSS, digest, kind, name, page_css, when
from custody.render.report_style import e as _e
from custody.render.report_style import e_lines as _e_lines
from custody.render.report_style import fingerprint as _fp

EXPLANATIONS = {
    "changed": "The file's content is not what the officer recorded: at least one byte differs "
    "from the fingerprint (SHA-256) in the signed manifest.",
    "missing": "A file the signed manifest lists is not in the bundle.",
    "extra": "A file is in the bundle that the signed records do not list.",
    "renamed": "A file is in the bundle under a name the records do not list, with the content "
    "of a listed file that is missing: it was renamed or moved.",
    "not_regular_file": "A link or special file stands where evidence should be. Links are "
    "never followed, so it cannot count as evidence.",
    "unsafe_path": "The bundle names a file outside itself (for example with '..'). Such "
    "names are refused.",
    "duplicate_entry": "The archive holds the same name twice, so its content is ambiguous.",
    "unreadable": "A file could not be read.",
    "truncated_archive": "The archive is damaged or cut short.",
    "bad_manifest": "A line of a manifest is malformed, unsafe or repeated.",
    "bad_bagit": "The BagIt declaration is not the expected one.",
    "bad_bag_info": "The bundle's description (bag-info.txt) lacks required information.",
    "oxum_mismatch": "The recorded file count and total size do not match the files present.",
    "bad_statement": "The signed statement cannot be read as a custody statement.",
    "statement_mismatch": "A record differs from the version the officer's signature covers.",
    "bad_signer_key": "The copy of the signer's public key in the bundle is damaged.",
    "bad_signature": "The signature does not match the statement: the statement was changed "
    "after signing, or was not signed by this key.",
    "key_not_valid": "The unit's key register, which this verifier trusts, does not accept the "
    "key for this signature: it was not valid, or was revoked, at the proven signing time.",
    "untrusted_signer": "The signature was made with a key that this verifier has not chosen "
    "to trust. Anyone can make a key; only a trusted one proves who signed.",
    "bad_ledger_proof": "The proof that the bundle was recorded in the custody ledger does not "
    "check out.",
    "ledger_mismatch": "The verifier's own custody ledger does not match the bundle's record.",
    "bad_cosignature": "A witness's cosignature on the ledger or team checkpoint does not "
    "verify: it was forged or edited.",
    "witness_quorum": "Fewer independent witnesses than the verifier requires have cosigned "
    "a checkpoint that records the bundle.",
    "bad_team_proof": "The proof that the bundle was recorded in the team log does not check out.",
    "bad_custody_record": "A hand-over record cannot be read.",
    "bad_custody_signature": "A hand-over record's signature does not verify: it was forged or "
    "edited.",
    "broken_custody_chain": "The chain of custody is broken: a hand-over was made by someone "
    "who did not hold the evidence, or received by someone else than "
    "the named receiver.",
    "unreceived_transfer": "The evidence was handed over, but the receiver's receipt is not in "
    "this copy, and this verification required a closed chain of custody.",
    "bad_timestamp": "A trusted timestamp in the bundle is invalid: it was made for other data, "
    "altered, or made by someone posing as a time-stamping authority the verifier trusts.",
    "clock_after_timestamp": "The officer's recorded time is later than the time a trusted "
    "time-stamping authority proves the bundle was signed: the officer's clock was wrong.",
    "timestamp_required": "The verifier required proof of when the bundle was signed, and no "
    "timestamp from an authority it trusts gives it.",
}


def _witness_rows(proof: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per cosignature on a proof's checkpoint."""
    return [
        ("Witness", f"{_e(c.get('witness'))}: {_e(c.get('status'))}, {_e(c.get('time'))}")
        for c in proof.get("cosignatures") or []
    ]


def _facts(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _who(p: Any) -> str:
    p = p if isinstance(p, dict) else {}
    name = _e(p.get("name") or "unnamed key")
    return f"{name} <span class=mono>{_e(_fp(p.get('fingerprint')))}</span>"


def _place(gps: Any) -> str:
    return place_text(gps, digits=6, altitude=True)


def _device(device: Any) -> str:
    return device_text(device)


def _register_facts(signer: dict[str, Any]) -> list[tuple[str, str]]:
    """What the verifier's key registers said about the signer's key (docs/keys.md)."""
    if not signer.get("key_status"):
        return []
    reg = signer.get("register") or {}
    rows = []
    if reg:
        rows.append(
            (
                "Key register",
                f"{_e(reg.get('unit'))}, version {_e(reg.get('version'))}, unit key "
                f"<span class=mono>{_e(_fp(reg.get('unit_fingerprint')))}</span>",
            )
        )
    rows.append(("Key status", _e(signer.get("key_status"))))
    rows.append(("Decided by", _e(signer.get("decided_by"))))
    return rows


def render_report(data: dict[str, Any], contents: BundleContents | None = None) -> str:
    """The HTML page for one `custody verify --json` document and, when the
    bundle's signed metadata could be read, what is inside its files."""
    verified = bool(data.get("verified"))
    problems = data.get("problems") or []
    signer = data.get("signer") or {}
    open_handover = data.get("open_handover")
    if verified and open_handover:
        verdict = (
            '<div class="verdict ok"><b>VERIFIED — hand-over open:</b> '
            f"{_e(open_handover_words(open_handover))}. Every file is intact and complete, and "
            "the bundle is signed by a key this verifier trusts; the receiver's receipt is "
            "not in this copy yet.</div>"
        )
    elif verified:
        verdict = (
            '<div class="verdict ok"><b>VERIFIED.</b> Every file is intact and complete, and '
            "the bundle is signed by a key this verifier trusts.</div>"
        )
    else:
        verdict = (
            f'<div class="verdict bad"><b>NOT VERIFIED.</b> {len(problems)} problem(s) were '
            "found; each is explained below. The bundle must not be relied on as it is.</div>"
        )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Verification report: {_e(data.get('case'))} {_e(data.get('exhibit') or '')}"
        "</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{CSS}\n"
        f"{page_css(data.get('case'), data.get('exhibit'), data.get('bundle_fingerprint'))}"
        "</style></head><body>",
        "<h1>Evidence verification report</h1>",
        verdict,
        "<h2>The bundle</h2>",
        _facts(
            [
                ("Case", _e(data.get("case"))),
                ("Exhibit", _e(data.get("exhibit") or "-")),
                ("Bundle fingerprint", f"<b class=mono>{_e(data.get('bundle_fingerprint'))}</b>"),
                ("Bundle id", f"<span class=mono>{_e(data.get('bundle_id'))}</span>"),
                (
                    "Statement SHA-256",
                    digest(data.get("statement_sha256")),
                ),
                ("Recorded by", _e(data.get("officer"))),
                ("Recorded at (UTC)", _e(data.get("created"))),
                ("Officer's note", _e(data.get("note") or "-")),
                (
                    "Files",
                    f"{_e(data.get('files_checked'))} checked, "
                    f"{_e(data.get('bytes_checked'))} bytes",
                ),
                ("Bundle examined", name(data.get("bundle"))),
            ]
        ),
        "<h2>Signature</h2>",
        _facts(
            [
                ("Signed by", _e(signer.get("name"))),
                (
                    "Key fingerprint",
                    f"<span class=mono>{_e(_fp(signer.get('fingerprint')))}</span>",
                ),
                ("Signature", "valid" if signer.get("signature_valid") else "NOT valid"),
                (
                    "Trusted",
                    f"yes, as {_e(signer.get('trusted_as'))}"
                    if signer.get("trusted")
                    else "NO: this verifier has not chosen to trust this key",
                ),
                *_register_facts(signer),
            ]
        ),
    ]
    parts.extend(_time_section(data))
    chain = data.get("custody_chain") or []
    parts.append("<h2>Chain of custody</h2>")
    if chain:
        steps = []
        for step in chain:
            ok = "valid" if step.get("signature_valid") else "NOT valid"
            if step.get("event") == "ingest":
                what = f"recorded and signed by {_who(step.get('by'))}"
            elif step.get("event") == "transfer":
                what = (
                    f"handed over by {_who(step.get('by'))} to {_who(step.get('to'))}: "
                    f"{_e(step.get('reason'))}"
                )
            else:
                what = f"received and countersigned by {_who(step.get('by'))}"
            if step.get("key_status"):
                ok += f"; key {_e(step.get('key_status'))}: {_e(step.get('decided_by'))}"
            steps.append(
                f"<tr><td class=when>{when(step.get('time'))}</td><td>{what}</td><td>{ok}</td></tr>"
            )
        parts.append(
            "<table class=chain><thead><tr><th>Time (UTC)</th><th>Event</th><th>Signature</th>"
            "</tr></thead>" + "".join(steps) + "</table>"
        )
    ledger = data.get("ledger")
    parts.append("<h2>Custody ledger</h2>")
    if ledger:
        local = {
            "consistent": "the verifier's own ledger holds the same entry",
            "other": "recorded in another ledger than the verifier's",
        }.get(str(ledger.get("local_ledger")), "not compared with a local ledger")
        parts.append(
            _facts(
                [
                    ("Ledger", f"<span class=mono>{_e(ledger.get('origin'))}</span>"),
                    (
                        "Entry",
                        f"number {_e(ledger.get('leaf_index'))} of {_e(ledger.get('tree_size'))}",
                    ),
                    ("Inclusion proof", "valid" if ledger.get("proof_valid") else "NOT valid"),
                    ("Compared", _e(local)),
                    *_witness_rows(ledger),
                ]
            )
        )
        abandoned = ledger.get("abandoned_in_case") or []
        if abandoned:
            parts.append(
                "<p>Ingests of this case that were interrupted before their bundle appeared "
                "(recorded as abandoned; no bundle with these ids exists):</p>"
                "<table><tr><th>Bundle id</th><th>Ingest entry</th><th>Abandoned (entry, time)"
                "</th></tr>"
                + "".join(
                    f"<tr><td class=mono>{_e(a.get('bundle_id'))}</td>"
                    f"<td>{_e(a.get('ingest_entry'))}</td>"
                    f"<td>{_e(a.get('index'))}, {_e(a.get('time'))}</td></tr>"
                    for a in abandoned
                )
                + "</table>"
            )
        if ledger.get("checkpoint"):
            checkpoint = _e_lines(ledger["checkpoint"])
            parts.append(f"<p>Signed checkpoint:</p><pre>{checkpoint}</pre>")
    else:
        parts.append("<p>The bundle carries no ledger record.</p>")
    team = data.get("team")
    if team:
        parts.append("<h2>Team log</h2>")
        parts.append(
            _facts(
                [
                    ("Team log", f"<span class=mono>{_e(team.get('origin'))}</span>"),
                    (
                        "Leaf",
                        f"number {_e(team.get('leaf_index'))} of {_e(team.get('tree_size'))}",
                    ),
                    ("Inclusion proof", "valid" if team.get("proof_valid") else "NOT valid"),
                    (
                        "Signed by",
                        _e(team.get("trusted_team") or "no team key the verifier trusts"),
                    ),
                    *_witness_rows(team),
                ]
            )
        )
    storage = data.get("storage")
    if storage:
        parts.append("<h2>Object storage</h2>")
        parts.append(
            _facts(
                [
                    ("Location", f"<span class=mono>{_e(storage.get('location'))}</span>"),
                    ("Objects", _e(storage.get("object_count"))),
                    (
                        "Write-once lock",
                        "every object locked until at least "
                        + _e(storage.get("retain_until_earliest"))
                        if storage.get("all_locked")
                        else "NOT every object is locked",
                    ),
                    ("Legal holds", _e(storage.get("legal_holds"))),
                ]
            )
        )
    parts.append("<h2>Problems</h2>")
    if problems:
        problem_rows = "".join(
            f"<tr><td>{_e(EXPLANATIONS.get(p.get('kind'), p.get('kind')))}</td>"
            f"<td>{name(p.get('path') or '')}</td>"
            f"<td class=small>{_e(p.get('kind'))}: {_e(p.get('detail'))}</td></tr>"
            for p in problems
        )
        parts.append(
            "<table class=problems><thead><tr><th>What it means</th><th>File</th>"
            "<th>Technical detail</th>"
            f"</tr></thead>{problem_rows}</table>"
        )
    else:
        parts.append("<p>None.</p>")
    for warning in data.get("warnings") or []:
        parts.append(f"<p class=small>Note: {_e(warning)}</p>")
    parts.append("<h2>Files</h2>")
    file_rows = "".join(
        f"<tr><td>{name(f.get('path'))}<br>{digest(f.get('sha256'))}</td>"
        f"<td>{_e(f.get('size'))}</td><td>{kind(f.get('mime'))}</td>"
        f"<td class=when>{when(f.get('captured_at'))}</td><td>{_e(_place(f.get('gps')))}</td>"
        f"<td>{_e(_device(f.get('device')))}</td><td>{_e(f.get('state'))}</td></tr>"
        for f in data.get("files") or []
    )
    parts.append(
        "<div class=scroll><table class=files><thead><tr><th>File and SHA-256</th><th>Bytes"
        "</th><th>Type</th><th>Captured</th>"
        f"<th>Place</th><th>Device</th><th>State</th></tr></thead>{file_rows}</table></div>"
    )
    parts.append(
        "<p class=small>A SHA-256 is 64 hexadecimal digits; where a column is too narrow "
        "for them it is printed as two lines of 32, the first half above the second.</p>"
    )
    parts.extend(archive_sections(contents))
    parts.append(
        f"<p class=small>Verified at {_e(data.get('verified_at'))} (UTC) with "
        f"{_e(data.get('verified_with'))}. Times without a zone are the device's local time. "
        "Every check in this report can be repeated without custody, with sha256sum and "
        "openssl (see docs/verify-by-hand.md of custody).</p>"
    )
    parts.extend(chat_appendix(contents))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _time_section(data: dict[str, Any]) -> list[str]:
    """The proven signing time and every timestamp token."""
    proven = data.get("signed_no_later_than")
    if proven:
        line = (
            f"Signed no later than <b>{_e(proven)}</b> (UTC: the TSA's time plus its stated "
            "accuracy), proved by "
            f"{_e(data.get('signed_no_later_than_tsa'))}, a time-stamping authority the "
            "verifier trusts."
        )
    else:
        line = (
            "Signing time not proven: no timestamp from a time-stamping authority the "
            "verifier trusts. The recorded time is the officer's own clock."
        )
    parts = ["<h2>Trusted time</h2>", f"<p>{line}</p>"]
    tokens = data.get("timestamps") or []
    if tokens:
        rows = "".join(
            f"<tr><td class=mono>{_e(t.get('file'))}</td><td>{_e(t.get('tsa'))}</td>"
            f"<td class=when>{_e(timestamp_when(t.get('gen_time'), t.get('accuracy_seconds')))}"
            f"</td><td>{_e(t.get('status'))}</td>"
            f"<td class=small>{_e(t.get('detail'))}</td></tr>"
            for t in tokens
        )
        parts.append(
            "<table><tr><th>Token</th><th>Authority</th><th>Time (UTC)</th><th>Status</th>"
            "<th>Detail</th></tr>" + rows + "</table>"
        )
    return parts
