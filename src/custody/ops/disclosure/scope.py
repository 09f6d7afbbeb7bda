"""`custody disclose --scope RECORD`: a disclosure limited to a scope record.

Before anything is read for copying: the record must be about this bundle and
statement; every item the officer names (--strip-metadata, --redact-messages,
--derived, --reveal, --withhold-field) must be selected by it; every item it
does not select is withheld with the basis "outside scope record <id>" (a file
none of whose items is selected is withheld whole; a ZIP or an extraction with
some members selected is disclosed as those members). After the plan is made,
every item it would disclose is checked against the record once more, so that
nothing outside it is ever written, whatever the decisions were.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.disclosure import package as P
from custody.disclosure.request import DisclosureRequest
from custody.scope.limit import ScopeLimit
from custody.scope.source import read_bundle_items

OUTSIDE = "outside scope record {}"

HOW = {
    P.INTACT: "disclosed intact",
    P.STRIPPED: "disclosed stripped of its metadata",
    P.REDACTED: "disclosed with messages redacted",
    P.DERIVED: "disclosed as a derivative",
    P.WHOLE: "disclosed (a whole bundle)",
}

Use = tuple[str, str, str]


def record_items(items: Iterable[dict[str, Any]]) -> list[Use]:
    """The items a disclosure record's `items` disclose. An archive given as
    its members (treatment `members`) is not itself used: its bytes are not in
    the package; each member disclosed is."""
    items = [it for it in items if isinstance(it, dict)]
    archives = {
        it.get("file"): str(it.get("path")) for it in items if it.get("treatment") == P.MEMBERS
    }
    out: list[Use] = []
    for it in items:
        treatment = it.get("treatment")
        if treatment == P.MEMBERS:
            continue
        path = str(it.get("path"))
        how = HOW.get(str(treatment), f"disclosed ({treatment})")
        archive = archives.get(it.get("archive")) if "archive" in it else None
        if archive is not None and path.startswith(archive + "/"):
            out.append((archive, path[len(archive) + 1 :], how))
        else:
            out.append((path, "", how))
    return out


def package_use(
    record: dict[str, Any], *, location: str, scope_sha256: str
) -> tuple[list[Use], dict[str, Any]]:
    """The items a package's (parsed) disclosure record discloses, and the
    `use` object of the scope report: a package made under another scope
    record is a problem; one made without --scope is not (its record lists
    every item it used), and says so."""
    named = record.get("scope") if isinstance(record.get("scope"), dict) else None
    named_sha = named.get("scope_sha256") if named else None
    problems = []
    if named_sha is not None and named_sha != scope_sha256:
        problems.append(
            f"the package was made under another scope record (scope.json SHA-256 "
            f"{str(named_sha)[:16]}...), not this one"
        )
    use = {
        "kind": "package",
        "path": location,
        "scope_sha256": named_sha,
        "problems": problems,
    }
    return record_items(record.get("items") or []), use


def basis_outside(scope: ScopeLimit) -> str:
    return OUTSIDE.format(scope.scope_id)


def limit_request(
    request: DisclosureRequest,
    *,
    scope: ScopeLimit,
    bundle: Path,
    bundle_id: str,
    statement_sha256: str,
) -> DisclosureRequest:
    """The request with everything outside `scope` withheld. Raises InputError
    (one line) for a record about another bundle or a decision that would
    disclose an item outside it."""
    if scope.bundle_id != bundle_id or scope.statement_sha256 != statement_sha256:
        raise InputError(
            "the scope record is about another bundle (or another statement)",
            path=scope.record,
        )
    names = {a if not m else f"{a}/{m}" for a, m in scope.selected}
    named = [
        *request.strip,
        *request.redact,
        *request.derived,
        *request.reveal,
        *request.withhold_fields,
    ]
    for path in named:
        if path not in names:
            raise InputError(
                f"outside the scope record {scope.scope_id[:8]}: it cannot be disclosed "
                "under it; nothing was written",
                path=path,
            )
    if request.reveal:  # a supplement withholds everything it does not reveal
        return request
    members: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    own: dict[str, bool] = {}
    extractions: set[str] = set()
    for item in read_bundle_items(bundle).items():
        if item.member:
            held = scope.holds(item.bundle_path, item.member)
            members[item.bundle_path].append((item.member, held))
        else:
            own[item.bundle_path] = scope.holds(item.bundle_path)
            if item.type == "extraction":
                extractions.add(item.bundle_path)
    already = set(request.withhold)
    add: list[str] = []
    as_members: list[str] = []
    for path, selected in own.items():
        inside = [m for m, held in members.get(path, []) if held]
        outside = [m for m, held in members.get(path, []) if not held]
        if path in already:
            continue
        if not selected and not inside:
            add.append(path)  # nothing of it selected: withheld whole
        elif path in extractions and (outside or not selected):
            # A phone extraction's members are not committed one by one (only the
            # extraction file is): none can be proven alone, so none is disclosed.
            raise InputError(
                f"the scope selects {len(inside)} of its {len(inside) + len(outside)} "
                "members, but an extraction's members are not committed one by one, only "
                f"the whole file: withhold it (--withhold {path} --basis ...); nothing was "
                "written",
                path=path,
            )
        elif outside:
            add.extend(f"{path}/{m}" for m in outside if f"{path}/{m}" not in already)
        elif not selected:
            as_members.append(path)  # every member selected, not the archive itself
    if not add and not as_members:
        return request
    why = basis_outside(scope)
    return replace(
        request,
        as_members=(*request.as_members, *as_members),
        withhold=(*request.withhold, *add),
        bases={**request.bases, **{f"withhold:{p}": why for p in add}},
    )


def check_disclosed(items: list[dict[str, Any]], scope: ScopeLimit) -> None:
    """Refuse (InputError, nothing written yet) when the planned record
    discloses any item the scope does not select."""
    outside = [(a, m, how) for a, m, how in record_items(items) if not scope.holds(a, m)]
    if outside:
        a, m, how = outside[0]
        more = f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""
        raise InputError(
            f"would be {how}, but the scope record {scope.scope_id[:8]} does not select it"
            f"{more}: withhold it, or name its members; nothing was written",
            path=f"{a}/{m}" if m else a,
        )


def scope_field(scope: ScopeLimit) -> dict[str, Any]:
    """What the disclosure record (signed) says of the scope it was limited to."""
    return {
        "scope_id": scope.scope_id,
        "scope_sha256": scope.scope_sha256,
        "selected_merkle_root": scope.merkle_root,
    }
