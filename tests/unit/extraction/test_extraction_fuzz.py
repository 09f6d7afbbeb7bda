"""The extraction readers and the filter parser on arbitrary input: nothing
but their own documented errors escapes (fuzz/explore runs these with fresh
examples)."""

from __future__ import annotations

import contextlib
import io
import plistlib

from hypothesis import example, given
from hypothesis import strategies as st

from custody.extraction.ios import decode_mbfile, row_member
from custody.extraction.tar import TarDamaged, read_tar
from custody.extraction.ufdr import ReportError, read_report
from custody.scope.query import QueryError, parse_query
from extraction_tools import Item, mbfile_blob, report_xml

REPORT = report_xml([(Item("/a/b.jpg", b"x", "Image"), "files\\Image\\b.jpg")])


@given(st.binary(max_size=600), st.integers(min_value=0, max_value=len(REPORT)))
@example(b"", len(REPORT))
def test_report_parser_raises_only_report_error(noise, cut):
    data = REPORT[:cut] + noise
    try:
        entries = list(read_report(io.BytesIO(data)))
    except ReportError:
        return
    if cut == len(REPORT) and not noise:
        assert [(e.path, e.local_path) for e in entries] == [("/a/b.jpg", "files\\Image\\b.jpg")]


@given(st.binary(max_size=400))
@example(mbfile_blob(10, 1_646_128_800))
@example(
    plistlib.dumps({"$objects": [1], "$top": {"root": plistlib.UID(9)}}, fmt=plistlib.FMT_BINARY)
)
def test_mbfile_decoder_raises_only_value_error(blob):
    with contextlib.suppress(ValueError):
        decode_mbfile(blob)
    member = row_member("0" * 40, "D", "p", 1, blob, lambda _: False)
    assert isinstance(member["errors"], list)


def _small_tar() -> bytes:
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in (("data/a.txt", b"a" * 700), ("../b", b"b"), ("/c/d", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return raw.getvalue()


TAR = _small_tar()


@given(st.integers(min_value=0, max_value=len(TAR)), st.binary(max_size=1200))
@example(len(TAR), b"")
def test_tar_reader_raises_only_tar_damaged(cut, noise):
    data = TAR[:cut] + noise
    try:
        for member in read_tar(io.BytesIO(data), lambda stream, m: stream.read()):
            assert isinstance(member["device_path"], str)
    except TarDamaged:
        pass


@given(st.text(max_size=80))
@example('captured >= 2022-02-24 and (type = image or chat = "Олена К")')
def test_filter_parser_raises_only_query_error(text):
    try:
        parse_query(text)
    except QueryError as e:
        assert 1 <= e.column <= len(text) + 1
