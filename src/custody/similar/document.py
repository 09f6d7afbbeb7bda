"""custody/similar.json: the analysis results of one bundle, kept apart from
the evidence metadata (docs/format.md, "custody/similar.json").

One record per analysed file, one line each (keys sorted), sorted by path, as
custody/metadata.json is written; no floats (times are whole milliseconds), so
the same files always give the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

SIMILAR_FORMAT = "custody/similar/v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Frame:
    """One hashed video frame: its time from the start and its PDQ hash."""

    t_ms: int
    pdq: str
    quality: int
    mirror: str | None = None
    """The hash of the frame mirrored left to right (a flipped re-upload)."""
    turned: tuple[str, ...] = ()
    """The hashes of the frame turned by 90, 180 and 270 degrees (a video
    re-uploaded on its side or upside down); empty in analyses made before."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t_ms": self.t_ms, "pdq": self.pdq, "quality": self.quality}
        if self.mirror is not None:
            out["mirror"] = self.mirror
        if self.turned:
            out["turned"] = list(self.turned)
        return out


@dataclass(frozen=True)
class Analysis:
    """What the analysis found for one file. `kind` is "image" or "video";
    `not_analysed` holds the reason when nothing could be hashed."""

    path: str
    sha256: str
    kind: str
    pdq: str | None = None
    quality: int | None = None
    dihedral: tuple[str, ...] = ()
    frames: tuple[Frame, ...] = ()
    duration_ms: int | None = None
    frames_capped: bool = False
    width: int | None = None
    height: int | None = None
    not_analysed: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "sha256": self.sha256, "kind": self.kind}
        if self.not_analysed is not None:
            out["not_analysed"] = self.not_analysed
            return out
        out["width"], out["height"] = self.width, self.height
        if self.kind == "image":
            out["pdq"], out["quality"] = self.pdq, self.quality
            out["dihedral"] = list(self.dihedral)
        else:
            out["duration_ms"] = self.duration_ms
            out["frames_capped"] = self.frames_capped
            out["frames"] = [f.to_json() for f in self.frames]
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Analysis:
        """Read one record; raises ValueError when it is not in this format."""
        if not isinstance(obj, dict):
            raise ValueError("a record is not an object")
        path, sha, kind = obj.get("path"), obj.get("sha256"), obj.get("kind")
        if not isinstance(path, str) or not isinstance(sha, str) or kind not in ("image", "video"):
            raise ValueError("a record lacks its path, sha256 or kind")
        if "not_analysed" in obj:
            return cls(path, sha, kind, not_analysed=str(obj["not_analysed"]))
        width, height = _opt_int(obj.get("width")), _opt_int(obj.get("height"))
        notes = tuple(str(n) for n in obj.get("notes") or ())
        if kind == "image":
            pdq, quality = _hash(obj.get("pdq")), _int(obj.get("quality"))
            dihedral = tuple(_hash(h) for h in obj.get("dihedral") or ())
            if len(dihedral) not in (0, 8):
                raise ValueError("dihedral must list 8 hashes")
            return cls(
                path, sha, kind, pdq, quality, dihedral, width=width, height=height, notes=notes
            )
        frames = []
        for f in obj.get("frames") or ():
            if not isinstance(f, dict):
                raise ValueError("a frame is not an object")
            mirror = None if f.get("mirror") is None else _hash(f.get("mirror"))
            turned = tuple(_hash(h) for h in f.get("turned") or ())
            if len(turned) not in (0, 3):
                raise ValueError("turned must list 3 hashes")
            frames.append(
                Frame(
                    _int(f.get("t_ms")),
                    _hash(f.get("pdq")),
                    _int(f.get("quality")),
                    mirror,
                    turned,
                )
            )
        return cls(
            path,
            sha,
            kind,
            frames=tuple(frames),
            duration_ms=_opt_int(obj.get("duration_ms")),
            frames_capped=bool(obj.get("frames_capped")),
            width=width,
            height=height,
            notes=notes,
        )


def _hash(value: Any) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise ValueError("a PDQ hash is not 64 lowercase hex digits")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("expected a whole number")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def similar_chunks(records: Iterable[Analysis], *, algorithm: str) -> Iterator[bytes]:
    """custody/similar.json, piece by piece (records sorted by path)."""
    head = json.dumps({"algorithm": algorithm, "format": SIMILAR_FORMAT}, sort_keys=True)
    yield b'{"analysis": ' + head.encode() + b', "files": [\n'
    first = True
    for record in records:
        line = json.dumps(record.to_json(), sort_keys=True, ensure_ascii=False, allow_nan=False)
        yield (b"" if first else b",\n") + line.encode("utf-8")
        first = False
    yield b"\n]}\n"


def similar_document(records: Iterable[Analysis], *, algorithm: str) -> bytes:
    """The bytes of custody/similar.json (see similar_chunks)."""
    return b"".join(similar_chunks(records, algorithm=algorithm))


def parse_similar_document(data: bytes) -> list[Analysis]:
    """The records of a custody/similar.json. Raises ValueError when the bytes
    are not in that form."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not JSON ({e})") from e
    if not isinstance(obj, dict) or not isinstance(obj.get("analysis"), dict):
        raise ValueError("not a custody analysis file")
    if obj["analysis"].get("format") != SIMILAR_FORMAT:
        raise ValueError(f"unknown analysis format {obj['analysis'].get('format')!r}")
    files = obj.get("files")
    if not isinstance(files, list):
        raise ValueError("the analysis file has no list of files")
    return [Analysis.from_json(f) for f in files]
