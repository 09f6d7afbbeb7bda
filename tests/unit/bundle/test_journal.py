"""The journal of a resumable ingest (custody.bundle.write.journal): what it trusts."""

from __future__ import annotations

from pathlib import Path

from custody.base.models import CopiedFile
from custody.bundle.read.source import SourceFile
from custody.bundle.write.journal import JOURNAL_FORMAT, Journal, JournalHead, read_journal

HEAD = JournalHead("5c1e", "ICC-9", "W1/1", "/media/phone", "2026-12-07T23:00:00Z")


def _file(rel: str) -> tuple[SourceFile, CopiedFile]:
    return SourceFile(rel, f"/media/phone/{rel}", 3, 1, 2), CopiedFile(rel, 3, "ab" * 32, None)


def _journal(path: Path, *rels: str) -> None:
    journal = Journal(path, HEAD)
    for rel in rels:
        journal.copied(*_file(rel), 1_700_000_000_000_000_000)
    journal.close()


def test_lines_read_back(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _journal(path, "a.jpg", "DCIM/b.mp4")
    found = read_journal(path)
    assert found is not None
    head, entries = found
    assert head == HEAD and head.to_json()["format"] == JOURNAL_FORMAT
    assert sorted(entries) == ["DCIM/b.mp4", "a.jpg"]
    assert entries["a.jpg"].size == 3 and entries["a.jpg"].mtime_ns == 1_700_000_000_000_000_000


def test_a_torn_last_line_is_ignored_and_cut_before_the_next(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _journal(path, "a.jpg")
    with open(path, "ab") as f:
        f.write(b'{"path": "b.jp')  # the power went here
    found = read_journal(path)
    assert found is not None and list(found[1]) == ["a.jpg"]
    journal = Journal(path, None)  # continuing
    journal.copied(*_file("c.jpg"), 5)
    journal.close()
    found = read_journal(path)
    assert found is not None and list(found[1]) == ["a.jpg", "c.jpg"]


def test_what_cannot_be_trusted(tmp_path: Path) -> None:
    path = tmp_path / "j"
    assert read_journal(path) is None  # missing
    _journal(path, "a.jpg", "b.jpg")
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[0], b'{"path": 1}', *lines[1:]]))
    assert read_journal(path) is None  # a damaged line that is not the last
    path.write_bytes(b'{"format": "something/else"}\n')
    assert read_journal(path) is None
    path.write_bytes(b"")
    assert read_journal(path) is None


def test_resumes_are_recorded_apart_from_the_copies(tmp_path: Path) -> None:
    from custody.bundle.write.journal import check_journal, journal_entries, journal_resumes

    path = tmp_path / "j"
    _journal(path, "a.jpg")
    with open(path, "ab") as f:
        f.write(b'{"path": "b.jp')  # torn by the kill
    journal = Journal(path, None, resumed="2026-12-08T01:00:00Z")
    journal.copied(*_file("c.jpg"), 5)
    journal.close()
    Journal(path, None, resumed="2026-12-08T02:00:00Z").close()
    assert journal_resumes(path) == ["2026-12-08T01:00:00Z", "2026-12-08T02:00:00Z"]
    assert [e.path for e in journal_entries(path)] == ["a.jpg", "c.jpg"]
    assert check_journal(path) == (HEAD, 2)
