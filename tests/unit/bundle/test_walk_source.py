"""The source walked in manifest order (custody.bundle.read.source.walk_source) and
spilled (custody.bundle.write.listing): the same files, in the same order, as the
whole listing sorted by UTF-8 path, without sorting the whole listing."""

from __future__ import annotations

import os
from pathlib import Path

from custody.bundle.read.source import SourceFile, scan_source, walk_source
from custody.bundle.write.listing import spill_listing

NAMES = [
    b"a/b",
    b"a.x",
    b"a0",
    b"a/c/d",
    b"a-",
    b"A",
    b"\xc3\xa9",
    b"e\xcc\x81",
    b"z/\xff.bin",
    b"a b/c",
    b"ab/.hidden",
    b"x/y/z/deep.txt",
    b"x/y.txt",
    b"x.y/z",
    b"%41",
    b"a/b0",
]


def _tree(root: Path) -> None:
    for raw in NAMES:
        path = os.path.join(os.fsencode(root), raw)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(raw)
    os.mkdir(os.path.join(os.fsencode(root), b"empty"))
    os.symlink("a0", root / "link")


def test_walk_yields_files_in_manifest_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    walked = [e.rel for e in walk_source(tmp_path) if isinstance(e, SourceFile)]
    assert walked == sorted(walked, key=lambda r: r.encode("utf-8"))
    assert walked == [f.rel for f in scan_source(tmp_path).files]
    assert len(walked) == len(NAMES)


def test_spilled_listing_reads_back_as_the_whole_one(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tree(src)
    whole = scan_source(src)
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    spilled = spill_listing(src, spill_dir)
    assert list(spilled.iter_files()) == list(whole.files)
    dirs = sorted(spilled.iter_dirs(), key=lambda d: d.rel.encode())
    assert [(d.rel, d.mtime_ns) for d in dirs] == [(d.rel, d.mtime_ns) for d in whole.dirs]
    assert spilled.skipped == whole.skipped and spilled.total_bytes == whole.total_bytes
    assert spilled.normalisation_twins() == whole.normalisation_twins() != []
    assert spilled.originals == [(f.rel, f.original) for f in whole.files if f.original]
    assert spilled.whole().files == whole.files
