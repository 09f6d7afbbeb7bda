"""Properties of recognising OS leftovers (bundle/read/leftovers.py): bytes that do
not start as the system writes them are never set aside, and a file a manifest
lists never is, whatever its name and bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from custody.bundle.read import leftovers
from custody.bundle.read.scan import BundleScan, ScannedFile

NAMES = st.sampled_from(
    [
        "data/.DS_Store",
        ".DS_Store",
        "data/._a.jpg",
        "._bagit.txt",
        "data/Thumbs.db",
        "data/desktop.ini",
        "__MACOSX/top/data/._a.jpg",
    ]
)
MAGICS = (leftovers.DS_STORE_MAGIC, leftovers.APPLEDOUBLE_MAGIC, leftovers.OLE_MAGIC)


def _everything(_: str) -> bool:
    return True


@given(NAMES, st.binary(max_size=64))
def test_bytes_without_the_system_header_are_not_leftovers(name: str, data: bytes) -> None:
    if name.endswith("desktop.ini"):
        return  # text: the next property covers it
    if any(data.startswith(m) for m in MAGICS):
        return
    assert leftovers.classify(name, data, _everything) is None


@given(st.binary(max_size=200))
def test_a_desktop_ini_that_is_not_text_is_not_a_leftover(data: bytes) -> None:
    if b"[" not in data:
        assert leftovers.classify("data/desktop.ini", data, _everything) is None


@given(NAMES, st.sampled_from(MAGICS), st.binary(max_size=32))
def test_a_listed_file_is_never_set_aside(name: str, magic: bytes, tail: bytes) -> None:
    data = magic + tail
    scan = BundleScan(location="/nowhere")
    scan.files = {"data/a.jpg": ScannedFile(1, "0" * 64), name: ScannedFile(len(data), "1" * 64)}
    scan.tag_bytes = {name: data}
    cleaned, found = leftovers.set_aside(scan, {name, "data/a.jpg"}, lambda _: data)
    assert found == () and cleaned.files == scan.files
