"""Property-based tests of the `custody verify --from LIST` parser: any text gives the
bundles it names, in order, each once, or one error naming the repeated line."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from custody.base.errors import InputError
from custody.ops.verify_many import parse_bundle_list

BASE = Path("/lists")

names = st.sampled_from(
    ["a", "./a", "b", "../c", "/abs/d", "/abs//d", "s3://bucket/e", "a/../a", " f "]
)
lines = st.one_of(names, st.just(""), st.just("   "), st.just("# a comment"), st.just("#b"))


def expected_target(line: str) -> str:
    text = line.strip()
    if text.startswith("s3://"):
        return text
    return str(BASE / text)


@given(st.lists(lines, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_a_list_gives_each_named_bundle_once_in_order_or_names_the_repeat(
    rows: list[str], newline: str
) -> None:
    text = newline.join(rows) + newline
    wanted = [
        (expected_target(r), n)
        for n, r in enumerate(rows, 1)
        if r.strip() and not r.strip().startswith("#")
    ]
    first: dict[str, int] = {}
    repeat = None
    for target, n in wanted:
        if target in first:
            repeat = (n, first[target])
            break
        first[target] = n
    try:
        refs = parse_bundle_list(text, base=BASE, name="list.txt")
    except InputError as e:
        assert repeat is not None
        assert e.message == f"line {repeat[0]} repeats line {repeat[1]} (the same bundle)"
        assert e.path == "list.txt"
        return
    assert repeat is None
    assert [(r.target, r.line) for r in refs] == wanted
