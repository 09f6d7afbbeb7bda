"""Files macOS Finder and Windows Explorer add to a bundle (.DS_Store, AppleDouble
`._` files, a Finder zip's __MACOSX/ tree, Thumbs.db, desktop.ini) are named as
what they are and set aside; the evidence verifies without them. A file with such
a name whose bytes are not what the system writes stays `extra` (NOT VERIFIED).
A zip cut short says so. Problem paths in a zip are bundle-relative, as in a
folder (docs/format.md, "Files an operating system adds")."""

from __future__ import annotations

import io
import json
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from test_verifier_page import (  # noqa: F401  (fixtures)
    bundle,
    custody_verify,
    driver,
    env,
    key,
    officer,
    page,
    page_file,
    same_verdict,
    template,
    zip_of,
)

from archive_tools import overlong_deflate
from browser_page import Page, chromium_missing
from conftest import Env, validate

no_browser = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


def ds_store() -> bytes:
    """A minimal .DS_Store as Finder writes it: the 4-byte alignment word, the
    'Bud1' magic, then the buddy allocator's header (offset, size, offset again)."""
    return b"\x00\x00\x00\x01Bud1" + struct.pack(">III", 0x1000, 0x800, 0x1000) + bytes(2048)


def apple_double() -> bytes:
    """An AppleDouble header (magic 0x00051607, version 0x00020000, 16 filler
    bytes, no entries), then a Finder-info entry's worth of zeros."""
    return struct.pack(">II", 0x00051607, 0x00020000) + bytes(16) + struct.pack(">H", 0) + bytes(32)


THUMBS_DB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
DESKTOP_INI = "\ufeff[.ShellClassInfo]\r\nIconResource=C:\\x.dll,3\r\n".encode("utf-16-le")


def add_leftovers(folder: Path) -> set[str]:
    """What a Mac and a Windows PC leave in a bundle folder opened on them."""
    (folder / ".DS_Store").write_bytes(ds_store())
    (folder / "data" / ".DS_Store").write_bytes(ds_store())
    (folder / "._bagit.txt").write_bytes(apple_double())
    (folder / "data" / "._IMG_20220225_140310.jpg").write_bytes(apple_double())
    (folder / "data" / "Thumbs.db").write_bytes(THUMBS_DB)
    (folder / "data" / "desktop.ini").write_bytes(DESKTOP_INI)
    (folder / ".fseventsd").mkdir()
    (folder / ".fseventsd" / "fseventsd-uuid").write_bytes(b"0A1B\n")
    return {
        ".DS_Store",
        "data/.DS_Store",
        "._bagit.txt",
        "data/._IMG_20220225_140310.jpg",
        "data/Thumbs.db",
        "data/desktop.ini",
        ".fseventsd/fseventsd-uuid",
    }


def finder_zip(folder: Path, out: Path) -> Path:
    """What Finder's Compress makes of a folder: its members under the folder's
    name, and beside them __MACOSX/<folder>/._<name> AppleDouble files."""
    top = folder.name
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder.parent).as_posix()
            if p.is_dir():
                zf.writestr(rel + "/", b"")
            else:
                zf.write(p, rel)
        zf.writestr(f"__MACOSX/{top}/._bagit.txt", apple_double())
        zf.writestr(f"__MACOSX/{top}/data/._IMG_20220225_140310.jpg", apple_double())
        zf.writestr(f"__MACOSX/._{top}", apple_double())
    return out


def verify(env: Env, target: Path, key: Path) -> tuple[int, dict[str, Any], str]:  # noqa: F811
    result = env.run("verify", target, "--no-trust-store", "--trust", key)
    _, report = env.run_json("verify", target, "--no-trust-store", "--trust", key)
    return result.exit_code, report, result.output


def test_macos_and_windows_leftovers_are_named_and_the_evidence_verifies(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
) -> None:
    leftovers = add_leftovers(bundle)
    code, report, output = verify(env, bundle, key)
    assert code == 0, output
    assert report["verified"] is True and report["problems"] == []
    validate("verify", report)
    assert {p["path"] for p in report["os_leftovers"]} == leftovers
    assert {p["kind"] for p in report["os_leftovers"]} == {"os_leftover"}
    lines = output.splitlines()
    assert lines[0].startswith("VERIFIED: ")
    assert lines[1].startswith("7 files added by macOS Finder or Windows Explorer (listed below)")
    assert "not part of the evidence" in lines[1]
    assert "os_leftover: data/.DS_Store: folder view settings added by macOS Finder" in output
    assert "os_leftover: data/Thumbs.db: thumbnail cache added by Windows Explorer" in output


def test_verifying_several_bundles_mentions_them(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    clean = tmp_path / "clean"
    shutil.copytree(bundle, clean)
    add_leftovers(bundle)
    result = env.run("verify", clean, bundle, "--no-trust-store", "--trust", key)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("VERIFIED") and lines[0].endswith(str(clean))
    assert lines[1].startswith("VERIFIED")
    assert lines[1].endswith(f"{bundle} (7 added by macOS or Windows, set aside)")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (".DS_Store", b"not a Finder file"),
        ("._IMG_20220225_140310.jpg", b"a witness's own file named ._IMG_20220225_140310.jpg"),
        ("._no-such-file.txt", apple_double()),  # describes nothing in the bundle
        ("Thumbs.db", b"JPEG thumbnails, not an OLE file"),
        ("Thumbs.db", THUMBS_DB + bytes(17 * 1024 * 1024)),  # too large to be looked at
        ("desktop.ini", b"MZ\x90\x00 not an ini file"),
    ],
)
def test_a_lookalike_stays_extra(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    name: str,
    data: bytes,
) -> None:
    (bundle / "data" / name).write_bytes(data)
    code, report, output = verify(env, bundle, key)
    assert code == 1, output
    assert output.startswith("NOT VERIFIED")
    assert ("extra", f"data/{name}") in {(p["kind"], p["path"]) for p in report["problems"]}
    assert report["os_leftovers"] == []


def test_a_leftover_the_manifest_lists_is_evidence(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
    ingest: Any,
) -> None:
    source = tmp_path / "phone"
    source.mkdir()
    (source / ".DS_Store").write_bytes(ds_store())
    result, data = ingest(source, "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    made = Path(data["bundle"])
    (made / "data" / ".DS_Store").write_bytes(ds_store() + b"changed")
    code, report, output = verify(env, made, key)
    assert code == 1, output
    assert ("changed", "data/.DS_Store") in {(p["kind"], p["path"]) for p in report["problems"]}
    assert report["os_leftovers"] == []


def test_a_finder_zip_is_read(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    named = tmp_path / "ICC_JS-1"
    shutil.copytree(bundle, named)
    archive = finder_zip(named, tmp_path / "ICC_JS-1.zip")
    code, report, output = verify(env, archive, key)
    assert code == 0, output
    validate("verify", report)
    assert {p["path"] for p in report["os_leftovers"]} == {
        "__MACOSX/ICC_JS-1/._bagit.txt",
        "__MACOSX/ICC_JS-1/data/._IMG_20220225_140310.jpg",
        "__MACOSX/._ICC_JS-1",
    }
    assert "resource fork of a zip member, added by macOS Finder" in output


def test_a_macos_tar_is_read(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """macOS tar (without COPYFILE_DISABLE) stores an AppleDouble ._NAME before
    each file with extended attributes, the top folder's own beside it."""
    named = tmp_path / "ICC_JS-1"
    shutil.copytree(bundle, named)
    archive = tmp_path / "ICC_JS-1.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for rel, data in [("._ICC_JS-1", apple_double()), ("ICC_JS-1/._bagit.txt", apple_double())]:
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        tf.add(named, "ICC_JS-1")
    code, report, output = verify(env, archive, key)
    assert code == 0, output
    assert {p["path"] for p in report["os_leftovers"]} == {"._ICC_JS-1", "._bagit.txt"}


def test_a_finder_zip_with_a_forged_resource_fork_is_not_verified(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    named = tmp_path / "ICC_JS-1"
    shutil.copytree(bundle, named)
    archive = finder_zip(named, tmp_path / "ICC_JS-1.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/ICC_JS-1/data/._witness.jpg", apple_double())  # no such member
    code, report, output = verify(env, archive, key)
    assert code == 1, output
    assert ("extra", "__MACOSX/ICC_JS-1/data/._witness.jpg") in {
        (p["kind"], p["path"]) for p in report["problems"]
    }


def test_a_truncated_zip_says_so(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    whole = zip_of(bundle, tmp_path / "whole.zip").read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    result = env.run("verify", cut, "--no-trust-store", "--trust", key)
    assert result.exit_code == 2
    assert "damaged or truncated zip (no central directory)" in result.output
    _, report = env.run_json("verify", cut, "--no-trust-store", "--trust", key)
    assert report["error"]["message"] == "damaged or truncated zip (no central directory)"
    validate("error", report)


def test_zip_and_folder_report_the_same_paths(
    env: Env,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    (bundle / "data" / "planted.jpg").write_bytes(b"planted")
    (bundle / "data" / "IMG_20220225_140310.jpg").write_bytes(b"altered")
    named = tmp_path / "wrap" / "ICC_JS-1"
    shutil.copytree(bundle, named)
    # One member reads differently to unzip: reported where the archive is read.
    archive = tmp_path / "ICC_JS-1.zip"
    archive.write_bytes(overlong_deflate(named.parent, "ICC_JS-1/data/IMG_20220225_140955.jpg"))
    paths = {}
    for target in (named, archive):
        _, report, _ = verify(env, target, key)
        paths[target] = {(p["kind"], p["path"]) for p in report["problems"]}
    assert {("changed", "data/IMG_20220225_140310.jpg"), ("extra", "data/planted.jpg")} <= (
        paths[named]
    )
    assert paths[archive] - paths[named] == {("unreadable", "data/IMG_20220225_140955.jpg")}


# --- the verifier page ---------------------------------------------------------


def page_result(page: Page) -> dict[str, Any]:  # noqa: F811
    """The page's result document for the bundle it last verified."""
    return dict(
        json.loads(page.driver.execute_script("return JSON.stringify(window.custodyResult)"))
    )


@no_browser
def test_the_page_gives_the_same_verdict_on_leftovers(
    env: Env,  # noqa: F811
    page: Page,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    leftovers = add_leftovers(bundle)
    expected = same_verdict(env, page, bundle, key)
    assert expected["verified"] is True
    got = page_result(page)
    assert {p["path"] for p in got["os_leftovers"]} == leftovers
    note = page.driver.find_element("id", "os-leftovers").text
    assert "7 files added by macOS Finder or Windows Explorer" in note
    (bundle / "data" / "._IMG_20220225_140310.jpg").write_bytes(b"not AppleDouble")
    report = same_verdict(env, page, bundle, key)
    assert report["verified"] is False


@no_browser
def test_the_page_reads_a_finder_zip_and_names_a_cut_one(
    env: Env,  # noqa: F811
    page: Page,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    named = tmp_path / "ICC_JS-1"
    shutil.copytree(bundle, named)
    (named / "data" / "planted.jpg").write_bytes(b"planted")
    archive = finder_zip(named, tmp_path / "ICC_JS-1.zip")
    report = same_verdict(env, page, archive, key)
    assert ("extra", "data/planted.jpg") in {(p["kind"], p["path"]) for p in report["problems"]}
    got = page_result(page)
    assert {p["path"] for p in got["os_leftovers"]} == {p["path"] for p in report["os_leftovers"]}
    whole = archive.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    report = same_verdict(env, page, cut, key)
    assert report["error"]["message"] == "damaged or truncated zip (no central directory)"
