"""`custody show` as an investigator reads it in an 80-column terminal (issue 28, item 4): a
header naming case, exhibit and bundle, every token whole, and what the JSON holds that
matters (file-name dates, zone-less times, no capture metadata, an e-mail's sender and
subject, C2PA checked and none found). The terminal is a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tty
from pathlib import Path

from PIL import Image

from conftest import EXAMPLES, PASSPHRASE, Env

# What rich writes around text on a terminal: colours and cursor control.
CONTROL = re.compile("\x1b\\[[0-9;?]*[A-Za-z]")


def on_terminal(env: Env, *args: str | os.PathLike[str], columns: int) -> tuple[int, list[str]]:
    master, slave = pty.openpty()
    tty.setraw(slave)
    full = {**os.environ, "CUSTODY_HOME": str(env.home), "CUSTODY_PASSPHRASE": PASSPHRASE}
    full.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "50"})
    for name in ("NO_COLOR", "CUSTODY_KEY", "PYTHONIOENCODING"):
        full.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "custody", *map(os.fsencode, args)],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env=full,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = proc.wait(timeout=120)
    os.close(master)
    text = CONTROL.sub("", b"".join(chunks).decode("utf-8"))
    return code, text.replace("\r\n", "\n").split("\n")


def test_show_fits_80_columns_and_says_what_an_investigator_needs(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES, src)
    # A photo as a messaging app leaves it: no EXIF at all, a WhatsApp-style name.
    Image.new("RGB", (64, 48), "gray").save(src / "IMG-20220226-WA0007.jpg", quality=70)
    out = tmp_path / "bundle"
    made = env.run("ingest", src, "--case", "ICC-2026-014", "--exhibit", "JS/1", "--out", out)
    assert made.exit_code == 0, made.output
    code, lines = on_terminal(env, "show", out, columns=80)
    assert code == 0, lines
    # Nothing is wider than the terminal, but a single word longer than a line (this
    # test's deep temporary path), which the terminal folds without custody cutting it.
    too_wide = [line for line in lines if len(line) > 80 and len(line.split()) > 1]
    assert not too_wide, too_wide
    assert " ".join(lines[:2]) == f"Case ICC-2026-014, exhibit JS/1, bundle {out}"
    text = "\n".join(lines)
    words = set(text.split())
    records = json.loads(env.run("show", out, "--json").stdout)["files"]
    for r in records:
        assert r["sha256"] in words, r["path"]  # every hash whole, on one line
        assert r["path"] in lines, r["path"]  # each file's block starts with its path
        if r["captured_at"]:
            assert r["captured_at"] in words
    assert "C2PA         none found" in text
    flat = " ".join(text.split())  # the notes as words, wherever their lines wrap
    assert "no capture metadata; the file may have been re-encoded by a messaging app" in flat
    assert "2022-02-26 from the file name: when the app saved the file" in flat
    assert "from Andrii Melnyk <andrii.m@example.org>; subject Фото з вулиці" in flat
    assert "whatsapp-ios chat export, 7 message(s): read it with custody show --chat" in flat
    # The same command at 200 columns draws a table, hashes still whole.
    code, wide = on_terminal(env, "show", out, columns=250)
    assert code == 0
    assert any("┃ path" in line for line in wide)
    assert all(r["sha256"] in "\n".join(wide) for r in records)
