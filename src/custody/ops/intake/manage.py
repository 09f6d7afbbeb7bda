"""Operations: invite a witness, revoke an invitation, list the folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.base.fsutil import environment_error, replace_file
from custody.intake import invitations as inv_mod
from custody.io.intake.store import StateDir, submission_state


@dataclass(frozen=True)
class InviteResult:
    link: str
    invitation: inv_mod.Invitation
    qr_png: str | None
    qr_svg: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "link": self.link,
            "id": self.invitation.id,
            "ref": self.invitation.ref,
            "case": self.invitation.case,
            "expires": self.invitation.expires,
            "max_bytes": self.invitation.max_bytes,
            "max_files": self.invitation.max_files,
            "opaque": self.invitation.opaque,
            "qr_png": self.qr_png,
            "qr_svg": self.qr_svg,
        }


def invite_witness(
    *,
    data: Path,
    case: str,
    ref: str,
    base_url: str,
    valid_for: timedelta,
    max_bytes: int,
    max_files: int,
    opaque: bool,
    qr_prefix: Path | None,
    now: datetime | None = None,
    state: Any = None,
) -> InviteResult:
    """Make an invitation and its link `base_url/#<token>` (and the link's QR
    code as PNG and SVG at `qr_prefix`.png/.svg). Raises InputError.
    `state`: the shared state (ops.intake.shared.open_state), else DIR's."""
    state = state or StateDir(data)
    state.ensure(case)
    moment = now or datetime.now(UTC)
    if any(i.ref == ref and i.refusal(moment) is None for i in state.invitations()):
        raise InputError(f"an open invitation for {ref!r} exists: revoke it first")
    try:
        token, inv = inv_mod.make_invitation(
            case=case,
            ref=ref,
            now=moment,
            valid_for=valid_for,
            max_bytes=max_bytes,
            max_files=max_files,
            opaque=opaque,
        )
    except ValueError as e:
        raise InputError(str(e)) from e
    if not base_url.startswith(("https://", "http://")):
        raise InputError("--url must be an http:// or https:// address")
    link = base_url.rstrip("/") + "/#" + token
    png = svg = None
    if qr_prefix is not None:
        png, svg = _write_qr(link, qr_prefix)
    state.save_invitation(inv)
    return InviteResult(link, inv, png, svg)


def _write_qr(text: str, prefix: Path) -> tuple[str, str]:
    import io

    import segno

    qr = segno.make(text, error="m")
    out = []
    for kind in ("png", "svg"):
        buf = io.BytesIO()
        qr.save(buf, kind=kind, scale=8 if kind == "png" else 4, border=4)
        path = prefix.with_name(prefix.name + "." + kind)
        try:
            replace_file(path, buf.getvalue(), mode=0o600)
        except OSError as e:
            raise environment_error(e, path) from e
        out.append(str(path))
    return out[0], out[1]


def find_invitation(state: Any, which: str) -> inv_mod.Invitation:
    """By ref (the newest with it), full id, or an id prefix of 8+ characters."""
    invs: list[inv_mod.Invitation] = state.invitations()
    by_ref = [i for i in invs if i.ref == which]
    if by_ref:
        return by_ref[-1]
    by_id = [i for i in invs if len(which) >= 8 and i.id.startswith(which.lower())]
    if len(by_id) == 1:
        return by_id[0]
    raise InputError(f"no invitation {which!r} in this intake folder", path=str(state.root))


@dataclass(frozen=True)
class RevokeResult:
    invitation: inv_mod.Invitation
    already: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.invitation.id,
            "ref": self.invitation.ref,
            "revoked": self.invitation.revoked,
            "already_revoked": self.already,
        }


def revoke_invitation(
    *, data: Path, which: str, now: datetime | None = None, state: Any = None
) -> RevokeResult:
    """Withdraw an invitation: its link uploads nothing more."""
    state = state or StateDir(data)
    state.case()
    inv = find_invitation(state, which)
    if inv.revoked:
        return RevokeResult(inv, True)
    revoked = inv.revoke(now or datetime.now(UTC))
    state.save_invitation(revoked)
    return RevokeResult(revoked, False)


@dataclass(frozen=True)
class SubmissionRow:
    ref: str
    id: str
    state: str
    files: int
    bytes: int
    expires: str
    opaque: bool
    code: str | None
    bundle: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "id": self.id,
            "state": self.state,
            "files": self.files,
            "bytes": self.bytes,
            "expires": self.expires,
            "opaque": self.opaque,
            "code": self.code,
            "bundle": self.bundle,
        }


@dataclass(frozen=True)
class IntakeList:
    case: str
    rows: tuple[SubmissionRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "submissions": [r.to_json() for r in self.rows]}


def list_intake(*, data: Path, now: datetime | None = None, state: Any = None) -> IntakeList:
    """Every invitation with its submission's state, files and bytes."""
    state = state or StateDir(data)
    case = state.case()
    moment = now or datetime.now(UTC)
    rows = []
    for inv in state.invitations():
        uploads = state.uploads(inv.id)
        result = state.marker(inv.id, "result.json") or {}
        rows.append(
            SubmissionRow(
                ref=inv.ref,
                id=inv.id,
                state=submission_state(state, inv, moment, uploads),
                files=len(uploads),
                bytes=sum(u.offset for u in uploads),
                expires=inv.expires,
                opaque=inv.opaque,
                code=result.get("code"),
                bundle=result.get("bundle"),
            )
        )
    return IntakeList(case, tuple(rows))
