"""One file, one reading, as a property: a genuine bundle's zip or tar, with bytes
prepended, appended (another archive, too), inserted, overwritten or cut away. Whatever
the edits, custody either refuses the file or reports its damage, or it read exactly the
files, byte for byte, that Info-ZIP unzip and bsdtar (for a zip) or GNU tar and bsdtar
(for a tar) write from it. Examples are derandomized (docs/testing.md); fuzz/explore
draws fresh ones."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive_tools import digests, extracted
from conftest import Env
from custody.base.errors import CustodyError
from custody.bundle.read.reader import scan_bundle

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TOOLS = {"zip": ("unzip", "bsdtar"), "tar": ("tar", "bsdtar")}


@dataclass(frozen=True)
class Genuine:
    """A small bundle carried four ways, and a forged copy's zip and tar."""

    archives: dict[str, bytes]
    forged: dict[str, bytes]

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "Genuine(...)"


def _zip(folder: Path, compression: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    return out.getvalue()


def _tar(folder: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for p in sorted(folder.rglob("*")):
            tf.add(p, p.relative_to(folder).as_posix(), recursive=False)
    return out.getvalue()


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Genuine:
    tmp = tmp_path_factory.mktemp("archive-fuzz")
    env = Env(home=tmp / "home", tmp=tmp)
    assert env.run("keygen", "--name", "PC Jane Smith").exit_code == 0
    source = tmp / "source"
    (source / "photos").mkdir(parents=True)
    (source / "photos" / "a.jpg").write_bytes(b"\xff\xd8 not really a photo " * 40)
    (source / "notes.txt").write_text("seen at 14:02\n")
    (source / "Café.txt").write_text("composed\n")
    assert env.run("ingest", source, "--case", "F-1", "--out", tmp / "b").exit_code == 0
    forged = tmp / "forged"
    shutil.copytree(tmp / "b", forged)
    (forged / "data" / "notes.txt").write_text("seen at 16:02\n")
    return Genuine(
        archives={
            "zip": _zip(tmp / "b", zipfile.ZIP_STORED),
            "zip deflated": _zip(tmp / "b", zipfile.ZIP_DEFLATED),
            "tar": _tar(tmp / "b"),
            "tar.gz": gzip.compress(_tar(tmp / "b"), mtime=0),
        },
        forged={"zip": _zip(forged, zipfile.ZIP_STORED), "tar": _tar(forged)},
    )


OVERWRITE = st.tuples(
    st.just("overwrite"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=8)
)
EDITS = st.one_of(
    # Most edits land in a member's bytes or a header field and keep the
    # archive's shape: those are the ones where custody and the tools must agree.
    OVERWRITE,
    OVERWRITE,
    OVERWRITE,
    st.tuples(st.just("append"), st.sampled_from([b"\0" * 512, b"\0" * 10240])),
    st.tuples(st.just("prepend"), st.binary(min_size=1, max_size=600)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=600)),
    st.tuples(st.just("append"), st.sampled_from(["forged zip", "forged tar"])),
    st.tuples(st.just("prepend"), st.sampled_from(["forged zip", "forged tar"])),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.integers(1, 600)),
)


def _apply(data: bytes, edit: tuple[object, ...], genuine: Genuine) -> bytes:
    what = edit[0]
    if what in ("prepend", "append"):
        extra = edit[1]
        if isinstance(extra, str):
            extra = genuine.forged[extra.split()[1]]
        assert isinstance(extra, bytes)
        return extra + data if what == "prepend" else data + extra
    # Spread over the whole archive: hypothesis favours small and boundary values.
    at = int(edit[1]) * 2654435761 % (len(data) + 1)  # type: ignore[call-overload]
    if what == "overwrite":
        new = edit[2]
        assert isinstance(new, bytes)
        return data[:at] + new + data[at + len(new) :]
    if what == "insert":
        new = edit[2]
        assert isinstance(new, bytes)
        return data[:at] + new + data[at:]
    return data[:at] + data[at + int(edit[2]) :]  # type: ignore[call-overload]


@FUZZ
@given(
    base=st.sampled_from(["zip", "zip deflated", "tar", "tar.gz"]),
    edits=st.lists(EDITS, min_size=1, max_size=2),
)
def test_custody_refuses_or_reads_what_the_extractors_write(
    genuine: Genuine,
    tmp_path_factory: pytest.TempPathFactory,
    base: str,
    edits: list[tuple[object, ...]],
) -> None:
    data = genuine.archives[base]
    for edit in edits:
        data = _apply(data, edit, genuine)
    archive = tmp_path_factory.mktemp("edited") / "bundle.bin"
    archive.write_bytes(data)
    try:
        scan = scan_bundle(archive)
    except CustodyError:
        return  # refused, or not a bundle at all: exit 2, never VERIFIED
    if scan.problems:
        return  # damage reported: never VERIFIED
    ours = {scan.root_prefix + rel: f.sha256 for rel, f in scan.files.items()}
    ours = {name.removeprefix("./"): digest for name, digest in ours.items()}
    kind = "zip" if zipfile.is_zipfile(archive) else "tar"
    for tool in TOOLS[kind]:
        got = extracted(tool, archive)
        assert got is not None, f"custody read what {tool} refuses to extract"
        assert digests(got) == ours, tool


@FUZZ
@given(
    base=st.sampled_from(["zip", "zip deflated", "tar"]),
    edits=st.lists(OVERWRITE, min_size=1, max_size=3),
)
def test_header_edits_in_place(
    genuine: Genuine,
    tmp_path_factory: pytest.TempPathFactory,
    base: str,
    edits: list[tuple[object, ...]],
) -> None:
    """Bytes overwritten in place keep the archive's length and mostly its
    shape: the edits that reach header fields and member data, where a reader
    that trusts one record more than another would part from the others."""
    test_custody_refuses_or_reads_what_the_extractors_write.hypothesis.inner_test(  # type: ignore[attr-defined]
        genuine, tmp_path_factory, base, edits
    )
