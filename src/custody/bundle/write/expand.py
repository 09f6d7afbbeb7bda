"""`custody ingest --expand`: working copies of the members of the ZIP archives
handed over, written under data/ beside the archive, which stays the evidence.

Each member goes to data/<archive>.expanded/<member>, is hashed as it is
written, and its metadata record says which archive and member it came from
(`details.expanded_from`). Members the archive reader rejects (unsafe names,
links, encrypted members, bombs) are not written: they are already recorded in
the archive's own record.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.archive_names import clean_member_name
from custody.base.errors import InputError
from custody.base.fsutil import environment_error
from custody.base.models import CopiedFile
from custody.bundle.format.names import portable_path
from custody.bundle.read.source import SourceFile
from custody.metadata.archive import member_names, rejection
from custody.metadata.sniff import sniff

EXPANDED_SUFFIX = ".expanded"


@dataclass(frozen=True)
class Expanded:
    """The working copies written, as extra payload files, and where each came from."""

    files: list[SourceFile]
    copied: list[CopiedFile]
    origin: dict[str, dict[str, Any]]


def expand_archives(
    files: tuple[SourceFile, ...], copied: list[CopiedFile], data_dir: Path
) -> Expanded:
    """Write the members of every ZIP copied into `data_dir`. Raises InputError
    when the working-copy folder's name is taken by a file of the source."""
    taken = {f.rel for f in files}
    out = Expanded([], [], {})
    for c in copied:
        if c.mime != "application/zip":
            continue
        folder = f"{c.path}{EXPANDED_SUFFIX}"
        if any(rel == folder or rel.startswith(folder + "/") for rel in taken):
            raise InputError(
                f"cannot expand {c.path}: the source already has {folder}", path=c.path
            )
        try:
            zf = zipfile.ZipFile(data_dir / c.path)
        except (zipfile.BadZipFile, OSError, ValueError):
            continue  # recorded as damaged in the archive's own record
        with zf:
            seen: set[str] = set()
            written: set[str] = set()
            for name, info in member_names(zf):
                clean = clean_member_name(name)
                if info.is_dir() or rejection(name, info) is not None or clean in seen:
                    continue
                seen.add(clean)
                # A member's name may be one no tool could carry (over 255 bytes,
                # a '%'): its working copy gets a portable one, like the source's.
                rel = f"{folder}/{portable_path(clean, written)}"
                written.add(rel)
                target = data_dir / rel
                try:
                    digest, size, head = _write_member(zf, info, target)
                except (zipfile.BadZipFile, ValueError, EOFError) as e:
                    target.unlink(missing_ok=True)
                    del e  # damage is recorded in the archive's record
                    continue
                out.files.append(SourceFile(rel, str(target), size, 0, 0))
                out.copied.append(CopiedFile(rel, size, digest, sniff(head)))
                out.origin[rel] = {"archive": c.path, "member": name, "member_sha256": digest}
    return out


def _write_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path
) -> tuple[str, int, bytes]:
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    head = b""
    size = 0
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise environment_error(e, target) from e
    try:
        with zf.open(info) as stream:
            while piece := stream.read(1 << 20):
                if len(head) < 4096:
                    head += piece[: 4096 - len(head)]
                h.update(piece)
                size += len(piece)
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return h.hexdigest(), size, head
