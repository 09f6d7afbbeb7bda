"""Videos turned on their side or upside down (real videos made with PyAV):
each frame's hash turned by 90, 180 and 270 degrees is kept, so a re-upload
turned by any of them matches its original; an unrelated video does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.similar.analyse import analyse_file
from custody.similar.document import Analysis, Frame, parse_similar_document, similar_document
from custody.similar.group import Item, detect_pairs
from similar_media import write_video

pytest.importorskip("pdqhash")
pytest.importorskip("av")


def item(path: Path) -> Item:
    a = analyse_file(
        path, rel_path=path.name, sha256=f"{hash(path.name) & 0xFFFF:064x}", kind="video"
    )
    assert a.not_analysed is None and all(len(f.turned) == 3 for f in a.frames)
    return Item("b", "id", "C", None, "o", "t", path.name, a.sha256, 0, None, "video/mp4", a)


def test_a_video_turned_by_a_right_angle_matches_its_original(tmp_path: Path) -> None:
    write_video(tmp_path / "original.mp4", 9, seconds=3)
    write_video(tmp_path / "unrelated.mp4", 10, seconds=3)
    for turn in (90, 180, 270):
        write_video(tmp_path / f"turned-{turn}.mp4", 9, seconds=3, size=(240, 180), turn=turn)
    items = [item(tmp_path / n) for n in ("original.mp4", "unrelated.mp4")]
    items += [item(tmp_path / f"turned-{t}.mp4") for t in (90, 180, 270)]
    assert (items[2].analysis.width, items[2].analysis.height) == (180, 240)
    pairs = {(items[p.a].path, items[p.b].path) for p in detect_pairs(items)}
    for turn in (90, 180, 270):
        assert ("original.mp4", f"turned-{turn}.mp4") in pairs
    assert not any("unrelated.mp4" in pair for pair in pairs)
    # The turns are kept in the signed document and read back; an older
    # document without them still reads (its frames have none).
    analysis = items[2].analysis
    again = parse_similar_document(similar_document([analysis], algorithm="PDQ"))
    assert again == [analysis]
    old = Analysis("x.mp4", "0" * 64, "video", frames=(Frame(0, "ab" * 32, 90),))
    assert (
        parse_similar_document(similar_document([old], algorithm="PDQ"))[0].frames[0].turned == ()
    )
