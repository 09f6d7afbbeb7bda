"""The court report's archive members and chat appendix, fed any values a
metadata record signed with someone's own key may hold: the page is written,
holds no raw control or direction character, and no markup from the values."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from custody.ops.contents import ArchiveContents, BundleContents, ChatContents
from custody.render.report_html import render_report

UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
TEXT = st.text(
    alphabet=st.sampled_from([*"ab/_-. <>&\"'\\\t\n\x1b\x9b\u202e\u2066\u200e", "\udcff"]),
    max_size=40,
)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT
VALUE = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
)
KEYS = st.sampled_from(
    ["path", "sha256", "size", "mime", "modified", "error", "name", "reason", "sender",
     "time_as_written", "text", "text_cut", "location", "attachments", "status", "lat", "lon"]
)  # fmt: skip
RECORD = st.dictionaries(KEYS, VALUE, max_size=8)


def _message(record: dict) -> st.SearchStrategy[dict]:
    return st.builds(lambda attachments: {**record, "attachments": attachments}, VALUE)


@given(
    members=st.lists(RECORD, max_size=4),
    rejected=st.lists(RECORD, max_size=2),
    messages=st.lists(RECORD.flatmap(_message), max_size=4),
    path=TEXT,
    dialect=st.none() | TEXT,
    unreadable=st.none() | TEXT,
)
def test_any_recorded_member_or_message_is_shown_safely(
    members: list[dict],
    rejected: list[dict],
    messages: list[dict],
    path: str,
    dialect: str | None,
    unreadable: str | None,
) -> None:
    contents = BundleContents(
        archives=(ArchiveContents(path, tuple(members), len(members) + 1, tuple(rejected), 2),),
        chats=(
            ChatContents(path, dialect, dialect, len(messages) + 1, tuple(messages)),
            ChatContents(path, None, None, 0, (), unreadable=unreadable),
        ),
    )
    page = render_report({"case": path, "exhibit": dialect, "verified": False}, contents)
    page.encode("utf-8")  # nothing undecodable is written
    assert UNSAFE.search(page.replace("\n", "")) is None
    assert "<script" not in page and page.count("</style>") == 1
    body = page[page.index("Inside the archives") :]
    # Every tag in the archive section and the appendix is the report's own.
    tags = set(re.findall(r"<(/?[a-z0-9]+)", body))
    assert tags <= {
        "h2", "/h2", "h3", "/h3", "p", "/p", "span", "/span", "wbr", "div", "/div", "table",
        "/table", "thead", "/thead", "tr", "/tr", "th", "/th", "td", "/td", "br", "b", "/b",
        "i", "/i", "/body", "/html",
    }  # fmt: skip
