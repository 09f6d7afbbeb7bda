"""Checking a scope record: is it whole, signed by a trusted key, about this
bundle, and exactly what its filter selects there? And did a package or an
analysis use anything outside it?

`check_scope` is pure: the record's files, the bundle's items and the
verifier's trusted keys in; a ScopeReport (every problem found) out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.base.keys import PublicKeyInfo, fingerprint_of, parse_public_key_file
from custody.base.signing import signature_is_valid
from custody.scope.items import Item
from custody.scope.query import QueryError, matches, parse_query
from custody.scope.record import (
    NOTICE_STEM,
    SCOPE_JSON,
    SCOPE_SIG,
    SELECTED,
    SIGNER_PUB,
    ScopeFiles,
    ScopeRecordError,
    SelectedList,
    parse_scope,
    summarise_lines,
)

MAX_FILE = 1 << 30


@dataclass(frozen=True)
class ScopeReport:
    """What a scope record was found to be, and the items used outside it."""

    record: str
    valid: bool
    scope_id: str | None
    where: str | None
    reason: str | None
    signer: str | None
    fingerprint: str | None
    selected: int | None
    merkle_root: str | None
    problems: tuple[str, ...] = ()
    used: int | None = None
    outside: tuple[tuple[str, str], ...] = field(default=())
    outside_problems: tuple[str, ...] = ()
    """One line per item used outside the scope: which item, and how it was used."""
    filter_checked: bool = True
    """False when checked without the bundle (against a disclosure package): the
    filter cannot be evaluated again without every item."""
    use: dict[str, Any] | None = None
    """What --used (or the package) was: kind, path, the scope it names, its problems."""

    @property
    def ok(self) -> bool:
        return self.valid and not self.outside and not (self.use or {}).get("problems")

    def to_json(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["outside"] = [list(pair) for pair in self.outside]
        out["outside_problems"] = list(self.outside_problems)
        out["problems"] = list(self.problems)
        out["ok"] = self.ok
        return out


def read_scope_files(record: Path) -> ScopeFiles:
    """The files of a scope record folder. Raises InputError when it is not
    a folder with a scope.json."""
    if not record.is_dir():
        raise InputError("not a scope record (a folder with scope.json)", path=str(record))

    def read(name: str) -> bytes | None:
        path = record / name
        if path.is_symlink() or not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE:
            raise InputError(f"{name} is larger than 1 GiB", path=str(record))
        return path.read_bytes()

    scope = read(SCOPE_JSON)
    if scope is None:
        raise InputError("not a scope record: no scope.json", path=str(record))
    notices = sorted(p.name for p in record.iterdir() if p.name.startswith(NOTICE_STEM))
    notice_name = notices[0] if len(notices) == 1 else None
    return ScopeFiles(
        location=str(record),
        scope=scope,
        signature=read(SCOPE_SIG),
        signer=read(SIGNER_PUB),
        notice_name=notice_name,
        notice=read(notice_name) if notice_name else None,
        selected=read(SELECTED),
    )


def parse_used(data: bytes) -> Iterator[tuple[str, str]]:
    """Items named in a list of items used: one a line, either an item name as
    in selected.jsonl or a plain bundle path (a loose file). Raises InputError."""
    for n, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"--used line {n} is not JSON ({e.msg})") from e
            if not (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, str) for v in value)
            ):
                raise InputError(f"--used line {n} is not [bundle path, member path]")
            yield value[0], value[1]
        else:
            yield line, ""


def check_scope(
    files: ScopeFiles,
    *,
    bundle_id: str,
    statement_sha256: str,
    items: Callable[[], Iterator[Item]] | None,
    key_for: Callable[[str], PublicKeyInfo | None],
    used: Iterable[tuple[str, ...]] | None = None,
    use: dict[str, Any] | None = None,
) -> ScopeReport:
    """Every check of a scope record against a bundle (see module docstring).
    `items` None: the bundle's items are not at hand (a disclosure package),
    so the filter is not evaluated again. `used` items are (bundle path,
    member) or (bundle path, member, how it was used)."""
    problems: list[str] = []
    try:
        scope = parse_scope(files.scope or b"")
    except ScopeRecordError as e:
        return ScopeReport(
            files.location, False, None, None, None, None, None, None, None, (str(e),)
        )
    signer_name = fingerprint = None
    if files.signer is None or files.signature is None:
        problems.append("scope.sig or signer.pub is missing")
    else:
        try:
            info = parse_public_key_file(files.signer)
        except Exception as e:  # a damaged key file: one line, not a traceback
            problems.append(f"signer.pub cannot be read ({e})")
        else:
            signer_name = info.name
            fingerprint = fingerprint_of(info.public_key)
            if not signature_is_valid(info.public_key, files.signature, files.scope or b""):
                problems.append("scope.sig is not a valid signature over scope.json")
            elif fingerprint != scope.get("key_fingerprint"):
                problems.append("scope.json names another key than signer.pub")
            elif key_for(fingerprint) is None:
                problems.append(f"signed by a key you do not trust ({fingerprint[:16]}...)")
    notice = scope["notice"]
    if files.notice is None or files.notice_name != notice.get("file"):
        problems.append(f"the notice {notice.get('file')!r} is missing")
    elif sha256_bytes(files.notice) != notice.get("sha256") or len(files.notice) != notice.get(
        "size"
    ):
        problems.append("the notice differs from the one scope.json names")
    target = scope["bundle"]
    same_bundle = (
        target.get("bundle_id") == bundle_id and target.get("statement_sha256") == statement_sha256
    )
    if not same_bundle:
        problems.append("the scope record is about another bundle (or another statement)")
    claimed = scope["selected"]
    selected: set[tuple[str, str]] = set()
    if files.selected is None:
        problems.append("selected.jsonl is missing")
    else:
        try:
            listed = summarise_lines(files.selected)
        except ScopeRecordError as e:
            problems.append(str(e))
        else:
            if {k: listed[k] for k in ("sha256", "count", "merkle_root")} != {
                k: claimed.get(k) for k in ("sha256", "count", "merkle_root")
            }:
                problems.append("selected.jsonl differs from the list scope.json signed")
            if used is not None:  # only a check of items used needs the list as a set
                for line in files.selected.split(b"\n")[:-1]:
                    pair = json.loads(line)
                    selected.add((pair[0], pair[1]))
    where = str(scope.get("where"))
    evaluated = False
    try:
        query = parse_query(where)
    except QueryError as e:
        problems.append(f"the filter cannot be parsed ({e})")
    else:
        if same_bundle and items is not None:  # recomputed: exactly these items, no others
            evaluated = True
            again = SelectedList()
            for item in items():
                if matches(query, item):
                    again.add(item.leaf())
            if again.summary()["merkle_root"] != claimed.get(
                "merkle_root"
            ) or again.count != claimed.get("count"):
                problems.append("the filter does not select the listed items in this bundle")
    outside: list[tuple[str, str]] = []
    outside_problems: list[str] = []
    count = None
    if used is not None:
        count = 0
        for entry in used:
            count += 1
            pair = (entry[0], entry[1])
            if pair not in selected:
                outside.append(pair)
                how = entry[2] if len(entry) > 2 else "used"
                name = f"{pair[0]}/{pair[1]}" if pair[1] else pair[0]
                outside_problems.append(f"{name}: {how}, but not selected by the scope")
    return ScopeReport(
        record=files.location,
        valid=not problems,
        scope_id=scope.get("scope_id"),
        where=where,
        reason=scope.get("reason"),
        signer=signer_name,
        fingerprint=fingerprint,
        selected=claimed.get("count"),
        merkle_root=claimed.get("merkle_root"),
        problems=tuple(problems),
        used=count,
        outside=tuple(outside),
        outside_problems=tuple(outside_problems),
        filter_checked=evaluated,
        use=use,
    )


def selected_pairs(files: ScopeFiles) -> set[tuple[str, str]]:
    """The items a record selects (for `show --scope`)."""
    out: set[tuple[str, str]] = set()
    for line in (files.selected or b"").split(b"\n"):
        if line:
            value = json.loads(line)
            if bytes(rfc8785.dumps(value)) == line:
                out.add((value[0], value[1]))
    return out
