"""Writing one file of a disclosure package: its bytes, or its bundle (or
derived) file streamed, or its pieces, each hashed on the way and checked
against its commitment before anything is signed (ops/disclosure/disclose.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

from custody.base.errors import InputError
from custody.disclosure.copies import Copy, Piece
from custody.ops.disclosure.zipfiles import open_zip_member


def put_copy(target: Path, copy: Copy) -> Copy:
    """Write one file of the package: its bytes, its bundle (or derived) file
    streamed, or its pieces; each hashed on the way and checked against what it
    must be (InputError naming the file when it is not). Returns the copy with
    its SHA-256 and size as written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as out:
        if copy.data is not None:
            out.write(copy.data)
            return copy
        assert copy.source is not None
        whole = hashlib.sha256()
        size = 0
        try:
            src = _open_source(copy)
        except OSError as e:
            raise InputError("cannot be read: run custody verify", path=str(copy.source)) from e
        with src:
            for piece in copy.pieces if copy.pieces is not None else (Piece(size=-1),):
                if piece.data is not None:
                    whole.update(piece.data)
                    out.write(piece.data)
                    size += len(piece.data)
                    continue
                part = hashlib.sha256()
                left = piece.size
                if left >= 0:
                    src.seek(piece.start)
                while left:
                    chunk = src.read(1 << 20 if left < 0 else min(left, 1 << 20))
                    if not chunk:
                        break
                    part.update(chunk)
                    whole.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    left -= len(chunk) if left > 0 else 0
                if piece.sha256 is not None and (left > 0 or part.hexdigest() != piece.sha256):
                    raise InputError(
                        "a part differs from its commitment: run custody verify",
                        path=str(copy.source),
                    )
    if copy.sha256 is not None and whole.hexdigest() != copy.sha256:
        raise InputError(
            "differs from its committed SHA-256: run custody verify", path=str(copy.source)
        )
    return Copy(whole.hexdigest(), size, source=copy.source)


def _open_source(copy: Copy) -> IO[bytes]:
    """The file a copy is read from: a bundle or derived file, or a member of a
    ZIP archive in the bundle (read as it decompresses; pieces are in order, so
    every seek is forward)."""
    assert copy.source is not None
    if copy.member is None:
        return open(copy.source, "rb")
    found = open_zip_member(copy.source, copy.member)
    if found is None:
        raise InputError(
            "the archive has no such member: run custody verify", path=str(copy.source)
        )
    return found
