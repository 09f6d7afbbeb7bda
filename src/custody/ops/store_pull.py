"""custody store pull: a stored bundle back into a folder, byte-exact.

Objects are streamed into a hidden folder beside the destination, hashed as
they are written, compared with the bundle's manifests, made durable, and the
folder is renamed into place: a crash leaves nothing, or the whole bundle.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from custody.base.errors import InputError
from custody.base.fsutil import (
    environment_error,
    fsync_dir,
    rename_noreplace,
    sync_filesystem,
    temporary_directory_beside,
    unsafe_path_reason,
)
from custody.base.models import Problem
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.base.workers import run_parallel
from custody.bundle.format import layout, pack, pack_read
from custody.io.s3.client import connect, list_keys, s3_errors
from custody.io.s3.location import S3Location
from custody.io.s3.pack_scan import Listed, read_packed

READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class PullResult:
    """What `custody store pull` restored."""

    location: str
    bundle: str
    objects: int
    bytes: int
    problems: tuple[Problem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "bundle": self.bundle,
            "objects": self.objects,
            "bytes": self.bytes,
            "intact": self.intact,
            "problems": [p.to_json() for p in self.problems],
        }


def destination_for(location: S3Location, out: Path) -> Path:
    """Like cp -r: into an existing folder as <bundle name>, else `out` itself."""
    if out.is_dir() and not out.is_symlink():
        return out / location.name
    return out


def pull_bundle(
    *,
    source: str,
    out: Path,
    endpoint_url: str | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int = 4,
) -> PullResult:
    """Restore the bundle stored at `source` (s3://bucket/prefix/<bundle>) as a
    new folder. Raises InputError (the destination exists, nothing stored
    there, an unsafe key), StoreError, StoreUnreachable, EnvironmentFailure."""
    location = S3Location.parse(source)
    if not location.prefix:
        raise InputError("name a bundle: s3://bucket/prefix/<bundle>", path=source)
    final = destination_for(location, out)
    if os.path.lexists(final):
        raise InputError("already exists; nothing is written over", path=str(final))
    client = connect(endpoint_url=endpoint_url, workers=workers)
    base = location.key_prefix
    objects = []
    packed: dict[str, Listed] = {}
    for obj in list_keys(client, location, base):
        rel = obj["Key"][len(base) :]
        if rel.endswith("/") and not obj.get("Size"):
            continue
        reason = unsafe_path_reason(rel)
        if reason is not None:
            raise InputError(f"object key rejected: {reason}; nothing restored", path=obj["Key"])
        if pack.is_pack_path(rel):
            packed[rel] = Listed(rel, None, int(obj.get("Size", 0)))
            continue
        objects.append((rel, obj["Key"], int(obj.get("Size", 0))))
    names = {rel for rel, _, _ in objects}
    if layout.BAGIT_TXT not in names:
        raise InputError("no bundle stored here (no bagit.txt under this prefix)", path=source)
    tracker = ProgressTracker(
        "pull",
        len(objects),
        sum(size for _, _, size in objects) + sum(o.size for o in packed.values()),
        on_progress,
    )
    digests: dict[str, str] = {}
    try:
        with temporary_directory_beside(final) as tmp:

            def fetch(item: tuple[str, str, int], stop: object) -> tuple[str, str, int]:
                rel, key, _ = item
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with s3_errors(f"{location}/{rel}"):
                    body = client.get_object(Bucket=location.bucket, Key=key)["Body"]
                    h = hashlib.sha256()
                    count = 0
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                    try:
                        while piece := body.read(READ_CHUNK):
                            h.update(piece)
                            view = memoryview(piece)
                            while view:
                                view = view[os.write(fd, view) :]
                            count += len(piece)
                            tracker.add_bytes(len(piece))
                    finally:
                        os.close(fd)
                        body.close()
                tracker.file_done()
                return rel, h.hexdigest(), count

            total = 0
            for rel, digest, count in run_parallel(fetch, objects, workers=workers):
                digests[rel] = digest
                total += count
            layout_problems: list[Problem] = []
            if packed:
                restored = _restore_packed(
                    client, location, packed, tmp, digests, tracker, workers, layout_problems
                )
                total += restored
            problems = layout_problems + _compare(tmp, digests)
            sync_filesystem(tmp)
            rename_noreplace(tmp, final)
            fsync_dir(final.parent)
    except OSError as e:
        raise environment_error(e, e.filename or final) from e
    tracker.finish()
    count = len(objects) + len(packed)
    return PullResult(str(location), str(final), count, total, tuple(problems))


def _restore_packed(
    client: Any,
    location: S3Location,
    packed: dict[str, Listed],
    tmp: Path,
    digests: dict[str, str],
    tracker: ProgressTracker,
    workers: int,
    problems: list[Problem],
) -> int:
    """Write every member of every segment to its file under `tmp`, recording
    its SHA-256; returns the bytes restored. A member whose name is not safe,
    or that would write over a file already restored, is not written (and
    the layout's problems say why)."""
    written = [0]
    folders: set[Path] = set()

    def sink(name: str) -> IO[bytes] | None:
        target = tmp / name
        if target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        try:
            return open(target, "xb")  # closed by the segment reader
        except FileExistsError:
            problems.append(Problem(pack.PROBLEM, name, "stored twice; the first copy is kept"))
            return None

    def member(m: pack_read.MemberRead) -> None:
        if m.ok and m.path not in digests:
            digests[m.path] = m.sha256
            written[0] += m.size
            tracker.file_done()

    found = read_packed(
        client=client,
        location=location,
        listed=packed,
        on_member=member,
        sink=sink,
        on_bytes=tracker.add_bytes,
        workers=workers,
    )
    problems.extend(found.problems)
    return written[0]


def _compare(root: Path, digests: dict[str, str]) -> list[Problem]:
    """The restored files against the manifests they came with."""
    problems: list[Problem] = []
    for name in (layout.MANIFEST, layout.TAG_MANIFEST):
        try:
            listed, _ = layout.parse_manifest((root / name).read_bytes())
        except OSError:
            problems.append(Problem("missing", name, "not in the store"))
            continue
        for path, digest in listed.items():
            got = digests.get(path)
            if got is None:
                problems.append(Problem("missing", path, f"listed in {name} but not in the store"))
            elif got != digest:
                problems.append(Problem("changed", path, f"SHA-256 is {got}, {name} says {digest}"))
    return problems
