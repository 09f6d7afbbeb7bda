"""The intake's state folder (DIR): invitations, uploads, submissions.

An adapter: files only, no decisions about evidence. Every state file is
replaced atomically and durably; upload bytes are fsynced before an offset
is recorded, so a crash leaves an offset that never claims more than is on disk.

    DIR/intake.json                         the case this folder serves
    DIR/invitations/<id>.json               id: SHA-256 of the token
    DIR/submissions/<id>/uploads/<u>.json   one upload's state (tus.Upload)
    DIR/submissions/<id>/uploads/<u>.part   its bytes, never served back
    DIR/submissions/<id>/finish.json        the witness pressed "finish"
    DIR/submissions/<id>/result.json        ingested (or failed.json)
    DIR/submissions/<id>/receipt.json, receipt.html
    DIR/bundles/                            the bundles the finish made
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.base.fsutil import environment_error, replace_file
from custody.intake import invitations as states
from custody.intake.invitations import Invitation
from custody.intake.tus import Upload, well_formed_upload_id

DIR_FORMAT = "custody/intake-dir/v1"
_HEX64 = frozenset("0123456789abcdef")


def _json_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


class StateDir:
    """The intake state folder at `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # The folder ------------------------------------------------------------
    def ensure(self, case: str) -> None:
        """Create the folder for `case`, or check it serves that case."""
        marker = self.root / "intake.json"
        try:
            if marker.exists():
                doc = _read_json(marker)
                if doc.get("case") != case:
                    raise InputError(
                        f"this intake folder serves case {doc.get('case')!r}, not {case!r}",
                        path=str(self.root),
                    )
                return
            for sub in ("invitations", "submissions", "bundles"):
                (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            replace_file(marker, _json_bytes({"format": DIR_FORMAT, "case": case}), mode=0o600)
        except OSError as e:
            raise environment_error(e, marker) from e

    def case(self) -> str:
        marker = self.root / "intake.json"
        try:
            return str(_read_json(marker)["case"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(
                "not an intake folder (no intake.json): run 'custody intake invite' first",
                path=str(self.root),
            ) from e

    def bundles(self) -> Path:
        return self.root / "bundles"

    # Invitations -----------------------------------------------------------
    def _invitation_path(self, inv_id: str) -> Path:
        if len(inv_id) != 64 or not set(inv_id) <= _HEX64:
            raise KeyError(inv_id)
        return self.root / "invitations" / f"{inv_id}.json"

    def save_invitation(self, inv: Invitation) -> None:
        path = self._invitation_path(inv.id)
        try:
            replace_file(path, _json_bytes(inv.to_json()), mode=0o600)
        except OSError as e:
            raise environment_error(e, path) from e

    def invitation(self, inv_id: str) -> Invitation | None:
        try:
            path = self._invitation_path(inv_id)
            return Invitation.from_json(_read_json(path))
        except (KeyError, FileNotFoundError):
            return None
        except (OSError, ValueError) as e:
            raise InputError(f"damaged invitation ({e})", path=inv_id) from e

    def invitations(self) -> list[Invitation]:
        out = []
        for path in sorted((self.root / "invitations").glob("*.json")):
            inv = self.invitation(path.stem)
            if inv is not None:
                out.append(inv)
        return sorted(out, key=lambda i: (i.created, i.ref))

    # Submissions -----------------------------------------------------------
    def submission(self, inv_id: str) -> Path:
        self._invitation_path(inv_id)
        return self.root / "submissions" / inv_id

    def _upload_base(self, inv_id: str, upload_id: str) -> Path:
        if not well_formed_upload_id(upload_id):
            raise KeyError(upload_id)
        return self.submission(inv_id) / "uploads" / upload_id

    def part(self, inv_id: str, upload_id: str) -> Path:
        return self._upload_base(inv_id, upload_id).with_suffix(".part")

    def upload(self, inv_id: str, upload_id: str) -> Upload | None:
        try:
            base = self._upload_base(inv_id, upload_id)
            return Upload.from_json(_read_json(base.with_suffix(".json")))
        except (KeyError, FileNotFoundError):
            return None

    def uploads(self, inv_id: str) -> list[Upload]:
        folder = self.submission(inv_id) / "uploads"
        out = []
        for path in folder.glob("*.json") if folder.exists() else ():
            up = self.upload(inv_id, path.stem)
            if up is not None:
                out.append(up)
        return sorted(out, key=lambda u: u.number)

    def create_upload(self, up: Upload) -> None:
        """Make the empty part file, then the state naming it."""
        base = self._upload_base(up.invitation, up.id)
        base.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(base.with_suffix(".part"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fsync(fd)
        os.close(fd)
        self.save_upload(up)

    def save_upload(self, up: Upload) -> None:
        base = self._upload_base(up.invitation, up.id)
        replace_file(base.with_suffix(".json"), _json_bytes(up.to_json()), mode=0o600)

    def marker(self, inv_id: str, name: str) -> dict[str, Any] | None:
        path = self.submission(inv_id) / name
        try:
            doc = _read_json(path)
        except FileNotFoundError:
            return None
        return doc if isinstance(doc, dict) else None

    def write_marker(self, inv_id: str, name: str, doc: dict[str, Any]) -> None:
        folder = self.submission(inv_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        replace_file(folder / name, _json_bytes(doc), mode=0o600)

    def write_file(self, inv_id: str, name: str, data: bytes) -> Path:
        path = self.submission(inv_id) / name
        replace_file(path, data, mode=0o600)
        return path

    def read_file(self, inv_id: str, name: str) -> bytes | None:
        try:
            return (self.submission(inv_id) / name).read_bytes()
        except FileNotFoundError:
            return None

    def copy_upload(self, up: Upload, dest: Path) -> None:
        """Put an upload's bytes at `dest` for the ingest (a hard link: one copy)."""
        os.link(self.part(up.invitation, up.id), dest)

    def drop_upload(self, up: Upload) -> None:
        self.part(up.invitation, up.id).unlink(missing_ok=True)

    def finish_lock(self, inv_id: str) -> Any:
        """One finish of a submission at a time."""
        from custody.base.fsutil import exclusive_lock

        return exclusive_lock(self.submission(inv_id) / "finish.lock")

    def submissions_waiting(self) -> Iterator[str]:
        """Submissions whose witness pressed finish and that are not yet done."""
        folder = self.root / "submissions"
        for sub in sorted(folder.iterdir()) if folder.exists() else ():
            if (
                (sub / "finish.json").exists()
                and not (sub / "result.json").exists()
                and not (sub / "failed.json").exists()
            ):
                yield sub.name


# Upload bytes --------------------------------------------------------------
def open_part(path: Path, offset: int) -> int:
    """Open a part file for appending at `offset`, cutting anything past it
    (bytes a crash left after the last recorded offset)."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        if os.fstat(fd).st_size != offset:
            os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes | bytearray | memoryview, *hashers: Any) -> None:
    """Write every byte and feed the hashers (run in a worker thread)."""
    view = memoryview(data)
    for h in hashers:
        h.update(view)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def cut_back(fd: int, offset: int) -> None:
    """Take back everything written past `offset` (nothing of a refused part stays)."""
    os.ftruncate(fd, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    os.fsync(fd)


def hash_prefix(path: Path, length: int) -> Any:
    """A SHA-256 hasher fed the first `length` bytes of `path` (after a restart:
    the server never trusts a digest it did not compute)."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    left = length
    with open(path, "rb", buffering=0) as f:
        while left:
            n = f.readinto(view[: min(left, len(buf))])
            if not n:
                raise OSError(errno.EIO, "part file shorter than its recorded offset")
            h.update(view[:n])
            left -= n
    return h


def submission_state(
    state: StateDir,
    inv: Invitation,
    now: datetime,
    uploads: list[Upload] | None = None,
) -> str:
    """open, uploading, received, ingested, failed, expired or revoked."""
    if state.marker(inv.id, "result.json") is not None:
        return states.INGESTED
    if state.marker(inv.id, "failed.json") is not None:
        return states.FAILED
    if state.marker(inv.id, "finish.json") is not None:
        return states.RECEIVED
    if inv.revoked:
        return states.REVOKED
    if inv.expired(now):
        return states.EXPIRED
    ups = state.uploads(inv.id) if uploads is None else uploads
    return states.UPLOADING if ups else states.OPEN
