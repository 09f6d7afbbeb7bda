"""The file system's traps, in one place: atomic writes, no-replace renames,
read-only opens that refuse links, and checks on paths that come from outside.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from custody.base.errors import EnvironmentFailure

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def environment_error(exc: OSError, path: str | os.PathLike[str]) -> EnvironmentFailure:
    """Translate an OSError raised while writing into one line naming the file."""
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device"
    elif exc.errno == errno.EDQUOT:
        reason = "disk quota exceeded"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif exc.errno == errno.EROFS:
        reason = "read-only file system"
    else:
        reason = exc.strerror or str(exc)
    return EnvironmentFailure(reason, path=str(path))


def _libc_syncfs() -> Any:
    try:
        func = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int]
    func.restype = ctypes.c_int
    return func


_syncfs = _libc_syncfs()


def sync_filesystem(path: str | os.PathLike[str]) -> None:
    """Make everything written to the file system holding `path` durable, in one
    call (Linux syncfs; sync elsewhere). One flush for a whole bundle costs far
    less than an fsync per file, and leaves the same guarantee before the rename
    that makes the bundle visible."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs is not None and _syncfs(fd) == 0:
            return
        os.sync()
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _libc_renameat2() -> Any:
    try:
        # The C library is already loaded: dlopen(NULL) finds its symbols without
        # ctypes.util.find_library, which runs ldconfig in a subprocess.
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_renameat2 = _libc_renameat2()


def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename src to dst atomically, failing with FileExistsError if dst exists.

    os.rename would silently replace an empty directory at dst; evidence
    bundles must never replace anything, so Linux's RENAME_NOREPLACE is used
    where the C library has it, with a check-then-rename fallback elsewhere.
    """
    if _renameat2 is not None:
        res = _renameat2(
            _AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE
        )
        if res == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err), os.fspath(dst))
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "file exists", os.fspath(dst))
    os.rename(src, dst)


def _durable_temp_copy(path: Path, data: bytes, mode: int) -> str:
    """Write `data` to a fresh, fsynced temporary file beside `path`; returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_new_file(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write a file that must not exist yet, durably and atomically.

    The bytes go to a temporary file in the same directory, are fsynced, then
    hard-linked to the final name (link fails if the name exists, so nothing is
    ever overwritten) and the directory is fsynced. Raises FileExistsError.
    """
    tmp = _durable_temp_copy(path, data, mode)
    try:
        os.link(tmp, path)
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)


def replace_file(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Atomically replace (or create) a file with new bytes, durably."""
    tmp = _durable_temp_copy(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@contextmanager
def exclusive_lock(path: Path, *, mode: int = 0o600) -> Iterator[None]:
    """Hold an exclusive flock on the lock file `path` (created, with its folder,
    when missing) for the block; it is let go when the block ends or the process
    dies. Raises EnvironmentFailure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    except OSError as e:
        raise environment_error(e, path) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def open_source_readonly(path: str | os.PathLike[str]) -> int:
    """Open an evidence file for reading only, never following a symlink.

    O_NONBLOCK keeps a FIFO that replaced a file from hanging the open; the
    caller checks with fstat that it got a regular file.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    # Back to blocking reads for a regular file.
    os.set_blocking(fd, True)
    return fd


def is_within(child: Path, parent: Path) -> bool:
    """True when child is parent or lies below it (both resolved)."""
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f]")


def unsafe_path_reason(path: str) -> str | None:
    """Why a relative path taken from a bundle or archive is unsafe, or None.

    Rejects absolute paths, '~', '..', empty components, backslashes, drive
    letters and control characters, as an attacker could use any of them to
    point a reader outside the bundle.
    """
    if path == "":
        return "empty path"
    if "\x00" in path:
        return "NUL character in path"
    if _CONTROL.search(path):
        return "control character in path"
    if "\\" in path:
        return "backslash in path"
    if path.startswith("/"):
        return "absolute path"
    if path.startswith("~"):
        return "path starts with '~'"
    if _DRIVE.match(path):
        return "drive letter in path"
    if "." not in path and "//" not in path:
        return None  # the common case, decided without splitting
    parts = path.split("/")
    if ".." in parts:
        return "'..' in path"
    if "" in parts[:-1] or "." in parts:
        return "empty or '.' component in path"
    return None


@contextmanager
def temporary_directory_beside(final: Path) -> Iterator[Path]:
    """A fresh hidden directory next to `final`, removed on failure.

    Building in the same directory as the final name keeps the last rename
    atomic (same file system); the hidden '.partial' name never looks finished.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    try:
        yield tmp
    except BaseException:
        # A failed removal leaves the partial copy for the pending marker to
        # name (custody.base.pending), and must not hide why the work stopped.
        with suppress(OSError):
            remove_tree(tmp)
        raise


def remove_tree(path: Path) -> None:
    """Remove a directory tree custody created itself, never following links."""
    if not os.path.lexists(path):
        return
    for root, dirs, files in os.walk(path, topdown=False, followlinks=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            full = os.path.join(root, name)
            if os.path.islink(full):
                os.unlink(full)
            else:
                os.chmod(full, 0o700)
                os.rmdir(full)
    os.rmdir(path)
