"""Generated phone extractions of the real shapes: a Cellebrite UFDR (a zip
with report.xml and files sorted by category), an iOS backup folder (hashed
names, a real Manifest.db made with sqlite3, NSKeyedArchiver file records),
and Android file-system tars (plain, gzip, zstd)."""

from __future__ import annotations

import hashlib
import io
import plistlib
import sqlite3
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from PIL import Image


def jpeg_with_exif(when: str = "2022:03:01 10:00:00", make: str = "Apple", seed: int = 0) -> bytes:
    """A small JPEG whose EXIF gives a capture time, a device and a place."""
    img = Image.new("RGB", (16 + seed % 7, 12), (seed % 256, 30, 200))
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = "iPhone 13"
    exif[0x0132] = when
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = when
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (50.0, 27.0, 1.5), "E", (30.0, 31.0, 2.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@dataclass
class Item:
    """One file of a generated extraction."""

    device_path: str | None
    data: bytes
    category: str = "Other"
    deleted: str = "Intact"
    modified: str = "2022-02-25T10:00:00.000+02:00"


def report_xml(entries: Iterable[tuple[Item, str | None]], extra: str = "") -> bytes:
    """A report.xml naming each (item, local path in the UFDR)."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<project id="p1" name="Witness W1" reportVersion="7.60.0.0" '
        'xmlns="http://pa.cellebrite.com/report/2.0">\n'
        '<sourceExtractions><extractionInfo id="0" name="File System" type="FileSystem"/>'
        "</sourceExtractions>\n<taggedFiles>\n"
    ]
    for i, (item, local) in enumerate(entries):
        path_attr = f" path={quoteattr(item.device_path)}" if item.device_path is not None else ""
        local_item = (
            f'<item name="Local Path"><![CDATA[{local}]]></item>' if local is not None else ""
        )
        out.append(
            f'<file fs="Apple File System"{path_attr} size="{len(item.data)}" id="f{i}" '
            f'extractionId="0" deleted="{item.deleted}">'
            f'<accessInfo><timestamp name="ModifyTime">{item.modified}</timestamp></accessInfo>'
            f'<metadata section="File">{local_item}'
            f'<item name="SHA256">{hashlib.sha256(item.data).hexdigest()}</item>'
            f'<item name="Tags">{item.category}</item></metadata></file>\n'
        )
    out.append(f"</taggedFiles>{extra}\n</project>\n")
    return "".join(out).encode("utf-8")


def make_ufdr(path: Path, items: list[Item], *, report: bytes | None = None) -> Path:
    """A UFDR: files/<category>/<name> members, report.xml first. Local paths
    in report.xml use backslashes, as Cellebrite writes them."""
    entries = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        names = set()
        for i, item in enumerate(items):
            base = (item.device_path or f"carved_{i}.bin").rsplit("/", 1)[-1] or f"f{i}"
            name = f"files/{item.category}/{base}"
            if name in names:
                name = f"files/{item.category}/{i}_{base}"
            names.add(name)
            entries.append((item, name.replace("/", "\\")))
        zf.writestr("report.xml", report if report is not None else report_xml(entries))
        for (item, local), _ in zip(entries, items, strict=True):
            zf.writestr(local.replace("\\", "/"), item.data)
    return path


def mbfile_blob(size: int, mtime: int, mode: int = 0o100644, target: str | None = None) -> bytes:
    """An NSKeyedArchiver MBFile, as iOS writes into Manifest.db's `file` column."""
    root: dict = {
        "$class": plistlib.UID(2),
        "Size": size,
        "LastModified": mtime,
        "Birth": mtime - 60,
        "LastStatusChange": mtime,
        "Mode": mode,
        "InodeNumber": 1234,
        "UserID": 501,
        "GroupID": 501,
        "ProtectionClass": 3,
        "RelativePath": plistlib.UID(3),
    }
    objects: list = [
        "$null",
        root,
        {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]},
        "x",
    ]
    if target is not None:
        root["Target"] = plistlib.UID(4)
        objects.append(target)
    archive = {
        "$version": 100000,
        "$archiver": "NSKeyedArchiver",
        "$top": {"root": plistlib.UID(1)},
        "$objects": objects,
    }
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)


def make_ios_backup(
    folder: Path, files: list[tuple[str, str, bytes]], *, extra_rows: Iterable[tuple] = ()
) -> Path:
    """An iOS 10+ backup: <xx>/<fileID> files and Manifest.db, Info.plist,
    Manifest.plist, Status.plist. `files` is (domain, relativePath, bytes)."""
    folder.mkdir(parents=True)
    for name in ("Info.plist", "Manifest.plist", "Status.plist"):
        (folder / name).write_bytes(plistlib.dumps({"Generated": "for tests"}))
    db = sqlite3.connect(folder / "Manifest.db")
    db.execute(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, "
        "flags INTEGER, file BLOB)"
    )
    db.execute("CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)")
    for domain, rel, data in files:
        file_id = hashlib.sha1(f"{domain}-{rel}".encode()).hexdigest()
        (folder / file_id[:2]).mkdir(exist_ok=True)
        (folder / file_id[:2] / file_id).write_bytes(data)
        db.execute(
            "INSERT INTO Files VALUES (?, ?, ?, 1, ?)",
            (file_id, domain, rel, mbfile_blob(len(data), 1_646_128_800)),
        )
    for row in extra_rows:
        db.execute("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", row)
    db.commit()
    db.close()
    return folder


def make_android_tar(path: Path, files: list[tuple[str, bytes]], *, compression: str = "") -> Path:
    """A full-file-system tar (names like data/media/0/DCIM/Camera/x.jpg)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_646_128_800
            info.mode = 0o660
            info.uid = info.gid = 1023
            tf.addfile(info, io.BytesIO(data))
    return write_compressed(path, raw.getvalue(), compression)


def write_compressed(path: Path, data: bytes, compression: str) -> Path:
    if compression == "gz":
        import gzip

        data = gzip.compress(data, mtime=0)
    elif compression == "zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path
