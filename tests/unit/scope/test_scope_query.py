"""The --where language, pure: grammar, errors with their column, and the
meaning of each comparison (an exact oracle over generated filters)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.scope.items import Item
from custody.scope.query import And, Compare, Not, Or, QueryError, matches, parse_query

PHOTO = Item("data/a.jpg", "", "2022-03-01T10:00:00+02:00", "image", (), None, 2048, None)
MEMBER = Item(
    "data/W1.ufdr", "files/Image/b.jpg", "2022-02-20T09:00:00", "image", (), "/DCIM/b.jpg", 10, None
)
CHAT = Item(
    "data/c.zip",
    "_chat.txt",
    "2022-02-20T13:58:02",
    "chat",
    ("Олена К", "Andrii M."),
    None,
    5,
    None,
    "2022-02-25T14:20:11",
)
UNDATED = Item("data/n.txt", "", None, "document", (), None, 0, None)


@pytest.mark.parametrize(
    "where, expected",
    [
        ("captured >= 2022-02-24", [True, False, True, False]),
        ("captured < 2022-02-24", [False, True, True, False]),
        ("not (captured < 2022-02-24)", [True, False, False, True]),
        ("captured = 2022-02-22", [False, False, True, False]),
        ("captured >= 2022-03-01T09:00Z", [False, False, False, False]),
        ("captured >= 2022-03-01T07:59:59Z", [True, False, False, False]),
        ("type = image or type = chat", [True, True, True, False]),
        ("type != image", [False, False, True, True]),
        ('chat = "Олена К"', [False, False, True, False]),
        ('chat ~ "Andrii*"', [False, False, True, False]),
        ('chat != "Олена К"', [True, True, False, True]),
        ("path ~ *.jpg", [True, True, False, False]),
        ("path = data/W1.ufdr/files/Image/b.jpg", [False, True, False, False]),
        ('device ~ "/DCIM/*"', [False, True, False, False]),
        ("device != /x", [False, True, False, False]),
        ("size >= 2KiB", [True, False, False, False]),
        ("size < 1kb and not type = document", [False, True, True, False]),
        ("TYPE = IMAGE AND Captured > 2000-01-01", [True, True, False, False]),
    ],
)
def test_meaning(where, expected):
    query = parse_query(where)
    assert [matches(query, i) for i in (PHOTO, MEMBER, CHAT, UNDATED)] == expected


@pytest.mark.parametrize(
    "where, column, message",
    [
        ("", 1, "empty filter"),
        ("type", 5, "expected an operator after 'type'"),
        ("type =", 7, "expected a value after '='"),
        ("type = image and", 17, "expected a field"),
        ("type = image image", 14, "expected 'and', 'or' or the end, found 'image'"),
        ("(type = image", 14, "expected ')' to close the '(' at column 1"),
        (")", 1, "expected a field"),
        ("path ! x", 6, "'!' must be followed by '='"),
        ('chat = "x', 8, "quoted value is never closed"),
        ('chat = "a\\n"', 10, 'only \\" and \\\\ are escapes'),
        ("captured = yesterday", 12, "is not a date"),
        ("type < image", 6, "'type' takes = !=, not '<'"),
        ("size > 10XB", 8, "is not a number of bytes"),
        ("not " * 70 + "type = image", 257, "nested deeper than 64"),
    ],
)
def test_errors_name_the_column(where, column, message):
    with pytest.raises(QueryError) as caught:
        parse_query(where)
    assert caught.value.column == column, caught.value
    assert message in caught.value.message


FIELD_VALUES = {
    "type": st.sampled_from(["image", "video", "chat"]),
    "chat": st.text(min_size=1, max_size=8),
    "path": st.text(min_size=1, max_size=8),
    "size": st.integers(min_value=0, max_value=10**9).map(str),
}
OPS = {
    "type": ["=", "!="],
    "chat": ["=", "!=", "~"],
    "path": ["=", "!=", "~"],
    "size": ["<", ">=", "="],
}


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def filters(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        field = draw(st.sampled_from(sorted(FIELD_VALUES)))
        op = draw(st.sampled_from(OPS[field]))
        value = draw(FIELD_VALUES[field])
        return f"{field} {op} {quoted(value)}", ("cmp", field, op, value)
    kind = draw(st.sampled_from(["and", "or", "not"]))
    if kind == "not":
        text, tree = draw(filters(depth=depth + 1))
        return f"not ({text})", ("not", tree)
    left, ltree = draw(filters(depth=depth + 1))
    right, rtree = draw(filters(depth=depth + 1))
    return f"({left}) {kind} ({right})", (kind, ltree, rtree)


def shape(node) -> tuple:
    if isinstance(node, Compare):
        value = str(node.value) if node.field == "size" else node.value
        return ("cmp", node.field, node.op, value)
    if isinstance(node, Not):
        return ("not", shape(node.item))
    kind = "and" if isinstance(node, And) else "or"
    assert isinstance(node, And | Or)
    out = shape(node.items[0])
    for item in node.items[1:]:
        out = (kind, out, shape(item))
    return out


@given(filters())
def test_any_printed_filter_parses_back_to_its_tree(drawn):
    import unicodedata

    text, tree = drawn
    parsed = shape(parse_query(text))

    def normal(t: tuple) -> tuple:
        if t[0] == "cmp":
            value = t[3] if t[1] == "size" else unicodedata.normalize("NFC", t[3])
            return ("cmp", t[1], t[2], value)
        return (t[0], *(normal(x) for x in t[1:]))

    # Every operand is printed in parentheses: the parsed tree is the drawn one.
    assert parsed == normal(tree)


def test_times_without_offset_are_utc():
    query = parse_query("captured >= 2022-03-01T10:00:00")
    late = Item("data/x", "", "2022-03-01T10:00:00", "image", (), None, 1, None)
    assert matches(query, late)
    assert parse_query("captured = 2022-03-01").value == datetime(2022, 3, 1, tzinfo=UTC)  # type: ignore[union-attr]
