"""A JSON document holding a StreamedList is written item by item, and is the
very document the whole-text writer gives: same bytes, names that are not UTF-8
in their visible form, and no character that could drive a terminal."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.base.streamed import StreamedList
from custody.render._base import Output, _dumps

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\udcff", "\udc80", "\x1b", "\x7f", "\u202e", "\u2028", "\x9b"]),
    ),
    max_size=12,
)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _streamed(items: list[object]) -> StreamedList:
    return StreamedList(len(items), lambda: iter(items))


@given(head=st.dictionaries(TEXT, VALUES, max_size=4), rows=st.lists(VALUES, max_size=6))
def test_a_streamed_document_is_the_whole_document(
    head: dict[str, object], rows: list[object]
) -> None:
    whole = _dumps({**head, "files": rows}, indent=2) + "\n"
    written: list[str] = []
    with pytest.MonkeyPatch.context() as m:
        m.setattr("sys.stdout.write", written.append)
        m.setattr("sys.stdout.flush", lambda: None)
        Output(json_output=True).json({**head, "files": _streamed(rows)})
    assert "".join(written) == whole


def test_a_streamed_list_is_read_again_on_each_pass_and_holds_nothing() -> None:
    reads = []

    def items() -> list[int]:
        reads.append(1)
        return [1, 2, 3]

    streamed = StreamedList(3, items)
    assert list.__len__(streamed) == 0  # nothing held by the list itself
    assert len(streamed) == 3 and bool(streamed)
    assert json.loads(_dumps({"a": list(streamed)}, indent=None)) == {"a": [1, 2, 3]}
    assert list(streamed) == [1, 2, 3] and streamed == [1, 2, 3]
    assert len(reads) == 3  # one per pass: nothing is cached
    assert not StreamedList(0, list)
