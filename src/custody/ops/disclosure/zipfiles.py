"""ZIP helpers of disclosure packages: a member of a bundle's ZIP archive read as a
stream (the source of a member's copy, and of a zipped package's files for
`custody verify`), and a package folder written as a zip."""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from pathlib import Path
from typing import IO, cast

from custody.base.archive_names import clean_member_name, zip_member_name
from custody.base.fsutil import rename_noreplace


def open_zip_member(archive: Path, name: str) -> IO[bytes] | None:
    """A member of a ZIP archive (by its clean name) as a stream that closes the
    archive with it; None when there is no such member."""
    zf = zipfile.ZipFile(archive)
    try:
        for info in zf.infolist():
            if clean_member_name(zip_member_name(info)) == name and not info.is_dir():
                return cast("IO[bytes]", _ZipMember(zf, zf.open(info)))
    except BaseException:
        zf.close()
        raise
    zf.close()
    return None


class _ZipMember(io.RawIOBase):
    """A member stream that closes its archive with it."""

    def __init__(self, zf: zipfile.ZipFile, stream: IO[bytes]) -> None:
        self._zf, self._stream = zf, stream

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def close(self) -> None:
        self._stream.close()
        self._zf.close()
        super().close()


def write_zip(path: Path, folder: Path, names: list[str]) -> None:
    """The package folder as a zip under its own name, each file streamed."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with zipfile.ZipFile(tmp, "x", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(names, key=lambda n: n.encode("utf-8")):
                source = folder / name
                info = zipfile.ZipInfo(f"{folder.name}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                info.file_size = source.stat().st_size
                with open(source, "rb") as src, zf.open(info, "w") as dst:
                    while piece := src.read(1 << 20):
                        dst.write(piece)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        rename_noreplace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
