"""Changing the tag files of a finished bundle folder in place: hand-over
records, timestamps, staples and team proofs.

One writer at a time: each holds an exclusive lock on the bundle folder itself
(nothing is created inside the bundle for it), so two commands changing the same
bundle never lose each other's tag-manifest lines. Every file is replaced
atomically from a fsynced temporary file made beside the bundle folder, never
inside it, so that a kill at any moment leaves no stray file in the bundle.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from custody.base.errors import InputError
from custody.base.fsutil import environment_error, fsync_dir
from custody.bundle.format import layout


@contextmanager
def bundle_lock(bundle: Path) -> Iterator[None]:
    """Exclusive use of the bundle folder's tag files for the block."""
    fd = os.open(bundle, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def temp_beside(bundle: Path, data: bytes, suffix: str) -> str:
    """A fsynced temporary file with `data` in the bundle's parent folder (the
    same file system, outside the bundle); returns its name."""
    fd, tmp = tempfile.mkstemp(dir=bundle.parent, prefix=f".{bundle.name}.", suffix=suffix)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, 0o644)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return tmp


def replace_in_bundle(bundle: Path, rel: str, data: bytes) -> None:
    """Atomically and durably replace (or create) the tag file `rel`. Raises
    EnvironmentFailure."""
    target = bundle / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_beside(bundle, data, ".tmp")
        try:
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        fsync_dir(target.parent)
    except OSError as e:
        raise environment_error(e, e.filename or target) from e


def create_in_bundle(bundle: Path, rel: str, data: bytes) -> None:
    """Create the tag file `rel`, which must not exist yet (no-replace: a hard
    link from the temporary file). Raises FileExistsError, EnvironmentFailure."""
    target = bundle / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_beside(bundle, data, ".tmp")
        try:
            os.link(tmp, target)
        finally:
            os.unlink(tmp)
        fsync_dir(target.parent)
    except FileExistsError:
        raise
    except OSError as e:
        raise environment_error(e, e.filename or target) from e


def read_tag_manifest(bundle: Path) -> dict[str, str]:
    """The bundle's tag manifest as {path: sha256}. Raises InputError when it
    cannot be read or is damaged (then nothing should be changed)."""
    path = bundle / layout.TAG_MANIFEST
    try:
        listed, errors = layout.parse_manifest(path.read_bytes())
    except OSError as e:
        raise InputError("cannot read the tag manifest", path=str(path)) from e
    if errors:
        raise InputError("the tag manifest is damaged", path=str(path))
    return listed


def write_tag_manifest(bundle: Path, listed: dict[str, str]) -> None:
    """Store the tag manifest listing `listed`, in custody's own spelling."""
    replace_in_bundle(bundle, layout.TAG_MANIFEST, layout.format_manifest(listed.items()))
