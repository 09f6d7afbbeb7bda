"""Operation: finish a submission. The files the witness sent become a bundle
through the ordinary ingest (byte for byte, signed by the intake key,
recorded in the ledger, timestamped where configured), then the receipt is
signed, timestamped and kept beside the submission.

Runs in its own process (`custody intake finish`), never in the web process:
metadata extraction parses what witnesses sent, with the ingest's limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.base.errors import CustodyError, EnvironmentFailure, InputError
from custody.base.fsutil import environment_error, remove_tree
from custody.base.keys import Signer
from custody.base.signing import sign_bytes
from custody.intake import invitations as inv_mod
from custody.intake.codes import short_code
from custody.intake.receipt import (
    ReceivedFile,
    receipt_file_bytes,
    receipt_payload,
    receipt_signed_bytes,
)
from custody.intake.receipt_page import receipt_html
from custody.io.intake.store import StateDir

SUBMISSION_FILE = "intake-submission.json"
FILES_DIR = "files"
_EXT = re.compile(r"\.([A-Za-z0-9]{1,10})$")


@dataclass(frozen=True)
class FinishResult:
    id: str
    ref: str
    bundle: str
    bundle_id: str
    code: str
    receipt: str
    files: int
    bytes: int
    timestamped: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "bundle": self.bundle,
            "bundle_id": self.bundle_id,
            "code": self.code,
            "receipt": self.receipt,
            "files": self.files,
            "bytes": self.bytes,
            "timestamped": self.timestamped,
        }


def stored_name(number: int, given: str | None) -> str:
    """The name a file gets in the bundle: its number, and the extension of
    the name given when that is plain letters and digits (the name as given
    is recorded in intake-submission.json, never used as a path)."""
    m = _EXT.search(given or "")
    return f"{number:03d}" + (f".{m.group(1).lower()}" if m else "")


def finish_submission(
    *,
    home: Path,
    data: Path,
    submission: str,
    signer: Signer,
    tsa_urls: Sequence[str] = (),
    tsa_timeout: float | None = None,
    on_warning: Callable[[str], None] | None = None,
    now: datetime | None = None,
    state: Any = None,
) -> FinishResult:
    """Ingest submission `submission` (an invitation id) and sign its receipt.
    Idempotent: a finished submission returns its result again. Raises
    InputError (nothing to finish), EnvironmentFailure; a failure is also
    recorded as failed.json so the page can say so. `state`: the shared state
    (io.intake.shared) when the intake runs on several servers."""
    state = state or StateDir(data)
    case = state.case()
    inv = state.invitation(submission)
    if inv is None:
        raise InputError(f"no submission {submission!r}", path=str(data))
    with state.finish_lock(inv.id):
        done = state.marker(inv.id, "result.json")
        if done is not None:
            return _result_from(done)
        failed = state.marker(inv.id, "failed.json")
        if failed is not None:  # another server's finish failed meanwhile: not again
            raise InputError(f"submission {inv.ref!r} failed: {failed.get('message')}")
        finish = state.marker(inv.id, "finish.json")
        if finish is None:
            raise InputError(f"submission {inv.ref!r} was not finished by the witness")
        try:
            return _finish(
                state, inv, case, finish, home, signer, tsa_urls, tsa_timeout, on_warning, now
            )
        except CustodyError as e:
            state.write_marker(inv.id, "failed.json", {"kind": e.kind, "message": e.message})
            raise


def _result_from(doc: dict[str, Any]) -> FinishResult:
    return FinishResult(**{k: doc[k] for k in FinishResult.__dataclass_fields__})


def _finish(
    state: Any,
    inv: inv_mod.Invitation,
    case: str,
    finish: dict[str, Any],
    home: Path,
    signer: Signer,
    tsa_urls: Sequence[str],
    tsa_timeout: float | None,
    on_warning: Callable[[str], None] | None,
    now: datetime | None,
) -> FinishResult:
    from custody.io.tsa_client import request_timestamps
    from custody.ops.actions import IngestRequest, ingest_evidence

    uploads = state.uploads(inv.id)
    if not uploads or not all(u.complete for u in uploads):
        raise InputError(f"submission {inv.ref!r} has no complete files to ingest")
    folder = state.submission(inv.id)
    staging = folder / "staging"
    bundle = state.bundles() / f"{_safe(case)}_{_safe(inv.ref)}_{inv.id[:12]}"
    received = str(finish.get("at") or inv_mod.iso(now or datetime.now(UTC)))
    names = bool(finish.get("names"))
    stored = [stored_name(u.number, u.name) for u in uploads]
    try:
        if not (bundle / "bagit.txt").exists():
            if staging.exists():
                remove_tree(staging)
            (staging / FILES_DIR).mkdir(parents=True, mode=0o700)
            for up, name in zip(uploads, stored, strict=True):
                state.copy_upload(up, staging / FILES_DIR / name)
            record = {
                "format": "custody/intake-submission/v1",
                "case": case,
                "ref": inv.ref,
                "invitation": inv.id,
                "received": received,
                "files": [
                    {
                        "stored_as": f"{FILES_DIR}/{name}",
                        "name_as_given": up.name,
                        "name_bytes_b64": up.name_b64,
                        "sha256": up.sha256,
                        "size": up.length,
                        "upload_started": up.created,
                    }
                    for up, name in zip(uploads, stored, strict=True)
                ],
            }
            (staging / SUBMISSION_FILE).write_bytes(
                (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
            )
            request = IngestRequest(
                source=staging,
                case=case,
                exhibit=inv.ref,
                out=bundle,
                note=f"Received through the witness web intake (submission {inv.id[:12]})",
                tsa_urls=tuple(tsa_urls),
                tsa_timeout=tsa_timeout,
            )
            ingest_evidence(home=home, request=request, signer=signer, on_warning=on_warning)
    except OSError as e:
        raise environment_error(e, staging) from e
    manifest = _manifest(bundle)
    files = []
    for up, name in zip(uploads, stored, strict=True):
        if manifest.get(f"data/{FILES_DIR}/{name}") != up.sha256:
            raise EnvironmentFailure(
                f"the bundle's copy of file {up.number} is not the bytes received",
                path=str(bundle),
            )
        files.append(ReceivedFile(str(up.sha256), up.length, up.name if names else None))
    statement = json.loads((bundle / "custody" / "statement.json").read_bytes())
    proof = json.loads((bundle / "custody" / "ledger-proof.json").read_bytes())
    import hashlib

    payload = receipt_payload(
        case=case,
        submission=inv.id,
        received=received,
        signer_name=signer.name,
        public_key=signer.key.public_key(),
        files=files,
        bundle_id=str(statement["bundle_id"]),
        statement_sha256=hashlib.sha256(
            (bundle / "custody" / "statement.json").read_bytes()
        ).hexdigest(),
        ledger_proof=proof,
    )
    signed = receipt_signed_bytes(payload)
    signature = sign_bytes(signer.key, signed)
    stamp = None
    for attempt in request_timestamps(tsa_urls, signature, timeout=tsa_timeout):
        if attempt.reply is not None and stamp is None:
            stamp = attempt.reply
        elif attempt.reply is None and on_warning is not None:
            on_warning(attempt.warning())
    code = short_code(signed)
    try:
        receipt = state.write_file(
            inv.id,
            "receipt.json",
            receipt_file_bytes(signed=signed, signature=signature, timestamp=stamp),
        )
        state.write_file(
            inv.id,
            "receipt.html",
            receipt_html(payload, code=code, signed=signed, signature=signature),
        )
        result = FinishResult(
            id=inv.id,
            ref=inv.ref,
            bundle=str(bundle),
            bundle_id=str(statement["bundle_id"]),
            code=code,
            receipt=str(receipt),
            files=len(files),
            bytes=sum(f.size for f in files),
            timestamped=stamp is not None,
        )
        state.write_marker(inv.id, "result.json", result.to_json())
        # The bundle holds the evidence now: the upload buffers go.
        if staging.exists():
            remove_tree(staging)
        for up in uploads:
            state.drop_upload(up)
    except OSError as e:
        raise environment_error(e, state.submission(inv.id)) from e
    return result


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40] or "x"


def _manifest(bundle: Path) -> dict[str, str]:
    out = {}
    for line in (bundle / "manifest-sha256.txt").read_text("utf-8").splitlines():
        digest, _, path = line.partition("  ")
        out[path] = digest.lower()
    return out
