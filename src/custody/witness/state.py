"""What a witness remembers of each log: the latest checkpoint it cosigned.

One small JSON file per log under <witness dir>/state/, named after the
SHA-256 of the origin, replaced atomically and durably (temporary file, fsync,
rename, fsync of the directory) before the witness answers. Submissions for
one log are serialised by an exclusive lock (flock on a per-log lock file, so
that two witness processes sharing the folder are serialised too).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from custody.base.errors import EnvironmentFailure, InputError
from custody.base.fsutil import environment_error, exclusive_lock, replace_file


@dataclass(frozen=True)
class LogState:
    """The latest checkpoint a witness cosigned for one log."""

    origin: str
    size: int
    root: bytes
    checkpoint: bytes  # the checkpoint as submitted, with the witness's cosignature


class StateStore(Protocol):
    """What the handler needs from storage."""

    def locked(self, origin: str) -> AbstractContextManager[None]: ...

    def get(self, origin: str) -> LogState | None: ...

    def put(self, state: LogState) -> None: ...


class FileStateStore:
    """A StateStore in a folder: one JSON file per log."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _name(self, origin: str) -> str:
        return hashlib.sha256(origin.encode()).hexdigest()

    def path(self, origin: str) -> Path:
        return self.directory / f"{self._name(origin)}.json"

    @contextmanager
    def locked(self, origin: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock, exclusive_lock(self.directory / f"{self._name(origin)}.lock"):
            yield

    def get(self, origin: str) -> LogState | None:
        path = self.path(origin)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise EnvironmentFailure(e.strerror or "cannot read", path=str(path)) from e
        try:
            doc = json.loads(data)
            state = LogState(
                str(doc["origin"]),
                int(doc["size"]),
                base64.b64decode(doc["root"], validate=True),
                str(doc["checkpoint"]).encode("utf-8"),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise InputError("the witness's state file is damaged", path=str(path)) from e
        if state.origin != origin:
            raise InputError("the witness's state file is for another log", path=str(path))
        return state

    def put(self, state: LogState) -> None:
        doc = {
            "origin": state.origin,
            "size": state.size,
            "root": base64.b64encode(state.root).decode(),
            "checkpoint": state.checkpoint.decode("utf-8"),
        }
        path = self.path(state.origin)
        try:
            replace_file(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
        except OSError as e:
            raise environment_error(e, path) from e
