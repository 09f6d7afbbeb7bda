"""The --where language: a small, pure query over a bundle's items.

Grammar (docs/extraction.md, "The filter"):

    expr       := or
    or         := and ( "or" and )*
    and        := unary ( "and" unary )*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := FIELD OP VALUE
    FIELD      := captured | type | chat | path | device | size
    OP         := = | != | < | <= | > | >= | ~
    VALUE      := word | "text with \\" and \\\\ escapes"

`~` matches a glob (`*`, `?`, `[...]`; `*` crosses '/'). An item without the
field (no capture time, no device path) never satisfies a comparison on it,
so `not (captured < 2022-02-24)` also selects items with no capture time.
A chat spans time: `captured >= D` holds when its last message is on or after
D, `captured < D` when its first is before D, `captured = D` when D is within.
Keywords and field names are case-insensitive; values are not.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

FIELDS = ("captured", "type", "chat", "path", "device", "size")
TYPES = ("image", "video", "audio", "chat", "message", "document", "extraction", "other")
_OPS = ("<=", ">=", "!=", "=", "<", ">", "~")
_ALLOWED = {
    "captured": ("=", "!=", "<", "<=", ">", ">="),
    "type": ("=", "!="),
    "chat": ("=", "!=", "~"),
    "path": ("=", "!=", "~"),
    "device": ("=", "!=", "~"),
    "size": ("=", "!=", "<", "<=", ">", ">="),
}
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 1024,
    "mib": 1 << 20,
    "gib": 1 << 30,
}
_WORD = re.compile(r"[^\s()\"=<>!~]+")
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?)?"
)
MAX_QUERY = 4096
MAX_DEPTH = 64


class QueryError(ValueError):
    """A --where that cannot be parsed; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any  # str, int (size), or datetime (captured)
    text: str


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Compare | And | Or | Not


class ItemView(Protocol):
    """What a query reads of an item (items.Item)."""

    @property
    def captured(self) -> str | None: ...
    @property
    def captured_last(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def participants(self) -> tuple[str, ...]: ...
    @property
    def path(self) -> str: ...
    @property
    def device(self) -> str | None: ...
    @property
    def size(self) -> int | None: ...


@dataclass(frozen=True)
class _Token:
    kind: str  # word, string, op, lparen, rparen, end
    text: str
    column: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        col = i + 1
        if c in "()":
            out.append(_Token("lparen" if c == "(" else "rparen", c, col))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            out.append(_Token("op", op, col))
            i += len(op)
            continue
        if c == "!":
            raise QueryError("'!' must be followed by '=' (use 'not' to negate)", col)
        if c == '"':
            value, i = _string(text, i)
            out.append(_Token("string", value, col))
            continue
        m = _WORD.match(text, i)
        assert m is not None  # every other character starts a word
        out.append(_Token("word", m.group(), col))
        i = m.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


def _string(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in '"\\':
                raise QueryError('only \\" and \\\\ are escapes in a quoted value', i + 1)
            chars.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(chars), i + 1
        chars.append(c)
        i += 1
    raise QueryError("quoted value is never closed", start + 1)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() == word

    def parse(self) -> Node:
        node = self.or_()
        token = self.peek()
        if token.kind != "end":
            raise QueryError(f"expected 'and', 'or' or the end, found {token.text!r}", token.column)
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.keyword("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while self.keyword("and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"nested deeper than {MAX_DEPTH}", self.peek().column)
        try:
            if self.keyword("not"):
                self.take()
                return Not(self.unary())
            token = self.peek()
            if token.kind == "lparen":
                self.take()
                node = self.or_()
                close = self.take()
                if close.kind != "rparen":
                    raise QueryError(
                        f"expected ')' to close the '(' at column {token.column}", close.column
                    )
                return node
            return self.comparison()
        finally:
            self.depth -= 1

    def comparison(self) -> Compare:
        token = self.take()
        if token.kind != "word":
            what = "the end" if token.kind == "end" else repr(token.text)
            raise QueryError(f"expected a field ({', '.join(FIELDS)}), found {what}", token.column)
        field = token.text.lower()
        if field not in FIELDS:
            raise QueryError(
                f"unknown field {token.text!r} (fields: {', '.join(FIELDS)})", token.column
            )
        op = self.take()
        if op.kind != "op":
            raise QueryError(f"expected an operator after {field!r}", op.column)
        if op.text not in _ALLOWED[field]:
            raise QueryError(
                f"{field!r} takes {' '.join(_ALLOWED[field])}, not {op.text!r}", op.column
            )
        value = self.take()
        if value.kind not in ("word", "string"):
            raise QueryError(f"expected a value after {op.text!r}", value.column)
        return Compare(field, op.text, _value(field, value), value.text)


def _value(field: str, token: _Token) -> Any:
    text = token.text
    if field == "captured":
        return parse_time(text, token.column)
    if field == "size":
        m = re.fullmatch(r"(\d+)\s*([A-Za-z]*)", text)
        if m is None or m.group(2).lower() not in _UNITS:
            raise QueryError(
                f"size {text!r} is not a number of bytes (e.g. 10MB, 512KiB)", token.column
            )
        return int(m.group(1)) * _UNITS[m.group(2).lower()]
    if field == "type":
        if text.lower() not in TYPES:
            raise QueryError(f"unknown type {text!r} (types: {', '.join(TYPES)})", token.column)
        return text.lower()
    return unicodedata.normalize("NFC", text)


def parse_time(text: str, column: int = 1) -> datetime:
    """A date or date-time of the filter (or an item); a time without an
    offset is taken as UTC. Raises QueryError."""
    m = _DATE.fullmatch(text.strip())
    if m is None:
        raise QueryError(
            f"{text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])", column
        )
    y, mo, d, h, mi, s, zone = m.groups()
    try:
        value = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError as e:
        raise QueryError(f"{text!r} is not a real date ({e})", column) from e
    if zone in (None, "Z"):
        return value.replace(tzinfo=UTC)
    return datetime.fromisoformat(f"{value.isoformat()}{zone}").astimezone(UTC)


def parse_query(text: str) -> Node:
    """The AST of a --where text. Raises QueryError with the column."""
    if len(text) > MAX_QUERY:
        raise QueryError(f"longer than {MAX_QUERY} characters", MAX_QUERY + 1)
    if not text.strip():
        raise QueryError("empty filter", 1)
    return _Parser(text).parse()


def matches(node: Node, item: ItemView) -> bool:
    """Whether `item` satisfies the query."""
    if isinstance(node, And):
        return all(matches(n, item) for n in node.items)
    if isinstance(node, Or):
        return any(matches(n, item) for n in node.items)
    if isinstance(node, Not):
        return not matches(node.item, item)
    return _compare(node, item)


def _compare(node: Compare, item: ItemView) -> bool:
    op, value = node.op, node.value
    if node.field == "captured":
        first = _when(item.captured)
        if first is None:
            return False
        last = _when(item.captured_last) or first
        if op in (">", ">="):
            return _order(op, last, value)  # a chat: any message on or after
        if op in ("<", "<="):
            return _order(op, first, value)  # a chat: any message before
        within = bool(first <= value <= last)
        return within == (op == "=")
    if node.field == "size":
        return item.size is not None and _order(op, item.size, value)
    if node.field == "type":
        return bool((item.type == value) == (op == "="))
    if node.field == "chat":
        names = [unicodedata.normalize("NFC", p) for p in item.participants]
        if op == "~":
            return any(fnmatch.fnmatchcase(n, str(value)) for n in names)
        return bool((value in names) == (op == "="))
    text = item.path if node.field == "path" else item.device
    if text is None:
        return False
    text = unicodedata.normalize("NFC", text)
    if op == "~":
        return fnmatch.fnmatchcase(text, str(value))
    return bool((text == value) == (op == "="))


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text[:25])
    except QueryError:
        return None


def _order(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)
