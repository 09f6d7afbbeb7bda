"""An archive disclosed as its members (`ARCHIVE.zip/MEMBER` in a decision): the
archive's own bytes and hash stay out of the package; each member is disclosed intact
(proven by its member leaf), stripped or redacted (proven by its parts), or withheld
(its leaf index and basis). Part of the disclosure plan (plan.py), which it serves as
a mixin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import InputError
from custody.bundle.format import commitments as L
from custody.disclosure import package as P
from custody.disclosure.copies import Copy, Files, compress_withheld
from custody.disclosure.request import DisclosureRequest

MEMBERS = P.MEMBERS


class ArchiveMembers:
    """The Plan's decisions about members of archives."""

    bundle: Path
    request: DisclosureRequest
    by_path: dict[str, int]

    if TYPE_CHECKING:

        def _fields(
            self, i: int, extras: list[tuple[int, L.Leaf]], shown: set[int], path: str
        ) -> tuple[list[int], list[dict[str, Any]]]: ...

        def _cut(
            self,
            i: int,
            path: str,
            extras: list[tuple[int, L.Leaf]],
            files: Files,
            shown: set[int],
            redact: tuple[int, ...] | None,
            *,
            owner: L.Leaf | None = None,
            archive: tuple[str, str] | None = None,
        ) -> dict[str, Any]: ...

    def _archive_of(self, path: str) -> int | None:
        """The file leaf of the archive `path` names a member of, or None."""
        at = path.rfind("/")
        while at > 5:
            if path[:at] in self.by_path:
                return self.by_path[path[:at]]
            at = path.rfind("/", 0, at)
        return None

    def _member_decision(
        self, members: dict[int, dict[str, str]], path: str, option: str, kind: str
    ) -> None:
        if kind not in ("withhold", P.STRIPPED, P.REDACTED):
            raise InputError(f"{option}: not for a member of an archive", path=path)
        chosen = members.setdefault(int(self._archive_of(path) or 0), {})
        if chosen.get(path, kind) != kind:
            raise InputError(f"{option}: already given another treatment", path=path)
        chosen[path] = kind

    def _members(
        self,
        i: int,
        path: str,
        extras: dict[int, list[tuple[int, L.Leaf]]],
        files: Files,
        shown: set[int],
        chosen: dict[str, str],
        summary: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """An archive disclosed as its members: the archive's bytes are not in the
        package; each member is disclosed intact (proven by its member leaf),
        stripped or redacted (proven by its parts) or withheld (its leaf index)."""
        found = next(((j, leaf) for j, leaf in extras[i] if leaf.kind == L.MEMBERS), None)
        if found is None:
            raise InputError(
                "custody committed no members for this archive (a bundle made before "
                "member leaves existed, or a ZIP custody could not read): withhold or "
                "disclose it whole",
                path=path,
            )
        j_members, count_leaf = found
        by_path = {
            str(leaf.get("path")): (j, leaf) for j, leaf in extras[i] if leaf.kind == L.MEMBER
        }
        for p in chosen:
            if p not in by_path:
                raise InputError("no such member was committed in the archive", path=p)
        shown.add(j_members)
        count: dict[str, Any] = {
            "path": path,
            "members": int(count_leaf.get("count")),
            "disclosed": 0,
            "stripped": 0,
            "redacted": 0,
            "withheld": 0,
            "withheld_by_basis": {},
        }
        items: list[dict[str, Any]] = []
        withheld: list[dict[str, Any]] = []

        def name_of(member_path: str) -> str:  # the member's name in the zip
            return member_path[len(path) + 1 :]

        for p, (j, leaf) in sorted(by_path.items(), key=lambda x: x[1][0]):
            kind = chosen.get(p, P.INTACT)
            if kind == "withhold":
                why = self.request.basis_of(f"withhold:{p}")
                withheld.append({"leaf": j, "basis": why})
                count["withheld"] += 1
                count["withheld_by_basis"][why] = count["withheld_by_basis"].get(why, 0) + 1
                continue
            if kind == P.INTACT:
                files[p] = Copy(
                    str(leaf.get("sha256")),
                    int(leaf.get("size")),
                    source=self.bundle / path,
                    member=name_of(p),
                )
                shown.add(j)
                fields, withheld_fields = self._fields(j, extras[j], shown, p)
                item: dict[str, Any] = {
                    "treatment": P.INTACT,
                    "path": p,
                    "leaf": j,
                    "fields": fields,
                    "withheld_fields": withheld_fields,
                }
                count["disclosed"] += 1
            else:
                redact = self.request.redact.get(p) if kind == P.REDACTED else None
                item = self._cut(
                    j, p, extras[j], files, shown, redact, owner=leaf, archive=(path, name_of(p))
                )
                if kind == P.REDACTED:
                    count["redacted"] += 1
                    summary["messages_redacted"].append(
                        {"path": p, "redacted": len(item["redacted"]), "of": item["messages"]}
                    )
                else:
                    count["stripped"] += 1
            items.append({**item, "archive": i})
        summary["archives"].append(count)
        record = {
            "treatment": MEMBERS,
            "path": path,
            "file": i,
            "members": j_members,
            "withheld": compress_withheld(withheld),
        }
        return [record, *items]
