"""Source folders with names a POSIX file system allows and other tools choke on,
and the reverse of a bundle's names (custody/names.json): shared by
tests/cli/test_names.py and tests/unit/bundle/test_names_fuzz.py."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

HOSTILE_NAMES: tuple[bytes, ...] = (
    b"DCIM\\IMG_0001.jpg",  # what unzip makes of a Windows zip
    b"tab\tname.txt",
    b"carriage\rreturn.txt",
    b"new\nline.txt",
    b"bell\x07and\x1fcontrols\x7f.txt",
    b"IMG_0001\xff.jpg",  # not UTF-8
    b"IMG_0001=FF.jpg",  # the escaped form of the one above, as a real name
    b"IMG_0001%FF.jpg",  # what custody used to store it as
    b"100%.jpg",
    b" leading and trailing spaces ",
    b"trailing tab\t",
    unicodedata.normalize("NFC", "Café.txt").encode(),
    unicodedata.normalize("NFD", "Café.txt").encode(),
    b"x" * 255,
    b"\\" * 255,  # escapes to 765 bytes: must be cut to 255
    b"\xfe" * 255,
    b"~home",
    b"C:drive.txt",
    b"-dash [1] (copy).txt",
)


def make_tree(root: Path, files: dict[bytes, bytes]) -> None:
    """Create `files` ({relative path bytes: content}) under root, folders too."""
    base = os.fsencode(root)
    for rel, content in files.items():
        full = base + b"/" + rel
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(content)


def read_tree(root: Path) -> dict[bytes, bytes]:
    """Every regular file under root: {relative path bytes: content}."""
    base = os.fsencode(root)
    out = {}
    for dirpath, _dirs, files in os.walk(base):
        for name in files:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, base)] = Path(os.fsdecode(full)).read_bytes()
    return out


def restore(bundle: Path, out: Path) -> None:
    """Copy a bundle's payload to `out` under the original names, as anyone can
    with docs/format.md: custody/names.json maps a stored name to its original
    bytes; any other file's original name is its stored name."""
    names_file = bundle / "custody" / "names.json"
    originals: dict[str, bytes] = {}
    if names_file.exists():
        for entry in json.loads(names_file.read_bytes())["names"]:
            originals[entry["path"]] = bytes.fromhex(entry["original_hex"])
    files = {}
    for line in (bundle / "manifest-sha256.txt").read_text("utf-8").split("\n")[:-1]:
        path = line[66:].replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
        original = originals.get(path, path[len("data/") :].encode())
        files[original] = (bundle / path).read_bytes()
    make_tree(out, files)
