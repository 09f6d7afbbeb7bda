"""The printable receipt page: one self-contained HTML file with the QR code
inline as SVG, no script and no request to anywhere. Pure."""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

from custody.base.textsafe import visible

_STYLE = (
    "body{font:11pt/1.45 system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;"
    "color:#111}h1{font-size:1.4em}code,.mono{font-family:ui-monospace,monospace;"
    "word-break:break-all}.code{font-size:1.6em;font-weight:700;letter-spacing:.04em}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.25em .4em;"
    "text-align:left;vertical-align:top}.qr svg{width:12em;height:12em}"
)


def qr_text(code: str, signed: bytes) -> str:
    """What the QR code says: the code and the SHA-256 of the signed receipt."""
    return f"custody-receipt:{code}:{hashlib.sha256(signed).hexdigest()}"


def _qr_svg(text: str) -> str:
    import io

    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", scale=4, border=4, xmldecl=False)
    return buf.getvalue().decode("utf-8")


def receipt_html(payload: dict[str, Any], *, code: str, signed: bytes, signature: bytes) -> bytes:
    """The page for a receipt (its JSON file is what is checked; this is for people)."""
    e = html.escape
    rows = []
    for i, f in enumerate(payload["files"], 1):
        # A name as the witness gave it: control and bidi characters shown, not obeyed.
        name = e(visible(f["name"])) if "name" in f else "<i>not recorded on the receipt</i>"
        rows.append(
            f"<tr><td>{i}</td><td>{name}</td><td>{f['size']:,}</td>"
            f"<td class=mono>{e(f['sha256'])}</td></tr>"
        )
    signer = payload["signer"]
    ledger = payload["ledger"]
    style_hash = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'sha256-{style_hash}'; img-src 'none'"
    body = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name=viewport content="width=device-width,initial-scale=1">
<title>Receipt {e(code)}</title><style>{_STYLE}</style></head><body>
<h1>Receipt for evidence received</h1>
<p>Short code: <span class=code>{e(code)}</span></p>
<div class=qr>{_qr_svg(qr_text(code, signed))}</div>
<table>
<tr><th>Case</th><td>{e(str(payload["case"]))}</td></tr>
<tr><th>Received</th><td>{e(str(payload["received"]))} (UTC)</td></tr>
<tr><th>Files</th><td>{payload["file_count"]} ({payload["bytes"]:,} bytes)</td></tr>
<tr><th>Merkle root</th><td class=mono>{e(str(payload["merkle_root"]))}</td></tr>
<tr><th>Signed by</th><td>{e(str(signer["name"]))}<br>
<span class=mono>{e(signer["fingerprint"])}</span></td></tr>
<tr><th>Ledger</th><td>entry {ledger["leaf_index"]} of {ledger["tree_size"]},
<span class=mono>{e(str(ledger["origin"]))}</span></td></tr>
<tr><th>Bundle</th><td class=mono>{e(str(payload["bundle_id"]))}</td></tr>
<tr><th>Signature</th><td class=mono>{e(base64.b64encode(signature).decode())}</td></tr>
</table>
<h2>Files</h2>
<table><tr><th>#</th><th>Name</th><th>Bytes</th><th>SHA-256</th></tr>
{"".join(rows)}
</table>
<p>Keep the receipt file (receipt.json) with this page. Anyone can check it, offline, with
<code>custody receipt verify receipt.json --files FOLDER</code> or the custody verifier page.</p>
</body></html>
"""
    return body.encode("utf-8")
