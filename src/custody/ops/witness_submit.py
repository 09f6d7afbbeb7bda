"""The log's side: submit a log's latest checkpoint to witnesses and keep the
cosignatures they return with that checkpoint (docs/ledger.md, docs/team.md).

The log is an officer's ledger (`LedgerLog`) or the team log (ops/team_witnessing.py):
anything that offers `WitnessedLog`. A witness that holds a different history
(it refuses with 422, or with 409 naming a size larger than ours or the same
size with another root) is a fork or a rollback: both checkpoints are written
to a file under the log's forks folder ($CUSTODY_HOME/ledger/forks/,
$CUSTODY_HOME/team/forks/) for investigation.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.base.errors import EXIT_ENVIRONMENT, EXIT_NOT_VERIFIED, EXIT_OK, EXIT_USAGE, InputError
from custody.base.fsutil import environment_error, write_new_file
from custody.base.signing import signature_is_valid
from custody.io import witness_client as client
from custody.io.ledger_store import Ledger
from custody.io.witness_logs import LedgerLog, WitnessedLog
from custody.tlog.cosignature import (
    COSIGNATURE_BLOB_LENGTH,
    WitnessKey,
    add_signature_lines,
    parse_signature_lines,
    signed_message,
)
from custody.tlog.note import EM_DASH, Checkpoint, NoteError, checkpoint_signed_by, parse_checkpoint
from custody.witness.protocol import (
    SIZE_CONTENT_TYPE,
    ProtocolError,
    add_checkpoint_body,
    parse_size_response,
)

MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class WitnessOutcome:
    """What one witness did with the checkpoint.

    status: "cosigned", "unavailable" (down or unreachable: try later),
    "refused" (404/403/400...: a configuration problem), "fork" (it holds a
    different history of this ledger)."""

    url: str
    status: str
    message: str
    witness_size: int | None = None
    cosignatures: int = 0
    evidence_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "message": self.message,
            "witness_size": self.witness_size,
            "cosignatures": self.cosignatures,
            "evidence_file": self.evidence_file,
        }


@dataclass(frozen=True)
class WitnessRun:
    """The result of submitting one checkpoint to every witness."""

    origin: str
    size: int
    outcomes: tuple[WitnessOutcome, ...]
    checkpoint: str
    unit: str = "entries"

    @property
    def exit_code(self) -> int:
        states = {o.status for o in self.outcomes}
        if "fork" in states:
            return EXIT_NOT_VERIFIED
        if "unavailable" in states:
            return EXIT_ENVIRONMENT
        if "refused" in states:
            return EXIT_USAGE
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "witnesses": [o.to_json() for o in self.outcomes],
            "checkpoint": self.checkpoint,
        }


def witness_urls(value: str | None) -> tuple[str, ...]:
    """The URLs in $CUSTODY_WITNESS (space-separated). Raises InputError."""
    urls = tuple((value or "").split())
    for url in urls:
        try:
            client.check_url(url)
        except ValueError as e:
            raise InputError(f"CUSTODY_WITNESS: {e}") from e
    return urls


def _verified_lines(
    body: bytes, cp: Checkpoint, known: Sequence[WitnessKey]
) -> tuple[bytes, int, str | None]:
    """The cosignature lines of a 200 response worth keeping: well-formed
    cosignature/v1 lines; one claiming a witness we know that does not verify
    is dropped. Returns (lines, count, complaint)."""
    try:
        lines = parse_signature_lines(body)
    except NoteError as e:
        return b"", 0, f"unreadable answer ({e})"
    kept = []
    complaint = None
    by_id = {(w.name, w.key_id): w for w in known}
    for name, blob in lines:
        if len(blob) != COSIGNATURE_BLOB_LENGTH or name == cp.origin:
            continue
        witness = by_id.get((name, blob[:4]))
        if witness is not None:
            timestamp = struct.unpack(">Q", blob[4:12])[0]
            if not signature_is_valid(
                witness.public_key, blob[12:], signed_message(cp.text, timestamp)
            ):
                complaint = f"a cosignature by {name} does not verify; dropped"
                continue
        kept.append(f"{EM_DASH} {name} {base64.b64encode(blob).decode()}\n".encode())
    return b"".join(kept), len(kept), complaint


def _merger(note: bytes, lines: bytes) -> Callable[[bytes | None], bytes]:
    def merge(stored: bytes | None) -> bytes:
        return add_signature_lines(stored or note, lines)

    return merge


def _same_signer(log: WitnessedLog, cp: Checkpoint, theirs: bytes | None) -> str:
    """Whether the witness's checkpoint is signed by the key that signed ours:
    two such checkpoints that cannot both be true prove the key's holder
    signed two histories."""
    if theirs is None:
        return "unknown (the witness did not give its checkpoint)"
    try:
        other = parse_checkpoint(theirs)
    except NoteError:
        return "unknown (its checkpoint does not parse)"
    key = log.signing_key(cp.size)
    if key is None:
        return "unknown"
    return "yes" if checkpoint_signed_by(other, key) else "no"


def _fork_file(
    log: WitnessedLog,
    url: str,
    ours: bytes,
    theirs: bytes | None,
    why: str,
    held: int | None,
    same_signer: str,
) -> Path:
    """Keep both checkpoints for investigation; returns the file's path."""
    directory = log.forks_dir
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", client.host_of(url)) or "witness"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = (
        f"custody: the witness {url} holds a different history of this {log.noun}\n"
        f"reason: {why}\n"
        f"witness holds size: {held if held is not None else 'unknown'}\n"
        f"both checkpoints signed by the same key: {same_signer}\n\n"
        f"=== this {log.noun}'s checkpoint (submitted) ===\n"
    ).encode() + ours
    text += b"\n=== the checkpoint the witness cosigned before ===\n"
    text += theirs if theirs else b"(the witness did not give it)\n"
    for n in range(1000):
        path = directory / (f"{stamp}-{host}.txt" if n == 0 else f"{stamp}-{host}-{n}.txt")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_new_file(path, text)
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise environment_error(e, path) from e
    raise InputError("too many fork reports this second", path=str(directory))


def _latest(log: WitnessedLog) -> tuple[bytes, Checkpoint] | None:
    note = log.latest_checkpoint()
    try:
        return (note, parse_checkpoint(note)) if note is not None else None
    except NoteError:
        return None


def _submit_one(
    *,
    log: WitnessedLog,
    url: str,
    note: bytes,
    cp: Checkpoint,
    known: Sequence[WitnessKey],
    timeout: float,
) -> WitnessOutcome:
    key = client.check_url(url)  # the size is remembered per witness, however spelled
    hint = log.witness_size(key)
    if hint > cp.size:
        hint = 0  # ask again; a 409 tells us the truth
    why = ""
    held: int | None = None
    for _ in range(MAX_ATTEMPTS):
        proof = log.consistency_proof(hint, cp.size) if 0 < hint < cp.size else []
        try:
            reply = client.add_checkpoint(
                url, add_checkpoint_body(hint, proof, note), timeout=timeout
            )
        except client.WitnessUnavailable as e:
            return WitnessOutcome(url, "unavailable", f"cannot reach the witness ({e})")
        if reply.status == 200:
            lines, count, complaint = _verified_lines(reply.body, cp, known)
            if count == 0:
                return WitnessOutcome(
                    url, "refused", complaint or "the witness answered without a cosignature"
                )
            log.store_cosigned(cp.size, _merger(note, lines))
            log.set_witness_size(key, cp.size)
            return WitnessOutcome(url, "cosigned", complaint or "cosigned", cp.size, count)
        if reply.status == 409:
            try:
                held = parse_size_response(reply.body)
            except ProtocolError:
                return WitnessOutcome(url, "refused", "409 without a readable size")
            if SIZE_CONTENT_TYPE not in reply.content_type:
                return WitnessOutcome(url, "refused", "409 without Content-Type text/x.tlog.size")
            if held > cp.size:
                # Another custody process may have appended and had it cosigned since
                # this checkpoint was read: only a ledger smaller than what the witness
                # saw is a rollback.
                newer = _latest(log)
                if newer is not None and newer[1].size >= held:
                    note, cp = newer
                    hint = held
                    continue
                why = f"it cosigned {held} {log.unit}, this {log.noun} has {cp.size}: rolled back"
                break
            if held == hint:
                why = f"it cosigned another root hash at size {held}"
                break
            hint = held
            continue
        if reply.status == 422:
            why = f"the consistency proof from its size {hint} fails: the history was rewritten"
            held = hint
            break
        text = reply.body[:200].decode("utf-8", "replace").strip()
        meaning = {
            404: f"the witness does not know this {log.noun} (its operator runs "
            f"'custody witness add-log {cp.origin} --key {log.key_file_hint}')",
            403: "the witness does not accept the key that signed this checkpoint",
            400: "the witness rejected the request as malformed",
        }.get(reply.status, f"the witness answered {reply.status}")
        return WitnessOutcome(url, "refused", f"{meaning} ({reply.status}: {text})")
    else:
        return WitnessOutcome(url, "refused", "the witness's size kept changing; try again")
    theirs = None
    try:
        got = client.latest_checkpoint(url, cp.origin, timeout=timeout)
        if got.status == 200:
            theirs = got.body
    except client.WitnessUnavailable:
        pass
    path = _fork_file(log, url, note, theirs, why, held, _same_signer(log, cp, theirs))
    return WitnessOutcome(
        url,
        "fork",
        f"the witness {url} holds a different history of this {log.noun} ({why}); "
        f"both checkpoints kept in {path}",
        held,
        0,
        str(path),
    )


def witness_ledger(
    *,
    home: Path,
    ledger: Ledger,
    urls: Sequence[str],
    known: Sequence[WitnessKey] = (),
    timeout: float = client.TIMEOUT_S,
) -> WitnessRun:
    """Submit the ledger's latest checkpoint to each witness in `urls`."""
    return witness_log(LedgerLog(home, ledger), urls=urls, known=known, timeout=timeout)


def witness_log(
    log: WitnessedLog,
    *,
    urls: Sequence[str],
    known: Sequence[WitnessKey] = (),
    timeout: float = client.TIMEOUT_S,
) -> WitnessRun:
    """Submit the log's latest checkpoint to each witness in `urls`."""
    note = log.latest_checkpoint()
    if note is None:
        raise InputError(f"the {log.noun} has no checkpoint yet", path=log.where)
    try:
        cp = parse_checkpoint(note)
    except NoteError as e:
        raise InputError(f"the {log.noun}'s checkpoint is damaged ({e})", path=log.where) from e
    outcomes = []
    for url in urls:
        try:
            client.check_url(url)
        except ValueError as e:
            outcomes.append(WitnessOutcome(url, "refused", str(e)))
            continue
        outcomes.append(
            _submit_one(log=log, url=url, note=note, cp=cp, known=known, timeout=timeout)
        )
    size = max([cp.size] + [o.witness_size or 0 for o in outcomes if o.status == "cosigned"])
    final = log.cosigned_checkpoint(size) or note
    return WitnessRun(cp.origin, size, tuple(outcomes), final.decode("utf-8"), log.unit)


def warn_about(
    run: WitnessRun, warn: Callable[[str], None], *, later: str = "custody ledger witness"
) -> None:
    """One warning line per witness that did not cosign (automatic witnessing);
    `later` is the command that catches up."""
    for o in run.outcomes:
        if o.status == "fork":
            warn(o.message)
        elif o.status != "cosigned":
            warn(f"witness {o.url}: {o.message}; carrying on (catch up later with '{later}')")
