"""How two versions of a small text file differ, in words a person can check
with a hex viewer (a byte-order mark, CR LF, white space, order, a line).

Used wherever custody compares bytes it would write with bytes it found: the
bundle's tag files, ledger and team-log proof files."""

from __future__ import annotations

BOM = b"\xef\xbb\xbf"


def describe_difference(actual: bytes, expected: bytes) -> str | None:
    """How the bytes of a tag file differ from the bytes custody writes, in
    words a person can check with a hex viewer; None when they are the same.

    The first difference found is named, most specific first: a byte-order
    mark, CRLF line endings, a missing final line ending, trailing white space,
    a repeated line, lines out of order, then the first line that differs.
    """
    if actual == expected:
        return None
    if actual.startswith(BOM):
        return "starts with a byte-order mark (custody writes none)"
    if b"\r" in actual and b"\r" not in expected:
        where = actual[: actual.index(b"\r")].count(b"\n") + 1
        return f"line {where} ends in CR LF (custody writes LF line endings)"
    if actual + b"\n" == expected:
        return "last line has no line ending"
    if not actual:
        return "is empty"
    got = actual.split(b"\n")
    want = expected.split(b"\n")
    for number, line in enumerate(got, start=1):
        if line.rstrip(b" \t") != line:
            return f"line {number} ends in white space"
    seen: dict[bytes, int] = {}
    for number, line in enumerate(got, start=1):
        if line and line in seen:
            return f"line {number} repeats line {seen[line]}"
        seen.setdefault(line, number)
    if sorted(got) == sorted(want):
        return "lines are not in the order custody writes them"
    for number, (a, b) in enumerate(zip(got, want, strict=False), start=1):
        if a != b:
            return f"line {number} differs from what custody writes"
    if len(got) > len(want):
        return f"has {len(got) - len(want)} line(s) more than custody writes"
    return f"has {len(want) - len(got)} line(s) fewer than custody writes"
