"""custody disclose: a package of some of a bundle's items, checkable against
the bundle's original signature, with everything else withheld.

Nothing is signed that was not checked: the statement's signature, the
commitments against its root, and every disclosed file against its leaf."""

from __future__ import annotations

import hashlib
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..bundle import layout
from ..bundle.statement import StatementError, parse_statement
from ..errors import CustodyError, InputError
from ..fsutil import environment_error, fsync_dir, rename_noreplace, temporary_directory_beside
from ..hashing import sha256_bytes
from ..keys import Signer, parse_public_key_file, public_key_file_bytes
from ..ledger.merkle import leaf_hash
from ..signing import sign_bytes, signature_is_valid
from . import leaves as L
from . import package as P
from .parts import free_box, message_numbers, redaction_marker
from .request import DisclosureRequest
from .tree import CommitmentTree

if TYPE_CHECKING:
    from ..ledger.store import Ledger

OUTSIDE_SUPPLEMENT = "outside this supplement"
NAMES_WITHHELD = "names an item not disclosed intact"


@dataclass(frozen=True)
class DisclosureResult:
    package: str
    disclosure_id: str
    bundle_id: str
    committed: bool
    record_sha256: str
    ledger_index: int | None
    summary: dict[str, Any]
    zip: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "zip": self.zip,
            "disclosure_id": self.disclosure_id,
            "bundle_id": self.bundle_id,
            "committed": self.committed,
            "record_sha256": self.record_sha256,
            "ledger_index": self.ledger_index,
            "disclosure": self.summary,
            "notes": list(self.notes),
        }


def disclose_bundle(
    *,
    bundle: Path,
    out: Path,
    request: DisclosureRequest,
    signer: Signer,
    ledger: Ledger | None = None,
    make_zip: bool = False,
    now: datetime | None = None,
) -> DisclosureResult:
    """Write the disclosure package `out` (and `out`.zip with `make_zip`).
    Raises InputError for a bundle or request that cannot be disclosed (one
    line naming what), EnvironmentFailure when the disk fails. Nothing is left
    on failure."""
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if not bundle.is_dir() or not (bundle / layout.STATEMENT).is_file():
        raise InputError("not a bundle folder (disclose reads a bundle folder)", path=str(bundle))
    if os.path.lexists(out):
        raise InputError("already exists; nothing was replaced", path=str(out))
    stmt = (bundle / layout.STATEMENT).read_bytes()
    sig = (bundle / layout.SIGNATURE).read_bytes()
    pub = (bundle / layout.SIGNER_KEY).read_bytes()
    try:
        statement = parse_statement(stmt)
    except StatementError as e:
        raise InputError(f"bad statement: {e}", path=str(bundle / layout.STATEMENT)) from e
    key = parse_public_key_file(pub).public_key
    from ..keys import fingerprint_of

    if fingerprint_of(key) != statement["key_fingerprint"] or not signature_is_valid(
        key, sig, stmt
    ):
        raise InputError(
            "the statement's signature does not verify: run custody verify", path=str(bundle)
        )
    if request.basis is None and (
        request.withhold or request.redact or request.derived or request.withhold_fields
    ):
        raise InputError("give --basis: the ground for withholding or redacting")
    commitments = statement.get("commitments")
    files: dict[str, tuple[bytes, Path]] = {}
    tag_extra: dict[str, bytes] = {}
    notes: list[str] = []
    if not isinstance(commitments, dict):
        if request.partial or request.disclose_note:
            raise InputError(
                "made before commitments existed: only whole-bundle disclosure is possible "
                "(no --withhold, --strip-metadata, --redact-messages, --derived, "
                "--withhold-field, --reveal or --disclose-note)",
                path=str(bundle),
            )
        notes.append("made before commitments existed: disclosed whole, as the record states")
        record_items, withheld, leaves_file, summary = _whole(bundle, statement, files, tag_extra)
        note_state: dict[str, Any] | None = None
    else:
        plan = _Plan(bundle, statement, commitments, request)
        record_items, withheld, leaves_file, summary = plan.build(files)
        note_state = plan.note_state
    disclosure_id = str(uuid.uuid4())
    manifest = layout.format_manifest(
        (path, hashlib.sha256(data).hexdigest()) for path, (data, _) in files.items()
    )
    record: dict[str, Any] = {
        "format": P.RECORD_FORMAT,
        "disclosure_id": disclosure_id,
        "bundle_id": statement["bundle_id"],
        "statement_sha256": sha256_bytes(stmt),
        "committed": isinstance(commitments, dict),
        "to": request.to,
        "officer": signer.name,
        "key_fingerprint": signer.fingerprint,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": f"custody {__version__}",
        "manifest_sha256": sha256_bytes(manifest),
        "leaves_sha256": sha256_bytes(leaves_file) if leaves_file is not None else None,
        "items": record_items,
        "withheld": withheld,
        "note": note_state,
        "supplement_to": request.supplement_to,
    }
    rec = P.record_bytes(record)
    tags: dict[str, bytes] = {
        layout.BAGIT_TXT: layout.BAGIT_TXT_BYTES,
        layout.STATEMENT: stmt,
        layout.SIGNATURE: sig,
        layout.SIGNER_KEY: pub,
        P.RECORD: rec,
        P.RECORD_SIG: sign_bytes(signer.key, rec),
        P.DISCLOSER_KEY: public_key_file_bytes(signer.name, signer.key.public_key()),
        **tag_extra,
    }
    if leaves_file is not None:
        tags[P.LEAVES] = leaves_file
    total = sum(len(d) for d, _ in files.values())
    tags[layout.BAG_INFO] = layout.format_bag_info(
        [
            ("Custody-Case-Id", str(statement["case"])),
            ("Custody-Disclosure-Id", disclosure_id),
            ("Custody-Disclosed-By", signer.name),
            ("Bagging-Date", created.strftime("%Y-%m-%d")),
            ("Bag-Software-Agent", f"custody {__version__}"),
            ("Payload-Oxum", f"{total}.{len(files)}"),
        ]
    )
    ledger_index = None
    if ledger is not None:
        from ..ledger.proof import proof_file_bytes

        appended = ledger.append(
            action="disclose",
            subject={
                "disclosure_id": disclosure_id,
                "bundle_id": statement["bundle_id"],
                "statement_sha256": sha256_bytes(stmt),
                "record_sha256": sha256_bytes(rec),
            },
            signer=signer.key,
            signer_name=signer.name,
            time=record["created"],
        )
        ledger_index = appended.index
        tags[P.LEDGER_PROOF] = proof_file_bytes(appended)
    tag_manifest = layout.format_manifest(
        [(name, sha256_bytes(data)) for name, data in tags.items()]
        + [(layout.MANIFEST, sha256_bytes(manifest))]
    )
    zip_path = out.with_name(out.name + ".zip") if make_zip else None
    if zip_path is not None and os.path.lexists(zip_path):
        raise InputError("already exists; nothing was replaced", path=str(zip_path))
    everything = {
        **{p: d for p, (d, _) in files.items()},
        **tags,
        layout.MANIFEST: manifest,
        layout.TAG_MANIFEST: tag_manifest,
    }
    try:
        _write_folder(out, everything)
        if zip_path is not None:
            _write_zip(zip_path, out.name, everything)
    except CustodyError:
        raise
    except OSError as e:
        raise environment_error(e, e.filename or out) from e
    return DisclosureResult(
        package=str(out),
        disclosure_id=disclosure_id,
        bundle_id=str(statement["bundle_id"]),
        committed=isinstance(commitments, dict),
        record_sha256=sha256_bytes(rec),
        ledger_index=ledger_index,
        summary=summary,
        zip=str(zip_path) if zip_path is not None else None,
        notes=tuple(notes),
    )


class _Plan:
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
        self.by_path: dict[str, int] = {}
        self.file_leaf: list[L.Leaf] = []
        for i in range(self.files):
            leaf = L.parse_leaf(lines[i])
            self.file_leaf.append(leaf)
            self.by_path[str(leaf.get("path"))] = i
        self.note_state: dict[str, Any] | None = None

    def _index(self, path: str, option: str) -> int:
        if path not in self.by_path:
            raise InputError(f"{option}: no such file in the bundle", path=path)
        return self.by_path[path]

    def _extras(self, wanted: set[int]) -> dict[int, list[tuple[int, L.Leaf]]]:
        """The field, layout and part leaves of the files in `wanted`."""
        out: dict[int, list[tuple[int, L.Leaf]]] = {i: [] for i in wanted}
        for j in range(self.files, len(self.lines)):
            line = self.lines[j]
            if not line.startswith(b'{"file":'):
                continue
            number = int(line[8 : line.index(b",", 8)])
            if number in wanted:
                out[number].append((j, L.parse_leaf(line)))
        return out

    def build(
        self, files: dict[str, tuple[bytes, Path]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bytes, dict[str, Any]]:
        r = self.request
        basis = r.basis or ""
        decision: dict[int, str] = {}
        for option, paths, kind in (
            ("--withhold", r.withhold, "withhold"),
            ("--strip-metadata", r.strip, P.STRIPPED),
            ("--redact-messages", tuple(r.redact), P.REDACTED),
            ("--derived", tuple(r.derived), P.DERIVED),
            ("--reveal", r.reveal, P.INTACT),
        ):
            for path in paths:
                i = self._index(path, option)
                if i in decision and decision[i] != kind:
                    raise InputError(f"{option}: already given another treatment", path=path)
                decision[i] = kind
        for path in r.withhold_fields:
            if decision.get(self._index(path, "--withhold-field"), P.INTACT) != P.INTACT:
                raise InputError("--withhold-field applies to a file disclosed intact", path=path)
        if r.reveal:
            for i in range(self.files):
                decision.setdefault(i, "withhold-supplement")
        disclosed = {i for i in range(self.files) if decision.get(i, P.INTACT) != "withhold"}
        disclosed -= {i for i, d in decision.items() if d == "withhold-supplement"}
        extras = self._extras({i for i in disclosed if decision.get(i, P.INTACT) != P.DERIVED})
        # What would identify an item not disclosed intact: a field of another file
        # that names it (a chat's attachment by SHA-256, an e-mail's by name) is
        # withheld with it, or the hash would confirm a guess of the withheld file.
        self.protected: set[str] = set()
        for i in range(self.files):
            if decision.get(i, P.INTACT) != P.INTACT:
                leaf = self.file_leaf[i]
                path = str(leaf.get("path"))
                self.protected.update((str(leaf.get("sha256")), path[5:], path.rsplit("/", 1)[-1]))
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
        }
        for i in range(self.files):
            kind = decision.get(i, P.INTACT)
            path = str(self.file_leaf[i].get("path"))
            if kind in ("withhold", "withhold-supplement"):
                why = basis if kind == "withhold" else OUTSIDE_SUPPLEMENT
                withheld.append({"leaf": i, "basis": why})
                summary["withheld"] += 1
                summary["withheld_by_basis"][why] = summary["withheld_by_basis"].get(why, 0) + 1
                continue
            original = self.bundle / path
            data = original.read_bytes()
            leaf = self.file_leaf[i]
            if hashlib.sha256(data).hexdigest() != leaf.get("sha256"):
                raise InputError(
                    "differs from its committed SHA-256: run custody verify", path=str(original)
                )
            if kind == P.INTACT:
                items.append(self._intact(i, path, data, extras[i], files, shown))
                summary["disclosed"] += 1
            elif kind == P.STRIPPED:
                items.append(self._cut(i, path, data, extras[i], files, shown, None))
                summary["stripped"] += 1
            elif kind == P.REDACTED:
                item = self._cut(i, path, data, extras[i], files, shown, r.redact[path])
                items.append(item)
                summary["messages_redacted"].append(
                    {"path": path, "redacted": len(item["redacted"]), "of": item["messages"]}
                )
            else:
                d = r.derived[path]
                try:
                    copy = d.file.read_bytes()
                except OSError as e:
                    raise InputError("cannot read the derived file", path=str(d.file)) from e
                files[path] = (copy, d.file)
                items.append(
                    {
                        "treatment": P.DERIVED,
                        "path": path,
                        "file": i,
                        "method": d.method,
                        "basis": basis,
                        "sha256": hashlib.sha256(copy).hexdigest(),
                        "size": len(copy),
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
        for name in names - known:
            raise InputError(f"--withhold-field: no field '{name}' was committed", path=path)
        fields, withheld = [], []
        for j, leaf in extras:
            if leaf.kind != L.FIELD:
                continue
            if leaf.get("name") in names:
                withheld.append({"leaf": j, "basis": self.request.basis or ""})
            elif _names_any(leaf.get("value"), self.protected):
                withheld.append({"leaf": j, "basis": NAMES_WITHHELD})
            else:
                fields.append(j)
                shown.add(j)
        return fields, withheld

    def _intact(
        self,
        i: int,
        path: str,
        data: bytes,
        extras: list[tuple[int, L.Leaf]],
        files: dict[str, tuple[bytes, Path]],
        shown: set[int],
    ) -> dict[str, Any]:
        files[path] = (data, self.bundle / path)
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
        data: bytes,
        extras: list[tuple[int, L.Leaf]],
        files: dict[str, tuple[bytes, Path]],
        shown: set[int],
        redact: tuple[int, ...] | None,
    ) -> dict[str, Any]:
        option = "--strip-metadata" if redact is None else "--redact-messages"
        layout_at = next(((j, leaf) for j, leaf in extras if leaf.kind == L.LAYOUT), None)
        if layout_at is None:
            raise InputError(
                f"{option}: custody committed no parts for this file "
                "(only JPEG, PNG, MP4/MOV and chat exports are split)",
                path=path,
            )
        j_layout, layout_leaf = layout_at
        fmt = layout_leaf.get("format")
        if (redact is None) != (fmt != "chat"):
            wanted = "chat export" if redact is not None else "JPEG, PNG, MP4 or MOV"
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
        out, kept, pos = [], [], 0
        fillers: list[list[int]] = []
        number_of = {v: k for k, v in numbers.items()}
        for n, role in enumerate(roles):
            j, leaf = part_leaves[n]
            size = int(leaf.get("size"))
            chunk = data[pos : pos + size]
            pos += size
            if hashlib.sha256(chunk).hexdigest() != leaf.get("sha256"):
                raise InputError("a part differs from its commitment", path=path)
            if role == L.METADATA and redact is None:
                if fmt == "isobmff":  # a free box of the same size: no chunk offset moves
                    out.append(free_box(size))
                    fillers.append([n, size])
                continue
            if n in redacted_parts:
                out.append(redaction_marker(number_of[n]))
                continue
            out.append(chunk)
            kept.append(j)
            shown.add(j)
        shown.add(j_layout)
        files[path] = (b"".join(out), self.bundle / path)
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
            item["basis"] = self.request.basis or ""
        return item


def _names_any(value: Any, protected: set[str]) -> bool:
    """Whether a metadata value holds, as a whole string (or the last part of a
    path), a SHA-256, path or name in `protected`."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if v in protected or v.rsplit("/", 1)[-1] in protected:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def compress_withheld(withheld: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{leaf, basis}] as the record writes it: per basis, runs of leaf indices
    [first, last], so that withholding 100,000 files costs a few bytes."""
    by_basis: dict[str, list[int]] = {}
    for w in withheld:
        by_basis.setdefault(w["basis"], []).append(w["leaf"])
    out = []
    for basis in sorted(by_basis):
        runs: list[list[int]] = []
        for i in sorted(by_basis[basis]):
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        out.append({"basis": basis, "leaves": runs})
    return out


def _whole(
    bundle: Path,
    statement: dict[str, Any],
    files: dict[str, tuple[bytes, Path]],
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
        data = (bundle / path).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise InputError("differs from the manifest: run custody verify", path=path)
        files[path] = (data, bundle / path)
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
        "whole": True,
    }
    return items, [], None, summary


def _write_folder(out: Path, everything: dict[str, bytes]) -> None:
    with temporary_directory_beside(out) as tmp:
        for name, data in everything.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as f:
                f.write(data)
                os.fsync(f.fileno())
        os.chmod(tmp, 0o755)
        try:
            rename_noreplace(tmp, out)
        except FileExistsError as e:
            raise InputError("already exists; nothing was replaced", path=str(out)) from e
        fsync_dir(out.parent)


def _write_zip(path: Path, top: str, everything: dict[str, bytes]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with zipfile.ZipFile(tmp, "x", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(everything):
                info = zipfile.ZipInfo(f"{top}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, everything[name])
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        rename_noreplace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def disclose_with_home(
    *,
    home: Path,
    bundle: Path,
    out: Path,
    request: DisclosureRequest,
    signer: Signer,
    make_zip: bool = False,
) -> DisclosureResult:
    """disclose_bundle with the disclosure recorded in the ledger under `home`."""
    from ..ledger.store import Ledger

    with Ledger.open(home) as ledger:
        ledger.ensure_intact()
        return disclose_bundle(
            bundle=bundle,
            out=out,
            request=request,
            signer=signer,
            ledger=ledger,
            make_zip=make_zip,
        )
