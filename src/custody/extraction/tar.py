"""Android full-file-system extractions: a tar (.tar, .tar.gz, .tar.zst) of
the phone's file system, read as one stream, member by member.

Each header gives the device path (as text, never used as a path), size,
modification time, mode, owner and type. Regular files are hashed as they
stream past; links and device files are recorded, never followed or read.
Nothing is unpacked anywhere: random access is never needed, so a compressed
tar is read once from start to end.
"""

from __future__ import annotations

import stat
import tarfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from custody.extraction.members import member_record, unix_time

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd")
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

MemberReader = Callable[[IO[bytes], dict[str, Any]], None]


class TarDamaged(ValueError):
    """The tar stream ends early or holds a header that cannot be read."""


def is_tar_name(name: str) -> bool:
    return name.lower().endswith(TAR_SUFFIXES)


def compression_of(head: bytes) -> str | None:
    """'gzip', 'zstd' or None (a plain tar) from the first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def looks_like_tar(head: bytes) -> bool:
    """A plain tar's first header: 'ustar' at offset 257, or a valid checksum."""
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
    except tarfile.TarError:
        return False
    return True


def open_decompressed(raw: IO[bytes], compression: str | None) -> IO[bytes]:
    """A stream of the tar's bytes. Raises TarDamaged when the compression
    is one this installation cannot read."""
    if compression == "zstd":
        try:
            import zstandard
        except ImportError as e:
            raise TarDamaged(
                "a .tar.zst needs the zstandard package (pip install 'custody[phone]')"
            ) from e
        reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(raw, closefd=False)
        return reader
    if compression == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def read_tar(stream: IO[bytes], read_member: MemberReader) -> Iterator[dict[str, Any]]:
    """The members of a tar stream, in order, as member records. For each
    regular file `read_member(data_stream, member)` reads its bytes (hashing
    them) before the next header. Raises TarDamaged when the stream ends early
    or a header is corrupt; the members before it have been yielded."""
    try:
        tf = tarfile.open(fileobj=stream, mode="r|", errorlevel=2)  # noqa: SIM115 (closed below)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise TarDamaged(f"not a readable tar ({_short(e)})") from e
    with tf:
        while True:
            try:
                info = tf.next()
            except (tarfile.TarError, EOFError, OSError) as e:
                raise TarDamaged(f"the tar is damaged or ends early ({_short(e)})") from e
            except Exception as e:  # the zstd and gzip readers fail in their own ways
                raise TarDamaged(f"the tar cannot be decompressed ({_short(e)})") from e
            if info is None:
                return
            member = _record(info)
            if info.isreg():
                data = tf.extractfile(info)
                if data is not None:
                    try:
                        read_member(data, member)
                    except (tarfile.TarError, EOFError, OSError) as e:
                        member["errors"].append(f"member cannot be read ({_short(e)})")
                        yield member
                        raise TarDamaged(f"the tar ends inside {info.name!r} ({_short(e)})") from e
            yield member


def _record(info: tarfile.TarInfo) -> dict[str, Any]:
    kind = _kind(info)
    member = member_record(
        device_path=info.name,
        stored=info.name,
        size=info.size if info.isreg() else None,
        kind=kind,
    )
    member["times"] = {"modified": unix_time(info.mtime)}
    member["mode"] = f"{stat.S_IMODE(info.mode):04o}"
    member["owner"] = {"uid": info.uid, "gid": info.gid}
    if info.issym() or info.islnk():
        member["link_target"] = info.linkname
        member["errors"].append(
            "symbolic link: recorded, never followed"
            if info.issym()
            else "hard link: recorded; its bytes are those of the target"
        )
    elif kind in ("device", "fifo"):
        member["errors"].append(f"{kind} file: recorded, not read")
    return member


def _kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "directory"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.ischr() or info.isblk():
        return "device"
    if info.isfifo():
        return "fifo"
    return "other"


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
