"""How the court report looks and how every value reaches it safely.

Layout: A4 pages, each headed with the case, the exhibit and the bundle
fingerprint and footed with "page N of M" (CSS paged media margin boxes, which
Chromium prints since version 131); on a phone, wide tables scroll sideways
instead of squeezing their columns.

Wrapping: a name breaks after a separator (`/ _ - .` or a space) and mid-word
only when one part is wider than its column; a SHA-256 never breaks inside a
half: its 64 digits print as one line, or as two lines of 32 (the first half
above the second) where the column is narrow. A key fingerprint prints in
groups of four.

Every value goes through `e` (or the helpers built on it): made visible
(custody.base.textsafe, as on a terminal, so a bidi override cannot reorder the page
and a name that is not UTF-8 cannot stop it being written) and then
HTML-escaped. Values placed in the page margins are CSS strings instead, and go
through `_css_string`, which escapes every character but letters and digits.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from custody.base.textsafe import visible

CSS = """
@page { size: A4; margin: 20mm 14mm 18mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111;
       max-width: 190mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 4mm; }
h2 { font-size: 12pt; margin: 7mm 0 2mm; border-bottom: 1px solid #999; break-after: avoid; }
h3 { font-size: 10.5pt; margin: 5mm 0 1mm; break-after: avoid; }
.verdict { border: 2px solid; padding: 3mm 4mm; margin: 4mm 0; font-size: 13pt; }
.ok { border-color: #176317; background: #eef7ee; }
.bad { border-color: #a01010; background: #fbeeee; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0; table-layout: fixed; }
th, td { text-align: left; vertical-align: top; padding: 1mm 1.5mm; border: 1px solid #ccc;
         overflow-wrap: break-word; box-sizing: border-box; }
th { background: #f0f0f0; overflow-wrap: normal; }
thead { display: table-header-group; }
table.facts th { width: 38mm; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; }
.name { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; overflow-wrap: anywhere; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; display: inline-block;
        overflow-wrap: normal; word-break: normal; }
pre { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; white-space: pre-wrap;
      overflow-wrap: anywhere; border: 1px solid #ccc; padding: 2mm; }
tr { break-inside: avoid; }
.small { font-size: 8pt; color: #444; }
.when { font-size: 8pt; }
table.files, table.members { font-size: 8.5pt; }
table.files th:nth-child(1) { width: 34%; }
table.files th:nth-child(2) { width: 8%; }
table.files th:nth-child(3) { width: 11%; }
table.files th:nth-child(4) { width: 13%; }
table.files th:nth-child(5) { width: 13%; }
table.files th:nth-child(6) { width: 12%; }
table.files th:nth-child(7) { width: 9%; }
table.problems th:nth-child(2) { width: 30%; }
table.members th:nth-child(1) { width: 46%; }
table.members th:nth-child(2) { width: 10%; }
table.members th:nth-child(3) { width: 13%; }
table.members th:nth-child(4) { width: 15%; }
table.chat { font-size: 9pt; }
table.chain th:nth-child(1) { width: 24%; }
table.chain th:nth-child(3) { width: 24%; }
table.chat th:nth-child(1) { width: 20%; }
table.chat th:nth-child(2) { width: 17%; }
table.chat tr { break-inside: auto; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.appendix { break-before: page; }
@media screen {
  body { padding: 0 3mm; }
  .scroll { overflow-x: auto; }
  .scroll > table.files, .scroll > table.members { min-width: 175mm; }
}
"""

# A name may break after these (and at spaces), not inside a word.
_BREAK_AFTER = re.compile(r"(?<=[/_\-.])")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def e(value: Any) -> str:
    """A value from evidence, made visible and HTML-escaped."""
    return escape(visible("" if value is None else value))


def e_lines(value: Any, *, breakable: bool = False) -> str:
    """Text of several lines (a checkpoint note, a chat message) for a <pre> or
    a pre-wrapped cell, each line as `e`; `breakable` lines may also break
    after a separator, as names do."""
    show = _breakable if breakable else e
    return "\n".join(show(line) for line in str(value).removesuffix("\n").split("\n"))


def _breakable(value: Any) -> str:
    parts = _BREAK_AFTER.split(visible("" if value is None else value))
    return "<wbr>".join(escape(p) for p in parts)


def name(value: Any) -> str:
    """A file or member name that may break after a separator, not mid-word."""
    return f'<span class="name">{_breakable(value)}</span>'


def when(value: Any) -> str:
    """A time that may break after its date and before its zone, not mid-number."""
    text = e(value or "")
    return text.replace("T", "T<wbr>", 1).replace("+", "<wbr>+").replace(", ", ",<wbr> ")


def kind(value: Any) -> str:
    """A media type that may break after its slash (application/<wbr>zip)."""
    return e(value or "").replace("/", "/<wbr>")


def digest(value: Any) -> str:
    """A SHA-256: whole on one line, or its two halves of 32 digits on two lines.
    Anything else that stands where a hash should is shown as `e`."""
    text = "" if value is None else str(value)
    if not _HEX64.fullmatch(text):
        return f'<span class="hash">{e(text)}</span>'
    # Hex digits offer no break of their own: the <wbr> is the only place it may break.
    return f'<span class="hash">{text[:32]}<wbr>{text[32:]}</span>'


def fingerprint(value: Any) -> str:
    """A key fingerprint in groups of four digits."""
    text = "" if value is None else str(value)
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _css_string(text: str, limit: int = 90) -> str:
    """`text` (already made visible) as a quoted CSS string for the page margins,
    cut to `limit` characters, every character but an ASCII letter or digit as a
    CSS escape, so that nothing in it can end the string or the style sheet."""
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return (
        '"' + "".join(c if c.isascii() and c.isalnum() else f"\\{ord(c):06x}" for c in text) + '"'
    )


def page_css(case: Any, exhibit: Any, bundle_fingerprint: Any) -> str:
    """The margins of every printed page: case, exhibit, bundle fingerprint and
    page N of M."""
    head = _css_string(f"Case {visible(case or '-')}, exhibit {visible(exhibit or '-')}")
    fp = _css_string(f"Bundle {visible(bundle_fingerprint or '-')}")
    box = "font-family: Arial, sans-serif; font-size: 8pt; color: #333;"
    return (
        "@page {"
        f" @top-left {{ content: {head}; {box} }}"
        f" @top-right {{ content: {fp}; {box} }}"
        f' @bottom-left {{ content: "Evidence verification report"; {box} }}'
        f' @bottom-right {{ content: "page " counter(page) " of " counter(pages); {box} }}'
        " }"
    )
