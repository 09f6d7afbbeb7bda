"""Reading a bundle without trusting it: a folder, or a .zip / .tar / .tar.gz
read in place (nothing is extracted to disk).

A scan lists every entry, hashes every regular file once, keeps the bytes of
the small tag files, and turns anything odd (links, devices, unsafe names,
duplicate archive members) into problems rather than following it.
"""

from __future__ import annotations

import os
from pathlib import Path

from custody.base.errors import InputError, NotABundleError
from custody.base.progress import ProgressCallback
from custody.bundle.read.folder import scan_directory
from custody.bundle.read.scan import (
    BundleScan,
)

# What the standard library's archive readers raise on damaged or hostile input.


def scan_bundle(
    path: Path,
    *,
    hash_payload: bool = True,
    tag_files_only: bool = False,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> BundleScan:
    """Scan a bundle folder or archive. Raises NotABundleError when `path` is
    neither a custody bundle folder nor an archive holding one, InputError when
    it cannot be read at all."""
    if not os.path.lexists(path):
        raise InputError("no such file or folder", path=str(path))
    if path.is_symlink():
        raise NotABundleError("is a symbolic link; give the bundle itself", path=str(path))
    if path.is_dir():
        return scan_directory(path, hash_payload, tag_files_only, on_progress, workers)
    if not path.is_file():
        raise NotABundleError("not a folder, .zip or .tar file", path=str(path))
    from custody.bundle.read.archive_checks import check_archive
    from custody.bundle.read.archives import scan_tar, scan_zip

    try:
        kind = check_archive(path)
        if kind == "zip":
            return scan_zip(path, on_progress)
        if kind is not None:
            return scan_tar(path, on_progress, cut_short=kind != "tar")
    except (OSError, EOFError) as e:
        raise InputError(f"cannot be read ({e})", path=str(path)) from e
    raise NotABundleError("not a bundle: not a folder, zip or tar archive", path=str(path))


# --- folders -----------------------------------------------------------------
