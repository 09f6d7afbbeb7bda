"""`custody ingest --expand` for phone extractions that are not ZIPs.

Android file-system tars: working copies of the tar's regular files under
data/<tar>.expanded/<device path>, each linked to its member
(`details.expanded_from`), written as the tar streams past. iOS backups:
each file Manifest.db names, copied from its hashed name to
data/<backup>/Manifest.db.expanded/<domain>/<relativePath>.

The device path is made a safe relative path first: a leading '/' or './' is
dropped; a member whose name still escapes ('..', a backslash, a drive letter)
or comes twice is not written (the members file records it). Links, devices
and FIFOs are never written. A UFDR is a ZIP and expands as one (expand.py).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from custody.base.fsutil import environment_error, unsafe_path_reason
from custody.base.models import CopiedFile
from custody.bundle.format.names import portable_path
from custody.bundle.read.source import SourceFile
from custody.extraction.tar import TarDamaged, compression_of, open_decompressed
from custody.metadata.sniff import sniff


def safe_member_path(name: str) -> str | None:
    """The relative path a tar member's working copy may have, or None."""
    clean = name
    while clean.startswith(("./", "/")):
        clean = clean[2:] if clean.startswith("./") else clean[1:]
    clean = clean.rstrip("/")
    if not clean or unsafe_path_reason(clean) is not None:
        return None
    return clean


def expand_tar(
    copy_path: Path, rel: str, folder: str, data_dir: Path
) -> tuple[list[SourceFile], list[CopiedFile], dict[str, dict[str, str]]]:
    """Write the working copies of one tar's members under data_dir/folder."""
    files: list[SourceFile] = []
    copied: list[CopiedFile] = []
    origin: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    written: set[str] = set()
    with open(copy_path, "rb") as raw:
        compression = compression_of(raw.read(4))
        raw.seek(0)
        try:
            stream = open_decompressed(raw, compression)
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                for info in tf:
                    clean = safe_member_path(info.name) if info.isreg() else None
                    if clean is None or clean in seen:
                        continue
                    seen.add(clean)
                    data = tf.extractfile(info)
                    if data is None:
                        continue
                    target_rel = f"{folder}/{portable_path(clean, written)}"
                    written.add(target_rel)
                    target = data_dir / target_rel
                    try:
                        digest, size, head = _write(data, target)
                    except _ReadFailed:
                        target.unlink(missing_ok=True)  # a partial copy is no working copy
                        break
                    files.append(SourceFile(target_rel, str(target), size, 0, 0))
                    copied.append(CopiedFile(target_rel, size, digest, sniff(head)))
                    origin[target_rel] = {
                        "archive": rel,
                        "member": info.name,
                        "member_sha256": digest,
                    }
        except (TarDamaged, tarfile.TarError, EOFError, ValueError, OSError, zlib.error):
            pass  # the damage is recorded in the tar's members file; what was read is kept
    return files, copied, origin


class _ReadFailed(Exception):
    """The tar's bytes ended or broke inside a member."""


def expand_ios(
    manifest_path: Path,
    rel: str,
    folder: str,
    data_dir: Path,
    manifest_rows: Callable[[Path], Iterator[Any]],
    present: Callable[[str], bool],
) -> tuple[list[SourceFile], list[CopiedFile], dict[str, dict[str, str]]]:
    """Working copies of an iOS backup's files under their device paths.
    Rows that name no file of the backup, or a path that escapes, are not
    written (the members file records them)."""
    from custody.extraction.ios import read_rows

    backup = rel[: -len("Manifest.db")]
    files: list[SourceFile] = []
    copied: list[CopiedFile] = []
    origin: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    written: set[str] = set()
    try:
        for m in read_rows(manifest_rows(manifest_path), lambda name: present(backup + name)):
            stored = m["stored"]
            clean = safe_member_path(f"{m['domain']}/{m['device_path']}")
            if m["kind"] != "file" or stored is None or clean is None or clean in seen:
                continue
            seen.add(clean)
            target_rel = f"{folder}/{portable_path(clean, written)}"
            written.add(target_rel)
            target = data_dir / target_rel
            with open(data_dir / (backup + stored), "rb") as data:
                try:
                    digest, size, head = _write(data, target)
                except _ReadFailed:
                    target.unlink(missing_ok=True)
                    continue
            files.append(SourceFile(target_rel, str(target), size, 0, 0))
            copied.append(CopiedFile(target_rel, size, digest, sniff(head)))
            origin[target_rel] = {
                "archive": rel,
                "member": str(m["file_id"]),
                "member_sha256": digest,
            }
    except ValueError:
        pass  # an unreadable Manifest.db: recorded in its members file
    return files, copied, origin


def _write(data: IO[bytes], target: Path) -> tuple[str, int, bytes]:
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    head = b""
    size = 0
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise environment_error(e, target) from e
    try:
        while True:
            try:
                piece = data.read(1 << 20)
            except (tarfile.TarError, EOFError, ValueError, OSError, zlib.error) as e:
                raise _ReadFailed from e
            if not piece:
                break
            if len(head) < 4096:
                head += piece[: 4096 - len(head)]
            h.update(piece)
            size += len(piece)
            view = memoryview(piece)
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as e:
                raise environment_error(e, target) from e
    finally:
        os.close(fd)
    return h.hexdigest(), size, head
