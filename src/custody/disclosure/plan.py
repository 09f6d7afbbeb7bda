"""The decisions of one disclosure, checked against the bundle's leaves: which
leaves each item discloses, which are withheld on what basis, and the bytes of
each copy (intact, stripped, redacted, derived). Used by disclose.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.bundle.format import commitments as L
from custody.bundle.format import layout
from custody.bundle.format.commitment_tree import CommitmentTree
from custody.disclosure import package as P
from custody.disclosure.copies import Copy, Files, Piece, compress_withheld, hash_file
from custody.disclosure.parts import free_box, message_numbers, redaction_marker
from custody.disclosure.plan_members import ArchiveMembers
from custody.disclosure.related import names_any, repeats_which
from custody.disclosure.request import DisclosureRequest
from custody.tlog.merkle import leaf_hash

OUTSIDE_SUPPLEMENT = "outside this supplement"
MEMBERS = P.MEMBERS


NAMES_WITHHELD = "names an item not disclosed intact"


class Plan(ArchiveMembers):
    """The decisions of one committed disclosure, checked against the leaves."""

    def __init__(
        self,
        bundle: Path,
        statement: dict[str, Any],
        commitments: dict[str, Any],
        request: DisclosureRequest,
    ) -> None:
        self.bundle = bundle
        self.request = request
        data = (bundle / L.COMMITMENTS_PATH).read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if len(lines) != commitments.get("leaves"):
            raise InputError(
                f"holds {len(lines)} leaves, the statement committed {commitments.get('leaves')}",
                path=str(bundle / L.COMMITMENTS_PATH),
            )
        self.lines = lines
        self.tree = CommitmentTree([leaf_hash(x) for x in lines])
        if self.tree.root.hex() != commitments.get("root"):
            raise InputError(
                "does not lead to the root the statement signed",
                path=str(bundle / L.COMMITMENTS_PATH),
            )
        self.files = int(commitments["files"])
        self.note_leaf = commitments.get("note_leaf")
        # Path and SHA-256 of every file leaf read cheaply; a leaf is parsed in full
        # (and checked against them) only for the files disclosed.
        self.file_fields = [L.file_fields(lines[i]) for i in range(self.files)]
        self.by_path: dict[str, int] = {path: i for i, (path, _) in enumerate(self.file_fields)}
        self._parsed: dict[int, L.Leaf] = {}
        self.note_state: dict[str, Any] | None = None
        self.notes: list[str] = []

    def file_leaf(self, i: int) -> L.Leaf:
        """File leaf `i`, parsed in full (and agreeing with its cheap reading)."""
        if i not in self._parsed:
            leaf = L.parse_leaf(self.lines[i])
            if leaf.kind != L.FILE or (leaf.get("path"), leaf.get("sha256")) != self.file_fields[i]:
                raise InputError(
                    f"leaf {i} is not the file leaf it seems: run custody verify",
                    path=str(self.bundle / L.COMMITMENTS_PATH),
                )
            self._parsed[i] = leaf
        return self._parsed[i]

    def _index(self, path: str, option: str) -> int:
        if path not in self.by_path:
            raise InputError(f"{option}: no such file in the bundle", path=path)
        return self.by_path[path]

    def _extras(
        self,
        wanted: set[int],
        archives: set[int] = frozenset(),  # type: ignore[assignment]
    ) -> dict[int, list[tuple[int, L.Leaf]]]:
        """The field, layout and part leaves of the files in `wanted`; for the
        `archives` among them also their members' own (keyed by member leaf)."""
        out: dict[int, list[tuple[int, L.Leaf]]] = {i: [] for i in wanted}
        owners = set(wanted)
        for j in range(self.files, len(self.lines)):
            line = self.lines[j]
            if line.startswith(b'{"count":'):  # an archive's members leaf
                members = L.parse_leaf(line)
                if members.kind == L.MEMBERS and members.get("file") in owners:
                    out[int(members.get("file"))].append((j, members))
                continue
            if not line.startswith(b'{"file":'):
                continue
            number = int(line[8 : line.index(b",", 8)])
            if number in owners:
                leaf = L.parse_leaf(line)
                out[number].append((j, leaf))
                if leaf.kind == L.MEMBER and number in archives:
                    owners.add(j)
                    out[j] = []
        return out

    def build(
        self, files: Files
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bytes, dict[str, Any]]:
        r = self.request
        decision: dict[int, str] = {}
        members: dict[int, dict[str, str]] = {}  # archive -> {member path: treatment}
        for option, paths, kind in (
            ("--withhold", r.withhold, "withhold"),
            ("--strip-metadata", r.strip, P.STRIPPED),
            ("--redact-messages", tuple(r.redact), P.REDACTED),
            ("--derived", tuple(r.derived), P.DERIVED),
            ("--reveal", r.reveal, P.INTACT),
        ):
            for path in paths:
                if path not in self.by_path and self._archive_of(path) is not None:
                    self._member_decision(members, path, option, kind)
                    continue
                i = self._index(path, option)
                if i in decision and decision[i] != kind:
                    raise InputError(f"{option}: already given another treatment", path=path)
                decision[i] = kind
        for path in r.as_members:
            members.setdefault(self._index(path, "--scope"), {})
        for z in members:
            if z in decision:
                raise InputError(
                    "the archive is given a treatment and so are its members: choose one",
                    path=self.file_fields[z][0],
                )
            decision[z] = MEMBERS
        for path in r.withhold_fields:
            inside = self._archive_of(path) if path not in self.by_path else None
            if inside is not None:
                z = inside
                if members.get(z, {}).get(path, P.INTACT) != P.INTACT or z not in members:
                    raise InputError(
                        "--withhold-field applies to a member disclosed intact (the archive "
                        "is disclosed as its members only when one of them is withheld, "
                        "stripped or redacted)",
                        path=path,
                    )
                continue
            if decision.get(self._index(path, "--withhold-field"), P.INTACT) != P.INTACT:
                raise InputError("--withhold-field applies to a file disclosed intact", path=path)
        if r.reveal:
            for i in range(self.files):
                decision.setdefault(i, "withhold-supplement")
        disclosed = {i for i in range(self.files) if decision.get(i, P.INTACT) != "withhold"}
        disclosed -= {i for i, d in decision.items() if d == "withhold-supplement"}
        extras = self._extras(
            {i for i in disclosed if decision.get(i, P.INTACT) != P.DERIVED}, set(members)
        )
        # What would identify an item not disclosed intact: a field of another file
        # that names it (a chat's attachment by SHA-256, an e-mail's by name) is
        # withheld with it, or the hash would confirm a guess of the withheld file.
        self.protected: set[str] = set()
        for i in range(self.files):
            if decision.get(i, P.INTACT) != P.INTACT:
                path, sha256 = self.file_fields[i]
                self.protected.update((sha256, path[5:], path.rsplit("/", 1)[-1]))
        for z, chosen in members.items():
            for _, leaf in extras[z]:
                mpath = str(leaf.get("path"))
                if leaf.kind == L.MEMBER and chosen.get(mpath, P.INTACT) != P.INTACT:
                    self.protected.update(
                        (str(leaf.get("sha256")), mpath[5:], mpath.rsplit("/", 1)[-1])
                    )
        shown: set[int] = set()
        items: list[dict[str, Any]] = []
        withheld: list[dict[str, Any]] = []
        summary: dict[str, Any] = {
            "committed": self.files,
            "disclosed": 0,
            "stripped": 0,
            "messages_redacted": [],
            "derived": [],
            "withheld": 0,
            "withheld_by_basis": {},
            "archives": [],
        }
        for i in range(self.files):
            kind = decision.get(i, P.INTACT)
            path = self.file_fields[i][0]
            if kind in ("withhold", "withhold-supplement"):
                why = r.basis_of(f"withhold:{path}") if kind == "withhold" else OUTSIDE_SUPPLEMENT
                withheld.append({"leaf": i, "basis": why})
                summary["withheld"] += 1
                summary["withheld_by_basis"][why] = summary["withheld_by_basis"].get(why, 0) + 1
                continue
            if kind == MEMBERS:
                items.extend(self._members(i, path, extras, files, shown, members[i], summary))
            elif kind == P.INTACT:
                items.append(self._intact(i, path, extras[i], files, shown))
                summary["disclosed"] += 1
            elif kind == P.STRIPPED:
                items.append(self._cut(i, path, extras[i], files, shown, None))
                summary["stripped"] += 1
            elif kind == P.REDACTED:
                item = self._cut(i, path, extras[i], files, shown, r.redact[path])
                items.append(item)
                summary["messages_redacted"].append(
                    {"path": path, "redacted": len(item["redacted"]), "of": item["messages"]}
                )
            else:
                d = r.derived[path]
                try:
                    digest, size = hash_file(d.file)
                except OSError as e:
                    raise InputError("cannot read the derived file", path=str(d.file)) from e
                files[path] = Copy(digest, size, source=d.file)
                items.append(
                    {
                        "treatment": P.DERIVED,
                        "path": path,
                        "file": i,
                        "method": d.method,
                        "basis": r.basis_of(f"derived:{path}"),
                        "sha256": digest,
                        "size": size,
                    }
                )
                summary["derived"].append({"path": path, "method": d.method})
        if self.note_leaf is not None:
            self.note_state = {"leaf": self.note_leaf, "disclosed": r.disclose_note}
            if r.disclose_note:
                shown.add(int(self.note_leaf))
        elif r.disclose_note:
            raise InputError("--disclose-note: the bundle has no officer's note")
        leaves_file = b"".join(
            P.leaves_line(j, self.lines[j], self.tree.proof(j)) for j in sorted(shown)
        )
        return items, compress_withheld(withheld), leaves_file, summary

    def _fields(
        self, i: int, extras: list[tuple[int, L.Leaf]], shown: set[int], path: str
    ) -> tuple[list[int], list[dict[str, Any]]]:
        names = set(self.request.withhold_fields.get(path, ()))
        known = {leaf.get("name") for _, leaf in extras if leaf.kind == L.FIELD}
        if names and any(
            leaf.kind == L.LAYOUT and any(r == L.METADATA for _, r in L.layout_parts(leaf))
            for _, leaf in extras
        ):
            self.notes.append(
                f"{path[5:]} is disclosed intact: its own bytes still carry the metadata "
                "withheld from its record; --strip-metadata removes it from the copy"
            )
        for name in names - known:
            raise InputError(f"--withhold-field: no field '{name}' was committed", path=path)
        fields, withheld = [], []
        for j, leaf in extras:
            if leaf.kind != L.FIELD:
                continue
            name = leaf.get("name")
            why = name if name in names else repeats_which(leaf.get("value"), names)
            if why is not None:
                withheld.append({"leaf": j, "basis": self.request.basis_of(f"field:{path}:{why}")})
            elif names_any(leaf.get("value"), self.protected):
                withheld.append({"leaf": j, "basis": NAMES_WITHHELD})
                if not any(w["basis"] == NAMES_WITHHELD for w in withheld[:-1]):
                    # The record's field is withheld, but the file itself (an e-mail's
                    # attachment, a chat's media list) still holds or names the item.
                    self.notes.append(
                        f"{path[5:]} is disclosed intact, but its own bytes hold or name an "
                        "item not disclosed intact (its record's field is withheld): redact "
                        "that part (--redact-messages) or withhold the file"
                    )
            else:
                fields.append(j)
                shown.add(j)
        return fields, withheld

    def _intact(
        self,
        i: int,
        path: str,
        extras: list[tuple[int, L.Leaf]],
        files: Files,
        shown: set[int],
    ) -> dict[str, Any]:
        leaf = self.file_leaf(i)
        files[path] = Copy(
            str(leaf.get("sha256")), int(leaf.get("size")), source=self.bundle / path
        )
        shown.add(i)
        fields, withheld_fields = self._fields(i, extras, shown, path)
        return {
            "treatment": P.INTACT,
            "path": path,
            "leaf": i,
            "fields": fields,
            "withheld_fields": withheld_fields,
        }

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
    ) -> dict[str, Any]:
        option = "--strip-metadata" if redact is None else "--redact-messages"
        layout_at = next(((j, leaf) for j, leaf in extras if leaf.kind == L.LAYOUT), None)
        if layout_at is None:
            raise InputError(
                f"{option}: custody committed no parts for this file "
                "(only JPEG, PNG, MP4/MOV, e-mail, mbox and chat exports are split)",
                path=path,
            )
        j_layout, layout_leaf = layout_at
        fmt = layout_leaf.get("format")
        if (redact is None) != (fmt not in ("chat", "email", "mbox")):
            wanted = "chat, e-mail or mbox" if redact is not None else "JPEG, PNG, MP4 or MOV"
            raise InputError(f"{option}: not a {wanted}", path=path)
        roles = [role for _, role in L.layout_parts(layout_leaf)]
        part_leaves = {int(leaf.get("n")): (j, leaf) for j, leaf in extras if leaf.kind == L.PART}
        numbers = message_numbers(roles)
        redacted_parts = set()
        for number in redact or ():
            if number not in numbers:
                raise InputError(
                    f"--redact-messages: the chat has {len(numbers)} messages, no {number}",
                    path=path,
                )
            redacted_parts.add(numbers[number])
        out: list[Piece] = []
        kept, pos = [], 0
        fillers: list[list[int]] = []
        number_of = {v: k for k, v in numbers.items()}
        for n, role in enumerate(roles):
            if n not in part_leaves:
                raise InputError(
                    f"{option}: part {n} was not committed: run custody verify", path=path
                )
            j, leaf = part_leaves[n]
            size = int(leaf.get("size"))
            start, pos = pos, pos + size
            if role == L.METADATA and redact is None:
                if fmt == "isobmff":  # a free box of the same size: no chunk offset moves
                    out.append(Piece(data=free_box(size)))
                    fillers.append([n, size])
                continue
            if n in redacted_parts:
                out.append(Piece(data=redaction_marker(number_of[n])))
                continue
            # Each kept part is checked against its leaf as it is copied (ops/disclosure).
            out.append(Piece(start=start, size=size, sha256=str(leaf.get("sha256"))))
            kept.append(j)
            shown.add(j)
        shown.add(j_layout)
        owner = owner or self.file_leaf(i)
        if pos != owner.get("size"):
            raise InputError(
                "its committed parts do not make up the file: run custody verify", path=path
            )
        source = self.bundle / (archive[0] if archive else str(owner.get("path")))
        files[path] = Copy(
            None,
            sum(p.size or len(p.data or b"") for p in out),
            source=source,
            pieces=tuple(out),
            member=archive[1] if archive else None,
        )
        item: dict[str, Any] = {
            "treatment": P.STRIPPED if redact is None else P.REDACTED,
            "path": path,
            "file": i,
            "layout": j_layout,
            "parts": kept,
        }
        if fmt == "isobmff":
            item["fillers"] = fillers
        if redact is not None:
            item["redacted"] = list(redact)
            item["messages"] = len(numbers)
            item["basis"] = self.request.basis_of(f"redact:{path}")
        return item


def whole_plan(
    bundle: Path,
    statement: dict[str, Any],
    files: Files,
    tag_extra: dict[str, bytes],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], None, dict[str, Any]]:
    """A bundle made before commitments: every file, and the original manifest,
    bag-info and metadata the statement signed by hash."""
    manifest_bytes = (bundle / layout.MANIFEST).read_bytes()
    if sha256_bytes(manifest_bytes) != statement["manifest_sha256"]:
        raise InputError("differs from the signed manifest", path=str(bundle / layout.MANIFEST))
    manifest, errors = layout.parse_manifest(manifest_bytes)
    if errors:
        raise InputError(errors[0].detail, path=str(bundle / layout.MANIFEST))
    items = []
    for path, digest in manifest.items():
        size = (bundle / path).stat().st_size
        files[path] = Copy(digest, size, source=bundle / path)
        items.append({"treatment": P.WHOLE, "path": path})
    for name in (layout.MANIFEST, layout.BAG_INFO, layout.METADATA, "custody/names.json"):
        if (bundle / name).is_file():
            tag_extra[f"{P.ORIGINAL_DIR}/{name.rsplit('/', 1)[-1]}"] = (bundle / name).read_bytes()
    summary = {
        "committed": 0,
        "disclosed": len(items),
        "stripped": 0,
        "messages_redacted": [],
        "derived": [],
        "withheld": 0,
        "withheld_by_basis": {},
        "archives": [],
        "whole": True,
    }
    return items, [], None, summary
