"""Text from evidence, made safe to show: one pure function for every output.

A file name, a metadata value or a chat line is chosen by whoever made the
evidence. Printed raw, an ESC sequence in it can clear the screen and paint a
green "VERIFIED" over a failed verification; a line break can forge a line of
the report; a bidi override can reorder what a reader sees; a byte that is not
UTF-8 (a surrogate-escaped str in Python) can crash the output. `visible`
turns each such character into a short escape a person can read, so that what
custody prints is always what the evidence holds, and the rule is reversible
(docs/json.md, "Names and values from evidence"):

  \\\\      a backslash (doubled, so that every escape below is unambiguous)
  \\t \\n \\r  tab, line feed, carriage return
  \\xNN     any other C0 control (U+0000-U+001F) and DEL (U+007F); and a byte
           that is not UTF-8 (U+DC80-U+DCFF from surrogateescape): \\xNN is
           always one byte of the name as the file system or archive held it
  \\uNNNN   a C1 control (U+0080-U+009F), a Unicode Bidi_Control character
           (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), the line
           and paragraph separators U+2028 and U+2029, and any other lone
           surrogate: \\uNNNN is always one code point

Everything else, including every printable letter of every script, is shown as
itself.
"""

from __future__ import annotations

import re
from typing import Any

# Characters that are never shown as themselves. The backslash is in the set
# because it starts every escape.
_UNSAFE = re.compile(
    "[\\\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}

# In JSON the same characters are written as JSON escapes (\u009b), which any
# parser reads back as the very same string; only these are left raw by
# json.dumps(ensure_ascii=False).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x80 or 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code & 0xFF:02x}"
    return f"\\u{code:04x}"


def visible(value: object) -> str:
    """`value` as text with every control, bidi and undecodable character escaped.

    The result holds no character below U+0020, no DEL, no C1 control, no bidi
    control and no surrogate, so it can be encoded as UTF-8 and printed on any
    terminal without driving it; the result is a single line.
    """
    text = value if isinstance(value, str) else str(value)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def json_safe(obj: Any) -> Any:
    """`obj` with each string that holds a surrogate (a name whose bytes are not
    UTF-8) replaced by its `visible` form, so that it can be written as JSON and
    encoded as UTF-8. Every other string, and every key without one, is kept as is."""
    if isinstance(obj, str):
        return visible(obj) if _SURROGATE.search(obj) else obj
    if isinstance(obj, dict):
        return {json_safe(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def json_escape_controls(text: str) -> str:
    """JSON text (from json.dumps with ensure_ascii=False) with DEL, C1, bidi and
    line-separator characters written as \\uNNNN escapes: the same document for a
    parser, but nothing in it can drive a terminal it is printed on. These
    characters can only occur inside strings, where an escape means the same."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
