"""What a disclosure package or a `custody similar` analysis used, as scope
items: (bundle path, member path, how it was used), and which scope record it
says it was limited to. Read by `custody verify --scope` (scope_verify.py)
and by `custody disclose --scope` before anything is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.disclosure import package as P
from custody.ops.disclosure.scope import Use, package_use
from custody.scope.check import parse_used

PAYLOAD = "data/"
SIMILAR_FORMAT = "custody/similar-result/v1"
MAX_USED = 1 << 30


def analysis_use(
    doc: dict[str, Any], *, location: str, bundle_id: str, scope_sha256: str
) -> tuple[list[Use], dict[str, Any]]:
    """The items of bundle `bundle_id` that a `custody similar --json`
    document shows (in groups, rejected pairs, or as not analysed), and the
    `use` object: an analysis not limited to this scope record is a problem
    (it compared items it does not list)."""
    scopes = doc.get("scopes")
    named = [
        s
        for s in (scopes if isinstance(scopes, list) else [])
        if isinstance(s, dict) and s.get("bundle_id") == bundle_id
    ]
    problems = []
    named_sha = named[0].get("scope_sha256") if named else None
    if not named:
        problems.append(
            "the analysis was not limited to a scope record for this bundle "
            "(custody similar without --scope compares every file)"
        )
    elif named_sha != scope_sha256:
        problems.append(
            f"the analysis was limited to another scope record (scope.json SHA-256 "
            f"{str(named_sha)[:16]}...), not this one"
        )
    out: list[Use] = []
    seen: set[tuple[str, str]] = set()

    def add(member: Any, how: str) -> None:
        if isinstance(member, dict) and member.get("bundle_id") == bundle_id:
            pair = (PAYLOAD + str(member.get("path")), "")
            if pair not in seen:
                seen.add(pair)
                out.append((*pair, how))

    for group in doc.get("groups") or []:
        for member in group.get("members") or [] if isinstance(group, dict) else []:
            add(member, "shown in a group of matching files")
    for pair in doc.get("rejected") or []:
        if isinstance(pair, dict):
            add(pair.get("a"), "shown in a rejected pair")
            add(pair.get("b"), "shown in a rejected pair")
    for item in doc.get("not_analysed") or []:
        add(item, "listed as not analysed")
    use = {"kind": "analysis", "path": location, "scope_sha256": named_sha, "problems": problems}
    return out, use


def read_used(
    path: Path, *, bundle_id: str, scope_sha256: str, statement_sha256: str | None = None
) -> tuple[list[tuple[str, ...]], dict[str, Any]]:
    """What `--used PATH` names: a disclosure package (folder or zip), a
    `custody similar --json` document, or a list of items (one a line).
    Raises InputError when it cannot be read."""
    from custody.ops.disclosure.verify import is_package

    if is_package(path):
        from custody.bundle.read.reader import scan_bundle

        scan = scan_bundle(path, hash_payload=False)
        data = scan.tag_bytes.get(P.RECORD)
        try:
            record = P.parse_record(data or b"")
        except P.PackageError as e:
            raise InputError(f"the disclosure record cannot be read ({e})", path=str(path)) from e
        items, use = package_use(record, location=str(path), scope_sha256=scope_sha256)
        if statement_sha256 is not None and record.get("statement_sha256") != statement_sha256:
            use["problems"].append("the package is of another bundle (or another statement)")
        return list(items), use
    try:
        if path.stat().st_size > MAX_USED:
            raise InputError("is larger than 1 GiB", path=str(path))
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot be read ({e.strerror})", path=str(path)) from e
    if data.lstrip()[:1] == b"{":
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError("is not JSON", path=str(path)) from e
        if not isinstance(doc, dict) or doc.get("format") != SIMILAR_FORMAT:
            raise InputError(
                "is not a custody similar --json document (nor a list of items)", path=str(path)
            )
        items, use = analysis_use(
            doc, location=str(path), bundle_id=bundle_id, scope_sha256=scope_sha256
        )
        return list(items), use
    pairs = list(parse_used(data))
    return list(pairs), {"kind": "list", "path": str(path), "scope_sha256": None, "problems": []}
