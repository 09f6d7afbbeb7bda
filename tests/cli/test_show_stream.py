"""`custody show --json` streamed (issue 26): the same document, byte for byte, as
the whole-document implementation writes for the same bundle, and records written
while later ones are still unread."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import EXAMPLES, REPO, Env
from custody.metadata import metadata_chunks
from custody.metadata.lines import metadata_records
from custody.ops.show import read_metadata
from custody.render import Renderer
from custody.render._base import _dumps

VECTORS = REPO / "tests" / "vectors"


def whole_document(bundle: Path) -> bytes:
    """What `custody show --json` wrote before it streamed: the whole result, dumped once."""
    return (_dumps(read_metadata(bundle=bundle).to_json(), indent=2) + "\n").encode("utf-8")


def whole_table(bundle: Path) -> tuple[str, str]:
    """What `custody show` wrote in a pipe before it streamed (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        Renderer().metadata(read_metadata(bundle=bundle))
    return out.getvalue(), err.getvalue()


def test_show_json_is_byte_identical_to_the_whole_document(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES, src)  # chats, photos, a video, e-mail
    Image.new("RGB", (64, 48), "gray").save(src / "IMG-20220226-WA0007.jpg", quality=70)
    shutil.copy(REPO / "tests/fixtures/c2pa/C.jpg", src / "signed.jpg")
    (src / "naïve \u202e name.txt").write_text("bidi\n")
    (src / "empty").mkdir()
    made = env.run(
        "ingest", src, "--case", "ICC-2026-014", "--exhibit", "JS/1", "--out", tmp_path / "bundle"
    )
    assert made.exit_code == 0, made.output
    # Bundles made before streaming: the shared vectors, committed to the repository.
    bundles = [tmp_path / "bundle", *sorted(VECTORS.glob("*/bundle"))]
    compared = 0
    for bundle in bundles:
        if not (bundle / "custody/metadata.json").is_file():
            continue
        shown = env.run("show", bundle, "--json")
        assert shown.exit_code == 0, (bundle, shown.output)
        assert shown.stdout_bytes == whole_document(bundle), bundle
        table = env.run("show", bundle)
        assert table.exit_code == 0, (bundle, table.output)
        assert (table.stdout, table.stderr) == whole_table(bundle), bundle
        compared += 1
    assert compared > 10
    # Metadata edited by hand (another layout) is read whole, and shown the same.
    edited = tmp_path / "edited"
    shutil.copytree(tmp_path / "bundle", edited)
    doc = json.loads((edited / "custody/metadata.json").read_bytes())
    (edited / "custody/metadata.json").write_text(json.dumps(doc, indent=1))
    shown = env.run("show", edited, "--json")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout_bytes == whole_document(edited)
    assert json.loads(shown.stdout)["metadata_matches_statement"] is False


@pytest.mark.parametrize(
    "text",
    [
        b'{"files": [\n{"a": 1},\n{"b": 2}\n], "format": "custody/metadata/v1"}\n',
        b'{"files": [\n\n], "format": "custody/metadata/v1"}\n',
        b'{"files": [\n{"a": 1}\n], "format": "x"}',
    ],
)
def test_the_line_reader_finds_what_a_whole_parse_finds(text: bytes) -> None:
    lines = text.splitlines(keepends=True)
    assert list(metadata_records(lines)) == json.loads(text)["files"]


@pytest.mark.parametrize(
    "text",
    [
        b'{"files": [\n{"a": 1}\n], "format": "v1", "files": []}\n',  # a key repeated
        b'{"files": [\n{"a": 1},\n], "format": "v1"}\n',  # a comma after the last
        b'{"files": [\n{"a": 1}\n{"b": 2}\n], "format": "v1"}\n',  # a comma missing
        b'{"files": [\n{"a": 1},\n\n{"b": 2}\n], "format": "v1"}\n',  # an empty line
        b'{"files": [\n{"a": 1},\n{"b": 2}\n',  # cut short
        b'{"files": [\n{"a": 1}\n], "format": "v1"}\n{}\n',  # more after the end
        b'{"files":[\n{"a": 1}\n], "format": "v1"}\n',  # another header
    ],
)
def test_the_line_reader_refuses_any_other_layout(text: bytes) -> None:
    with pytest.raises(ValueError):
        list(metadata_records(text.splitlines(keepends=True)))


def test_show_json_writes_the_first_record_before_reading_the_last(
    env: Env, tmp_path: Path
) -> None:
    """Through a pipe that is not read past its first bytes, show can be only a pipe's
    buffer ahead: the last record, changed then, is shown changed, and the change
    is reported (the file no longer has the hash it had when show began)."""
    bundle = tmp_path / "bundle"
    (bundle / "custody").mkdir(parents=True)
    (bundle / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    pad = "x" * 1000
    records = [{"path": f"data/{i:05d}.txt", "pad": pad} for i in range(4999)]
    records.append({"path": "data/last-AAAA.txt", "pad": pad})
    metadata = bundle / "custody/metadata.json"
    metadata.write_bytes(b"".join(metadata_chunks(records)))  # about 5 MB
    full = {**os.environ, "CUSTODY_HOME": str(env.home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "custody", "show", str(bundle), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(4096)
    assert b'"path": "data/00000.txt"' in first
    data = metadata.read_bytes()
    with metadata.open("r+b") as f:  # in place, same length
        f.seek(data.rindex(b"last-AAAA"))
        f.write(b"last-BBBB")
    rest = proc.stdout.read()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 2
    assert b"last-BBBB" in rest and b"last-AAAA" not in rest
    assert "custody/metadata.json changed while it was read" in err
